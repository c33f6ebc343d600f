//! [`SyncContext`]: what the sync tasks share, and [`SyncError`].

use crate::head::{HeadError, HeadWriter};
use crate::{progress::SyncProgress, validators::Validators};
use hypasis_chain::{Block, bor};
use hypasis_cluster::Events;
use hypasis_store::{BlockStore, ChainHead, StoreError};
use hypasis_upstream::{BlockFetcher, UpstreamError};
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
    /// Who may seal blocks; `None` when not known here (no seal check).
    pub validators: Option<Arc<Validators>>,
    /// The milestone guard, when Heimdall is configured.
    pub milestones: Option<Arc<crate::milestones::MilestoneGuard>>,
}

impl SyncContext {
    /// A context fetching with `fetcher` and writing through `head`, with no seal check and no
    /// milestone guard.
    pub fn new(fetcher: BlockFetcher, head: HeadWriter) -> Self {
        Self { fetcher, store: head.store().clone(), head, validators: None, milestones: None }
    }

    /// Checks seals against `validators`.
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

    /// Checks Bor seals of `blocks` against the validator set (when known). A block sealed by
    /// anyone else was made up by the upstream.
    pub(crate) fn check_seals(&self, blocks: &[Block]) -> Result<(), Unverified> {
        let Some(validators) = &self.validators else { return Ok(()) };
        for block in blocks {
            let number = block.number();
            let signer = bor::recover_signer(&block.header).map_err(|e| Unverified::BadSeal { number, reason: e.to_string() })?;
            if validators.allows(number, &signer) == Some(false) {
                return Err(Unverified::NotAProducer { number, signer });
            }
        }
        Ok(())
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
