//! [`SyncContext`]: what the sync tasks share, and [`SyncError`].

use crate::head::{HeadError, HeadWriter};
use crate::snapshots::{SnapshotError, SnapshotTracker};
use crate::{progress::SyncProgress, validators::Validators};
use hypasis_chain::{Block, bor, bor_snapshot::SealError};
use hypasis_cluster::Events;
use hypasis_store::{BlockStore, ChainHead, StoreError};
use hypasis_upstream::{BlockFetcher, Endpoint, UpstreamError};
use std::sync::Arc;

/// Why a sync task stopped or a step failed.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The upstreams failed.
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A newer leader exists: our writes are fenced.
    #[error("a newer leader exists; this instance's head writes are refused")]
    Fenced,
    /// The chain contradicts a Heimdall milestone: the head is held back.
    #[error("milestone conflict: {0}")]
    MilestoneConflict(String),
    /// The block above a fetched batch did not arrive within the claim lease.
    #[error("block {0} (above a fetched batch) did not arrive in time; the batch is dropped and refetched later")]
    LinkTimeout(u64),
    /// The upstream chain does not link to ours within the reorg limit.
    #[error("upstream chain does not link to the stored chain within {0} blocks")]
    DeepReorg(u64),
    /// Blocks cannot be seal-checked yet (the snapshot at their parent is unknown): they are
    /// not stored, and the step is retried.
    #[error("cannot seal-check: {0}")]
    SealUnknown(SnapshotError),
}

/// A fetched block that is not what it claims to be: the upstream that sent it is banned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unverified {
    /// The seal cannot be read or recovered.
    #[error("block {number}: bad seal: {reason}")]
    BadSeal {
        /// Block number.
        number: u64,
        /// Why.
        reason: String,
    },
    /// Sealed by someone who may not seal it.
    #[error("block {number} is sealed by {signer}, not a producer of its span")]
    NotAProducer {
        /// Block number.
        number: u64,
        /// Who sealed it.
        signer: alloy_primitives::Address,
    },
    /// It does not hash-link to the stored block next to it.
    #[error("block {number} does not link to the stored block {stored}")]
    Unlinked {
        /// Block number.
        number: u64,
        /// The stored neighbour.
        stored: u64,
    },
    /// It breaks Bor's seal rules (signer, difficulty, timing, validator list).
    #[error(transparent)]
    Seal(#[from] SealError),
}

impl Unverified {
    /// The `reason` label of `hypasis_blocks_rejected_total`.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::BadSeal { .. } => "bad_seal",
            Self::NotAProducer { .. } => "unauthorized_signer",
            Self::Unlinked { .. } => "unlinked",
            Self::Seal(e) => e.reason(),
        }
    }
}

/// Counts refused blocks in `hypasis_blocks_rejected_total{source, reason}`.
pub fn count_rejected(source: &'static str, reason: &'static str, blocks: u64) {
    metrics::counter!("hypasis_blocks_rejected_total", "source" => source, "reason" => reason).increment(blocks);
}

/// Shared by every sync task.
#[derive(Debug, Clone)]
pub struct SyncContext {
    /// Verified blocks from the upstreams.
    pub fetcher: BlockFetcher,
    /// The block store (the head writer's).
    pub store: Arc<dyn BlockStore>,
    /// Moves the served head.
    pub head: HeadWriter,
    /// Heimdall's spans: who may seal blocks (`None`: no span check).
    pub validators: Option<Arc<Validators>>,
    /// Bor's snapshot rules from an anchor (`None`: no snapshot check).
    pub snapshots: Option<Arc<SnapshotTracker>>,
    /// The milestone guard, when Heimdall is configured.
    pub milestones: Option<Arc<crate::milestones::MilestoneGuard>>,
}

impl SyncContext {
    /// A context fetching with `fetcher` and writing through `head`, with no seal check and no
    /// milestone guard.
    pub fn new(fetcher: BlockFetcher, head: HeadWriter) -> Self {
        Self { fetcher, store: head.store().clone(), head, validators: None, snapshots: None, milestones: None }
    }

    /// Checks every block by Bor's snapshot rules from the tracker's anchor.
    #[must_use]
    pub fn with_snapshots(mut self, snapshots: Option<Arc<SnapshotTracker>>) -> Self {
        self.snapshots = snapshots;
        self
    }

    /// Checks signers against Heimdall's spans.
    #[must_use]
    pub fn with_validators(mut self, validators: Option<Arc<Validators>>) -> Self {
        self.validators = validators;
        self
    }

