//! Bor's producer rotation, as its snapshot keeps it (see docs/design/bor-seal-checks.md): a
//! validator set with voting power and a proposer priority per validator; the proposer of a
//! sprint is the validator with the highest priority after one increment; a signer's expected
//! difficulty follows from its distance to the proposer in address order.
//!
//! This is the arithmetic only; which set applies to which block (sprint ends, anchors) is the
//! caller's.

use crate::bor::Validator;
use alloy_primitives::Address;

/// Most total voting power Bor allows (`i64::MAX / 8`).
pub const MAX_TOTAL_POWER: i64 = i64::MAX / 8;

/// Why a validator list cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProducersError {
    /// No validators.
    #[error("empty validator set")]
    Empty,
    /// An address appears twice.
    #[error("validator {0} listed twice")]
    Duplicate(Address),
    /// Power 0 or above [`MAX_TOTAL_POWER`].
    #[error("validator {address} has power {power}, outside 1..={MAX_TOTAL_POWER}")]
    Power {
        /// The validator.
        address: Address,
        /// Its power.
        power: u64,
    },
    /// The set's total power is above [`MAX_TOTAL_POWER`].
    #[error("total voting power above {MAX_TOTAL_POWER}")]
    TotalPower,
}

/// One producer: address, power and proposer priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Producer {
    /// Signer address.
    pub address: Address,
    /// Voting power.
    pub power: i64,
    /// Proposer priority.
    pub priority: i64,
}

/// A validator set sorted by address, with the current proposer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Producers {
    producers: Vec<Producer>,
    proposer: usize,
}

fn checked(list: &[Validator]) -> Result<Vec<(Address, i64)>, ProducersError> {
    if list.is_empty() {
        return Err(ProducersError::Empty);
    }
    let mut out: Vec<(Address, i64)> = Vec::with_capacity(list.len());
    for v in list {
        if v.power == 0 || v.power > MAX_TOTAL_POWER as u64 {
            return Err(ProducersError::Power { address: v.address, power: v.power });
        }
        out.push((v.address, v.power as i64));
    }
    out.sort_by_key(|(a, _)| *a);
    if let Some(w) = out.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(ProducersError::Duplicate(w[0].0));
    }
    Ok(out)
}

impl Producers {
    /// The first set of a chain (from its genesis), after the first increment, as Bor's genesis
    /// snapshot.
    ///
    /// # Errors
    /// [`ProducersError`] for an empty list, a duplicate, or a power out of range.
    pub fn genesis(list: &[Validator]) -> Result<Self, ProducersError> {
        let list = checked(list)?;
        let total = list
            .iter()
            .try_fold(0i64, |t, (_, p)| t.checked_add(*p).filter(|t| *t <= MAX_TOTAL_POWER))
            .ok_or(ProducersError::TotalPower)?;
        let start = -(total + (total >> 3));
        let mut set = Self {
            producers: list.into_iter().map(|(address, power)| Producer { address, power, priority: start }).collect(),
            proposer: 0,
        };
        set.rescale_and_center();
        set.increment();
        Ok(set)
    }

    /// Applies the list of a sprint-end header (Bor's update, including its quirk: the power
    /// added for new validators counts only them, on top of the old total), then one increment:
    /// the set and proposer of the next sprint.
    ///
    /// # Errors
    /// [`ProducersError`] for an empty list, a duplicate, or a power out of range.
    pub fn next_sprint(&self, list: &[Validator]) -> Result<Self, ProducersError> {
        let list = checked(list)?;
        let old_total = self.total();
        let added: i64 = list.iter().filter(|(a, _)| self.index_of(a).is_none()).map(|(_, p)| *p).sum();
        let basis = old_total.checked_add(added).filter(|u| *u <= MAX_TOTAL_POWER).ok_or(ProducersError::TotalPower)?;
        let start = -(basis + (basis >> 3));
        let producers = list
            .into_iter()
            .map(|(address, power)| {
                let priority = self.index_of(&address).map_or(start, |i| self.producers[i].priority);
                Producer { address, power, priority }
            })
            .collect();
        let mut set = Self { producers, proposer: 0 };
        if set.producers.iter().try_fold(0i64, |t, p| t.checked_add(p.power).filter(|t| *t <= MAX_TOTAL_POWER)).is_none() {
            return Err(ProducersError::TotalPower);
        }
        set.rescale_and_center();
        set.increment();
        Ok(set)
    }

    /// The producers in address order.
    pub fn producers(&self) -> &[Producer] {
        &self.producers
    }

    /// The proposer (in-turn signer) of the sprint.
    pub fn proposer(&self) -> Address {
        self.producers[self.proposer].address
    }

    /// Whether `signer` may seal.
    pub fn contains(&self, signer: &Address) -> bool {
        self.index_of(signer).is_some()
    }

    /// How many places after the proposer `signer` is, in address order (0 = in turn).
    pub fn succession(&self, signer: &Address) -> Option<u64> {
        let n = self.producers.len();
        self.index_of(signer).map(|s| ((s + n - self.proposer) % n) as u64)
    }

    /// The difficulty a block sealed by `signer` must have: the set size minus its succession.
    pub fn expected_difficulty(&self, signer: &Address) -> Option<u64> {
        self.succession(signer).map(|s| self.producers.len() as u64 - s)
    }

