//! Sync progress: how much of the target range is cached and how fast it is filling.

use hypasis_store::StoredRange;
use parking_lot::Mutex;
use serde::Serialize;
use std::{
    collections::VecDeque,
    time::{Duration, Instant},
};

/// Window over which the block rate is measured.
const RATE_WINDOW: Duration = Duration::from_secs(30);
/// Most rate samples kept.
const MAX_SAMPLES: usize = 256;

/// Progress as reported in `status.sync`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SyncStatus {
    /// Lowest block number cached.
    pub lowest: Option<u64>,
    /// Highest block number known upstream.
    pub highest: Option<u64>,
    /// Share of the target range cached, 0–100.
    pub percentage: f64,
    /// Blocks stored per second over the last 30 s.
    pub blocks_per_second: f64,
    /// Seconds until the target range is cached at the current rate; `null` when unknown.
    pub eta_seconds: Option<u64>,
}

/// Shared progress tracker.
#[derive(Debug)]
pub struct SyncProgress {
    inner: Mutex<Inner>,
    capacity: u64,
    floor: u64,
}

#[derive(Debug, Default)]
struct Inner {
    highest: Option<u64>,
    stored_total: u64,
    samples: VecDeque<(Instant, u64)>,
}

impl SyncProgress {
    /// A tracker for a cache that holds at most `capacity` blocks (the newest ones).
    pub fn new(capacity: u64) -> Self {
        Self { inner: Mutex::default(), capacity: capacity.max(1), floor: 0 }
    }

    /// A tracker for a store that keeps everything from block `floor` up (Redis-backed: the
    /// target is the whole retention window, however small the memory tier in front of it).
    pub fn from_floor(floor: u64) -> Self {
        Self { inner: Mutex::default(), capacity: u64::MAX, floor }
    }

    /// Records `count` newly stored blocks and the upstream's highest block.
    pub fn stored(&self, count: u64, highest: u64) {
        self.stored_at(count, highest, Instant::now());
    }

    fn stored_at(&self, count: u64, highest: u64, now: Instant) {
        let mut inner = self.inner.lock();
        inner.stored_total += count;
        inner.highest = Some(inner.highest.map_or(highest, |h| h.max(highest)));
        let total = inner.stored_total;
        inner.samples.push_back((now, total));
        while inner.samples.len() > MAX_SAMPLES || inner.samples.front().is_some_and(|(t, _)| now.duration_since(*t) > RATE_WINDOW) {
            inner.samples.pop_front();
        }
    }

    /// The status given what the store holds.
    pub fn status(&self, range: Option<StoredRange>) -> SyncStatus {
        self.status_at(range, Instant::now())
    }

    fn status_at(&self, range: Option<StoredRange>, now: Instant) -> SyncStatus {
        let inner = self.inner.lock();
        let rate = match (inner.samples.front(), inner.samples.back()) {
            (Some((t0, n0)), Some((_, n1))) if n1 > n0 => {
                let secs = now.duration_since(*t0).as_secs_f64().max(1.0);
                (n1 - n0) as f64 / secs
            }
            _ => 0.0,
        };
        let highest = inner.highest.or(range.map(|r| r.highest));
        let held = range.map_or(0, |r| r.count);
        let target = highest.map_or(0, |h| (h + 1).saturating_sub(self.floor).min(self.capacity));
        let percentage = if target == 0 { 0.0 } else { (held.min(target) as f64 / target as f64 * 100.0 * 100.0).round() / 100.0 };
        let missing = target.saturating_sub(held);
        let eta_seconds = if missing == 0 {
            Some(0)
        } else if rate > 0.0 {
            Some((missing as f64 / rate).ceil() as u64)
        } else {
            None
        };
        SyncStatus { lowest: range.map(|r| r.lowest), highest, percentage, blocks_per_second: (rate * 100.0).round() / 100.0, eta_seconds }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_percentage_and_eta() {
        let p = SyncProgress::new(1_000);
        let t0 = Instant::now();
        p.stored_at(10, 99, t0);
        p.stored_at(20, 99, t0 + Duration::from_secs(10));
        let s = p.status_at(Some(StoredRange { lowest: 0, highest: 29, count: 30 }), t0 + Duration::from_secs(10));
        assert_eq!(s.highest, Some(99));
        assert_eq!(s.percentage, 30.0);
        assert_eq!(s.blocks_per_second, 2.0);
        assert_eq!(s.eta_seconds, Some(35));
    }

    #[test]
    fn a_floor_store_targets_the_whole_window_not_a_cache_size() {
        let p = SyncProgress::from_floor(1_000);
        let t0 = Instant::now();
        p.stored_at(2_000, 20_999, t0);
        let s = p.status_at(Some(StoredRange { lowest: 19_000, highest: 20_999, count: 2_000 }), t0);
        assert_eq!(s.percentage, 10.0, "2,000 of the 20,000 blocks from the floor up");
        let s = p.status_at(Some(StoredRange { lowest: 1_000, highest: 20_999, count: 20_000 }), t0);
        assert_eq!(s.percentage, 100.0);
    }

    #[test]
    fn capacity_bounds_the_target_and_old_samples_expire() {
        let p = SyncProgress::new(10);
        let t0 = Instant::now();
        p.stored_at(5, 1_000, t0);
        p.stored_at(5, 1_000, t0 + Duration::from_secs(60));
        let s = p.status_at(Some(StoredRange { lowest: 991, highest: 1_000, count: 10 }), t0 + Duration::from_secs(60));
        assert_eq!((s.percentage, s.eta_seconds, s.blocks_per_second), (100.0, Some(0), 0.0));
    }
}