    /// Holds the head at Heimdall milestones.
    #[must_use]
    pub fn with_milestones(mut self, milestones: Option<Arc<crate::milestones::MilestoneGuard>>) -> Self {
        self.milestones = milestones;
        self
    }

    /// Sync progress.
    pub fn progress(&self) -> &SyncProgress {
        self.head.progress()
    }

    /// Cluster events, when clustered.
    pub fn events(&self) -> Option<&Events> {
        self.head.events()
    }

    /// Checks the Bor seals of `blocks` (consecutive) fetched from `upstream`: by the snapshot
    /// rules when an anchor is known, and against Heimdall's spans when configured. A block that
    /// fails was made up by the upstream, which is banned.
    ///
    /// # Errors
    /// [`SyncError::Upstream`] (bad data) for a refused block, [`SyncError::SealUnknown`] when the
    /// blocks cannot be checked yet, [`SyncError::Store`] when the store fails.
    pub(crate) async fn check_seals(&self, blocks: &[Block], upstream: &Endpoint) -> Result<(), SyncError> {
        if let Some(tracker) = &self.snapshots {
            self.snapshot_outcome(tracker.check(self.store.as_ref(), blocks).await, upstream)?;
        }
        self.check_spans(blocks, upstream)
    }

    /// Counts checked blocks, or turns a snapshot failure into the sync error (banning the
    /// upstream for a refused block).
    fn snapshot_outcome(&self, outcome: Result<usize, SnapshotError>, upstream: &Endpoint) -> Result<(), SyncError> {
        match outcome {
            Ok(checked) => {
                metrics::counter!("hypasis_blocks_seal_checked_total").increment(checked as u64);
                Ok(())
            }
            Err(SnapshotError::Rejected(e)) => Err(self.reject(upstream, e.into())),
            Err(SnapshotError::Store(e)) => Err(SyncError::Store(e)),
            Err(e) => Err(SyncError::SealUnknown(e)),
        }
    }

    /// Checks signers against Heimdall's spans (when configured).
    fn check_spans(&self, blocks: &[Block], upstream: &Endpoint) -> Result<(), SyncError> {
        if let Some(validators) = &self.validators {
            for block in blocks {
                let number = block.number();
                let signer = bor::recover_signer(&block.header).map_err(|e| Unverified::BadSeal { number, reason: e.to_string() });
                let signer = signer.map_err(|e| self.reject(upstream, e))?;
                if validators.allows(number, &signer) == Some(false) {
                    return Err(self.reject(upstream, Unverified::NotAProducer { number, signer }));
                }
            }
        }
        Ok(())
    }

    /// [`SyncContext::check_seals`] for blocks whose parent is not here: the first block of an
    /// empty store, and backfilled batches (see [`SnapshotTracker::check_detached`]).
    ///
    /// # Errors
    /// As [`SyncContext::check_seals`].
    pub(crate) fn check_seals_detached(&self, blocks: &[Block], upstream: &Endpoint) -> Result<(), SyncError> {
        if let Some(tracker) = &self.snapshots {
            self.snapshot_outcome(tracker.check_detached(blocks), upstream)?;
        }
        self.check_spans(blocks, upstream)
    }

    /// Bans `upstream` for sending `unverified`, counts the refusal, and returns the error.
    pub(crate) fn reject(&self, upstream: &Endpoint, unverified: Unverified) -> SyncError {
        let reason = unverified.to_string();
        tracing::warn!(target: "sync", upstream = upstream.name(), %reason, "refused a block; banning the upstream");
        self.fetcher.pool().ban_for(upstream, unverified.reason(), &reason);
        SyncError::Upstream(UpstreamError::BadData { upstream: upstream.name().to_owned(), reason })
    }

    /// Stores blocks (no head change).
    pub(crate) async fn store(&self, blocks: Vec<Block>) -> Result<(), SyncError> {
        let count = blocks.len() as u64;
        self.store.insert(blocks).await?;
        metrics::counter!("hypasis_sync_blocks_stored_total").increment(count);
        Ok(())
    }

    /// Moves the served head with the leader's fencing token (after the milestone check).
    pub(crate) async fn advance(&self, head: ChainHead, token: u64, stored: u64) -> Result<(), SyncError> {
        if let Some(guard) = &self.milestones {
            guard.check(self, head.number).await?;
        }
        self.head.advance(head, token, stored).await.map_err(|e| match e {
            HeadError::Fenced => SyncError::Fenced,
            HeadError::Store(e) => SyncError::Store(e),
        })
    }
}