    /// The list a sprint-end header must carry for this set (address order).
    pub fn as_validators(&self) -> Vec<Validator> {
        self.producers.iter().map(|p| Validator { address: p.address, power: p.power as u64 }).collect()
    }

    fn index_of(&self, address: &Address) -> Option<usize> {
        self.producers.binary_search_by_key(address, |p| p.address).ok()
    }

    fn total(&self) -> i64 {
        self.producers.iter().map(|p| p.power).sum()
    }

    /// Bor's rescale to a window of twice the total power, then centring on the (floored) mean.
    fn rescale_and_center(&mut self) {
        let window = 2 * self.total();
        let (min, max) = self.producers.iter().fold((i64::MAX, i64::MIN), |(lo, hi), p| (lo.min(p.priority), hi.max(p.priority)));
        let diff = max.saturating_sub(min);
        if diff > window && window > 0 {
            let ratio = (diff + window - 1) / window;
            for p in &mut self.producers {
                p.priority /= ratio;
            }
        }
        let sum: i128 = self.producers.iter().map(|p| i128::from(p.priority)).sum();
        let mean = sum.div_euclid(self.producers.len() as i128) as i64;
        for p in &mut self.producers {
            p.priority = p.priority.saturating_sub(mean);
        }
    }

    /// One round: every priority grows by its power; the highest (smaller address on a tie)
    /// proposes and pays the total power.
    fn increment(&mut self) {
        self.rescale_and_center();
        let total = self.total();
        for p in &mut self.producers {
            p.priority = p.priority.saturating_add(p.power);
        }
        let mut best = 0;
        for (i, p) in self.producers.iter().enumerate() {
            // Address order: on a tie the earlier (smaller) address stays.
            if p.priority > self.producers[best].priority {
                best = i;
            }
        }
        self.producers[best].priority = self.producers[best].priority.saturating_sub(total);
        self.proposer = best;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(byte: u8, power: u64) -> Validator {
        Validator { address: Address::repeat_byte(byte), power }
    }

    /// The proposers of `sprints` sprints in a row with an unchanged list.
    fn proposers(list: &[Validator], sprints: usize) -> Vec<u8> {
        let mut set = Producers::genesis(list).expect("set");
        let mut out = vec![set.proposer()[0]];
        for _ in 1..sprints {
            set = set.next_sprint(list).expect("next");
            out.push(set.proposer()[0]);
        }
        out
    }

    #[test]
    fn equal_powers_alternate_in_address_order() {
        // Worked by hand: priorities start equal, the tie goes to the smaller address.
        assert_eq!(proposers(&[v(2, 1), v(1, 1)], 6), vec![1, 2, 1, 2, 1, 2]);
        assert_eq!(proposers(&[v(7, 10)], 3), vec![7, 7, 7]);
    }

    #[test]
    fn a_triple_power_proposes_three_sprints_in_four() {
        // A(1), B(3), worked by hand: B, A, B, B, and the priorities are back at (0, 0).
        assert_eq!(proposers(&[v(1, 1), v(2, 3)], 8), vec![2, 1, 2, 2, 2, 1, 2, 2]);
    }

    #[test]
    fn difficulty_counts_down_from_the_proposer_in_address_order() {
        let set = Producers::genesis(&[v(1, 1), v(2, 1), v(3, 1)]).expect("set");
        let proposer = set.proposer();
        assert_eq!(proposer, Address::repeat_byte(1));
        assert_eq!(set.expected_difficulty(&Address::repeat_byte(1)), Some(3));
        assert_eq!(set.expected_difficulty(&Address::repeat_byte(2)), Some(2));
        assert_eq!(set.expected_difficulty(&Address::repeat_byte(3)), Some(1));
        assert_eq!(set.expected_difficulty(&Address::repeat_byte(9)), None, "not a producer");
    }

    #[test]
    fn a_new_validator_starts_behind_by_the_old_total_plus_the_newcomers() {
        // Old {A:10, B:10}; the sprint-end lists [A:40, C:30]: the newcomer's start is
        // -(U + U/8) with U = 20 + 30 = 50 (not the new total 70 nor 80).
        let old = Producers::genesis(&[v(0xa, 10), v(0xb, 10)]).expect("set");
        let a_before = old.producers()[0].priority;
        let next = old.next_sprint(&[v(0xa, 40), v(0xc, 30)]).expect("next");
        assert_eq!(next.producers().iter().map(|p| p.address[0]).collect::<Vec<_>>(), vec![0xa, 0xc]);
        // Before the round: A keeps its priority, C gets -56; centred on the mean, then one
        // increment (A +40, C +30) picks A, which pays 70.
        let mean = (i128::from(a_before) + -56).div_euclid(2) as i64;
        let (a, c) = (a_before - mean + 40, -56 - mean + 30);
        assert!(a > c);
        assert_eq!(next.proposer(), Address::repeat_byte(0xa));
        assert_eq!(next.producers()[0].priority, a - 70);
        assert_eq!(next.producers()[1].priority, c);
    }

    #[test]
    fn bad_lists_are_refused() {
        assert_eq!(Producers::genesis(&[]), Err(ProducersError::Empty));
        assert!(matches!(Producers::genesis(&[v(1, 1), v(1, 2)]), Err(ProducersError::Duplicate(_))));
        assert!(matches!(Producers::genesis(&[v(1, 0)]), Err(ProducersError::Power { .. })));
        assert!(matches!(Producers::genesis(&[v(1, u64::MAX)]), Err(ProducersError::Power { .. })));
    }
}
