//! [`RangeSet`]: the block ranges a store holds, as disjoint inclusive intervals (the gap
//! tracker's value). Adjacent and overlapping intervals merge on insert.

use serde::{Serialize, Serializer, ser::SerializeSeq};
use std::{collections::BTreeMap, ops::RangeInclusive};

/// Disjoint, non-adjacent inclusive ranges of block numbers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RangeSet {
    /// start → end (inclusive).
    spans: BTreeMap<u64, u64>,
}

impl RangeSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `start..=end`, merging with overlapping and adjacent ranges. Returns how many numbers
    /// were not held before.
    pub fn insert(&mut self, start: u64, end: u64) -> u64 {
        if start > end {
            return 0;
        }
        let (mut lo, mut hi) = (start, end);
        let mut already = 0;
        // Candidates start at or below end + 1; walk down while they reach start - 1.
        let reach = end.saturating_add(1);
        let merged: Vec<(u64, u64)> =
            self.spans.range(..=reach).rev().take_while(|(_, e)| e.saturating_add(1) >= start).map(|(s, e)| (*s, *e)).collect();
        for (s, e) in merged {
            self.spans.remove(&s);
            already += e.min(end).saturating_add(1).saturating_sub(s.max(start));
            lo = lo.min(s);
            hi = hi.max(e);
        }
        self.spans.insert(lo, hi);
        (end - start + 1) - already
    }

    /// Removes `start..=end`, splitting ranges that straddle it. Returns how many numbers were held.
    pub fn remove(&mut self, start: u64, end: u64) -> u64 {
        if start > end {
            return 0;
        }
        let hit: Vec<(u64, u64)> = self.spans.range(..=end).rev().take_while(|(_, e)| **e >= start).map(|(s, e)| (*s, *e)).collect();
        let mut removed = 0;
        for (s, e) in hit {
            self.spans.remove(&s);
            removed += e.min(end) - s.max(start) + 1;
            if s < start {
                self.spans.insert(s, start - 1);
            }
            if e > end {
                self.spans.insert(end + 1, e);
            }
        }
        removed
    }

    /// Whether `n` is held.
    pub fn contains(&self, n: u64) -> bool {
        self.spans.range(..=n).next_back().is_some_and(|(_, e)| *e >= n)
    }

    /// The ranges, lowest first.
    pub fn iter(&self) -> impl Iterator<Item = RangeInclusive<u64>> + '_ {
        self.spans.iter().map(|(s, e)| *s..=*e)
    }

    /// Number of ranges.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Numbers held.
    pub fn count(&self) -> u64 {
        self.spans.iter().map(|(s, e)| e - s + 1).sum()
    }

    /// Lowest number held.
    pub fn lowest(&self) -> Option<u64> {
        self.spans.first_key_value().map(|(s, _)| *s)
    }

    /// Highest number held.
    pub fn highest(&self) -> Option<u64> {
        self.spans.last_key_value().map(|(_, e)| *e)
    }

    /// The missing ranges within `floor..=ceiling`, highest first (the order backward sync
    /// fills them in).
    pub fn gaps(&self, floor: u64, ceiling: u64) -> Vec<RangeInclusive<u64>> {
        let mut gaps = Vec::new();
        if floor > ceiling {
            return gaps;
        }
        // `next`: the lowest number not yet accounted for (None once past u64::MAX).
        let mut next = Some(floor);
        for (s, e) in self.spans.range(..=ceiling) {
            let Some(from) = next else { break };
            if *e < from {
                continue;
            }
            if *s > from {
                gaps.push(from..=s - 1);
            }
            next = e.checked_add(1);
        }
        if let Some(from) = next.filter(|n| *n <= ceiling) {
            gaps.push(from..=ceiling);
        }
        gaps.reverse();
        gaps
    }
}

impl FromIterator<RangeInclusive<u64>> for RangeSet {
    fn from_iter<I: IntoIterator<Item = RangeInclusive<u64>>>(iter: I) -> Self {
        let mut set = Self::new();
        for r in iter {
            set.insert(*r.start(), *r.end());
        }
        set
    }
}

/// Serialises as `[[start, end], ...]`.
impl Serialize for RangeSet {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.spans.len()))?;
        for (s, e) in &self.spans {
            seq.serialize_element(&[*s, *e])?;
        }
        seq.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spans(set: &RangeSet) -> Vec<(u64, u64)> {
        set.iter().map(|r| (*r.start(), *r.end())).collect()
    }

    #[test]
    fn insert_merges_overlapping_and_adjacent() {
        let mut set = RangeSet::new();
        assert_eq!(set.insert(10, 19), 10);
        assert_eq!(set.insert(30, 39), 10);
        assert_eq!(set.insert(20, 20), 1, "adjacent on both sides");
        assert_eq!(spans(&set), vec![(10, 20), (30, 39)]);
        assert_eq!(set.insert(15, 35), 9, "only 21..=29 were new");
        assert_eq!(spans(&set), vec![(10, 39)]);
        assert_eq!(set.insert(12, 13), 0);
        assert_eq!(set.insert(0, 0), 1);
        assert_eq!(set.insert(u64::MAX - 1, u64::MAX), 2);
        assert_eq!(spans(&set), vec![(0, 0), (10, 39), (u64::MAX - 1, u64::MAX)]);
        assert_eq!(set.count(), 1 + 30 + 2);
    }

    #[test]
    fn remove_splits() {
        let mut set: RangeSet = [0..=99, 200..=299].into_iter().collect();
        assert_eq!(set.remove(50, 59), 10);
        assert_eq!(set.remove(90, 210), 21);
        assert_eq!(spans(&set), vec![(0, 49), (60, 89), (211, 299)]);
        assert_eq!(set.remove(1000, 2000), 0);
        assert!(set.contains(0) && set.contains(89) && !set.contains(90) && set.contains(211));
    }

    #[test]
    fn gaps_within_bounds_highest_first() {
        let set: RangeSet = [5..=9, 20..=29, 40..=49].into_iter().collect();
        assert_eq!(set.gaps(0, 60), vec![50..=60, 30..=39, 10..=19, 0..=4]);
        assert_eq!(set.gaps(7, 45), vec![30..=39, 10..=19]);
        assert_eq!(set.gaps(20, 29), Vec::<RangeInclusive<u64>>::new());
        assert_eq!(RangeSet::new().gaps(3, 5), vec![3..=5]);
        assert_eq!(set.gaps(10, 5), Vec::<RangeInclusive<u64>>::new());
    }

    #[test]
    fn agrees_with_a_naive_set() {
        // Deterministic pseudo-random operations checked against a BTreeSet.
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut set = RangeSet::new();
        let mut naive = std::collections::BTreeSet::new();
        for _ in 0..2_000 {
            let a = next() % 500;
            let b = a + next() % 20;
            if next() % 3 == 0 {
                let held = (a..=b).filter(|n| naive.remove(n)).count() as u64;
                assert_eq!(set.remove(a, b), held);
            } else {
                let new = (a..=b).filter(|n| naive.insert(*n)).count() as u64;
                assert_eq!(set.insert(a, b), new);
            }
            assert_eq!(set.count(), naive.len() as u64);
        }
        let rebuilt: std::collections::BTreeSet<u64> = set.iter().flatten().collect();
        assert_eq!(rebuilt, naive);
        let ends: Vec<_> = set.iter().collect();
        assert!(ends.windows(2).all(|w| w[0].end() + 1 < *w[1].start()), "disjoint and not adjacent");
    }
}
