//! [`HistoryStore`]: the block store with sealed segments behind it.
//!
//! Reads go to the inner store (memory, or memory → Redis) first; what it misses and a sealed
//! segment holds is read from the segments. Blocks below the trim floor (sealed, and older than
//! the hot window) go to the segments directly, without a Redis round trip. A request spanning
//! tiers is still one answer. Writes, the head and removals are the inner store's; the held
//! ranges are the inner store's and the sealed segments' together, so backfill never refetches
//! sealed history that Redis no longer holds.

use crate::Segments;
use alloy_primitives::B256;
use hypasis_chain::Block;
use hypasis_store::{BlockStore, ChainHead, HeadUpdate, Parts, RangeSet, StoreError, StoredBlock};
use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

/// The block store with sealed history behind it.
#[derive(Debug)]
pub struct HistoryStore {
    inner: Arc<dyn BlockStore>,
    segments: Arc<Segments>,
    /// Blocks below this number are read from the segments only.
    floor: AtomicU64,
}

fn stored(block: Block, parts: Parts) -> StoredBlock {
    StoredBlock {
        header: block.header,
        total_difficulty: block.total_difficulty,
        body: parts.body.then(|| Arc::new(block.body)),
        receipts: if parts.receipts { block.receipts.map(Arc::new) } else { None },
        state_sync_receipt: if parts.receipts { block.state_sync_receipt.map(Arc::new) } else { None },
    }
}

impl HistoryStore {
    /// `inner` with `segments` behind it.
    pub fn new(inner: Arc<dyn BlockStore>, segments: Arc<Segments>) -> Self {
        Self { inner, segments, floor: AtomicU64::new(0) }
    }

    /// The inner store.
    pub fn inner(&self) -> &Arc<dyn BlockStore> {
        &self.inner
    }

    /// The segments.
    pub fn segments(&self) -> &Arc<Segments> {
        &self.segments
    }

    /// Sets the trim floor: sealed blocks below `floor` are no longer asked of the inner store.
    pub fn set_floor(&self, floor: u64) {
        self.floor.store(floor, Ordering::Relaxed);
    }

    /// The trim floor.
    pub fn floor(&self) -> u64 {
        self.floor.load(Ordering::Relaxed)
    }

    fn cold(&self, number: u64) -> bool {
        number < self.floor() && self.segments.is_sealed(number)
    }

    /// Fills the answers at `positions` (for `numbers`) from the segments.
    async fn fill(&self, out: &mut [Option<StoredBlock>], positions: &[usize], numbers: &[u64], parts: Parts) {
        if positions.is_empty() {
            return;
        }
        let wanted: Vec<u64> = positions.iter().map(|&i| numbers[i]).collect();
        for (&i, block) in positions.iter().zip(self.segments.read(&wanted).await) {
            out[i] = block.map(|b| stored(b, parts));
        }
    }
}

#[async_trait::async_trait]
impl BlockStore for HistoryStore {
    async fn insert(&self, blocks: Vec<Block>) -> Result<(), StoreError> {
        self.inner.insert(blocks).await
    }

    async fn by_numbers(&self, numbers: &[u64], parts: Parts) -> Result<Vec<Option<StoredBlock>>, StoreError> {
        let warm: Vec<usize> = (0..numbers.len()).filter(|&i| !self.cold(numbers[i])).collect();
        let mut out = vec![None; numbers.len()];
        if !warm.is_empty() {
            let asked: Vec<u64> = warm.iter().map(|&i| numbers[i]).collect();
            for (&i, block) in warm.iter().zip(self.inner.by_numbers(&asked, parts).await?) {
                out[i] = block;
            }
        }
        let missing: Vec<usize> = (0..numbers.len()).filter(|&i| out[i].is_none() && self.segments.is_sealed(numbers[i])).collect();
        self.fill(&mut out, &missing, numbers, parts).await;
        Ok(out)
    }

    async fn by_hashes(&self, hashes: &[B256], parts: Parts) -> Result<Vec<Option<StoredBlock>>, StoreError> {
        let mut out = self.inner.by_hashes(hashes, parts).await?;
        let (positions, numbers): (Vec<usize>, Vec<u64>) =
            (0..hashes.len()).filter(|&i| out[i].is_none()).filter_map(|i| Some((i, self.segments.number_of(&hashes[i])?))).unzip();
        if !numbers.is_empty() {
            for (&i, block) in positions.iter().zip(self.segments.read(&numbers).await) {
                // An index names the hash; the block read must be that one (decode checks it too).
                out[i] = block.filter(|b| b.hash() == hashes[i]).map(|b| stored(b, parts));
            }
        }
        Ok(out)
    }

    async fn head(&self) -> Result<Option<ChainHead>, StoreError> {
        self.inner.head().await
    }

    async fn advance_head(&self, head: ChainHead) -> Result<HeadUpdate, StoreError> {
        self.inner.advance_head(head).await
    }

    async fn advance_head_fenced(&self, head: ChainHead, token: u64) -> Result<HeadUpdate, StoreError> {
        self.inner.advance_head_fenced(head, token).await
    }

    async fn held(&self) -> Result<RangeSet, StoreError> {
        let mut held = self.inner.held().await?;
        for meta in self.segments.metas() {
            held.insert(meta.start, meta.end());
        }
        Ok(held)
    }

    async fn remove_range(&self, start: u64, end: u64) -> Result<(), StoreError> {
        self.inner.remove_range(start, end).await
    }
}
