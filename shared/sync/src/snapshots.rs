//! Bor's seal check along the chain: [`SnapshotTracker`] holds the anchor (the set at a known
//! block: the devnet's genesis, a genesis file's validator contract, or `--bor-validators`) and
//! the snapshots after recently checked blocks, and checks new blocks from the snapshot at their
//! parent. A parent it has not seen (a new leader, a restart) is rebuilt by replaying the
//! stored headers down to a known snapshot or the anchor.

use alloy_primitives::B256;
use hypasis_chain::{
    Block, BorSpec, SealedHeader,
    bor_snapshot::{SealError, Snapshot},
};
use hypasis_store::{BlockStore, Parts, StoreError};
use parking_lot::Mutex;
use std::collections::{HashMap, VecDeque};

/// Snapshots remembered (by block hash), newest kept.
const KEPT_SNAPSHOTS: usize = 1024;

/// Why blocks could not be seal-checked.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// A block breaks Bor's rules: whoever sent it made it up.
    #[error(transparent)]
    Rejected(#[from] SealError),
    /// The blocks' parent is neither a checked block nor stored: they cannot be checked.
    #[error("block {0}: its parent is neither checked nor stored here")]
    UnknownParent(u64),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Where the tracker's anchor comes from (for status and logs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnchorInfo {
    /// What supplied the set (`devnet genesis`, `genesis validator contract 0x…`, `--bor-validators`).
    pub source: String,
    /// The anchor block.
    pub number: u64,
    /// How many validators.
    pub validators: usize,
}

/// Bor snapshots from an anchor, checked block by block.
#[derive(Debug)]
pub struct SnapshotTracker {
    spec: BorSpec,
    anchor: Snapshot,
    info: AnchorInfo,
    recent: Mutex<Recent>,
}

#[derive(Debug, Default)]
struct Recent {
    by_hash: HashMap<B256, Snapshot>,
    order: VecDeque<B256>,
}

impl Recent {
    fn remember(&mut self, snapshot: Snapshot) {
        let hash = snapshot.hash();
        if self.by_hash.insert(hash, snapshot).is_none() {
            self.order.push_back(hash);
        }
        while self.order.len() > KEPT_SNAPSHOTS {
            if let Some(old) = self.order.pop_front() {
                self.by_hash.remove(&old);
            }
        }
    }
}

impl SnapshotTracker {
    /// A tracker starting from `anchor`, described by `source`.
    pub fn new(spec: BorSpec, anchor: Snapshot, source: impl Into<String>) -> Self {
        let info = AnchorInfo { source: source.into(), number: anchor.number(), validators: anchor.producers().producers().len() };
        Self { spec, anchor, info, recent: Mutex::new(Recent::default()) }
    }

    /// Where the anchor comes from.
    pub fn anchor(&self) -> &AnchorInfo {
        &self.info
    }

    /// The Bor parameters checked against.
    pub fn spec(&self) -> &BorSpec {
        &self.spec
    }

    /// Checks `blocks` (consecutive) from the snapshot at the first one's parent, remembers the
    /// snapshots after them, and returns how many were checked.
    ///
    /// # Errors
    /// [`SnapshotError::Rejected`] for the first block that breaks a rule; the others when the
    /// parent's snapshot cannot be had.
    pub async fn check(&self, store: &dyn BlockStore, blocks: &[Block]) -> Result<usize, SnapshotError> {
        let Some(first) = blocks.first() else { return Ok(0) };
        let mut at = self.snapshot_at(store, first.number().saturating_sub(1), first.header.parent_hash()).await?;
        let mut after = Vec::with_capacity(blocks.len());
        for block in blocks {
            at = at.apply(&self.spec, &block.header)?;
            after.push(at.clone());
        }
        let mut recent = self.recent.lock();
        for snapshot in after {
            recent.remember(snapshot);
        }
        Ok(blocks.len())
    }

    /// Checks headers from the anchor on (an imported chain file): the snapshot after the last.
    ///
    /// # Errors
    /// The first [`SealError`].
    pub fn check_from_anchor<'a>(&self, headers: impl IntoIterator<Item = &'a SealedHeader>) -> Result<Snapshot, SealError> {
        let mut at = self.anchor.clone();
        for header in headers {
            at = at.apply(&self.spec, header)?;
        }
        // The head's snapshot is the one forward sync continues from.
        self.recent.lock().remember(at.clone());
        Ok(at)
    }

    /// Checks `blocks` (consecutive) when their parent is not known here (the first block of an
    /// empty store, taken at the upstream tip; a backfilled batch): the parent's snapshot follows from the anchor
    /// ([`Snapshot::advanced_to`]) except for its timestamp, so the first block's timing is the
    /// one rule not checked; every other rule and every later block are.
    ///
    /// # Errors
    /// [`SnapshotError::Rejected`] for the first block that breaks a rule.
    pub fn check_detached(&self, blocks: &[Block]) -> Result<usize, SnapshotError> {
        let Some(first) = blocks.first() else { return Ok(0) };
        let parent = first.number().saturating_sub(1);
        if parent < self.anchor.number() {
            return Err(SnapshotError::UnknownParent(first.number()));
        }
        // Not remembered: backfilled batches would crowd out the snapshots near the tip.
        let mut at = self.anchor.advanced_to(&self.spec, parent, first.header.parent_hash(), 0);
        for block in blocks {
            at = at.apply(&self.spec, &block.header)?;
        }
        Ok(blocks.len())
    }

    /// The snapshot after block `number` with hash `hash`: remembered, or computed from the
    /// anchor for the stored header (the set never changes without Heimdall, so the proposer
    /// follows from the number of sprint ends in between; nothing is replayed).
    async fn snapshot_at(&self, store: &dyn BlockStore, number: u64, hash: B256) -> Result<Snapshot, SnapshotError> {
        if let Some(known) = self.known(hash) {
            return Ok(known);
        }
        if number < self.anchor.number() {
            return Err(SnapshotError::UnknownParent(number + 1));
        }
        let stored = store.by_numbers(&[number], Parts::HEADER).await?.into_iter().next().flatten();
        let header = stored.filter(|s| s.header.hash() == hash).ok_or(SnapshotError::UnknownParent(number + 1))?.header;
        let at = self.anchor.advanced_to(&self.spec, number, hash, header.timestamp);
        self.recent.lock().remember(at.clone());
        Ok(at)
    }

    fn known(&self, hash: B256) -> Option<Snapshot> {
        if hash == self.anchor.hash() {
            return Some(self.anchor.clone());
        }
        self.recent.lock().by_hash.get(&hash).cloned()
    }
}
