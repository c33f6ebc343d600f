//! [`SyncContext`]: what the sync tasks share, and [`SyncError`].

use crate::{progress::SyncProgress, validators::Validators};
use hypasis_chain::{Block, bor};
use hypasis_cluster::{Event, Events};
use hypasis_store::{BlockStore, ChainHead, HeadUpdate, StoreError};
use hypasis_upstream::{BlockFetcher, UpstreamError};
use std::sync::Arc;
use tokio::sync::watch;

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
    /// The block store.
    pub store: Arc<dyn BlockStore>,
    /// Served-head announcements to the P2P side.
    pub heads: watch::Sender<Option<ChainHead>>,
    /// Cluster events, when clustered.
    pub events: Option<Events>,
    /// Who may seal blocks; `None` when not known here (no seal check).
    pub validators: Option<Arc<Validators>>,
    /// Progress for `status.sync`.
    pub progress: Arc<SyncProgress>,
    /// The milestone guard, when Heimdall is configured.
    pub milestones: Option<Arc<crate::milestones::MilestoneGuard>>,
}

impl SyncContext {
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

    /// Moves the served head with the leader's fencing token and announces it.
    pub(crate) async fn advance(&self, head: ChainHead, token: u64, stored: u64) -> Result<(), SyncError> {
        if let Some(guard) = &self.milestones {
            guard.check(self, head.number).await?;
        }
        match self.store.advance_head_fenced(head, token).await? {
            HeadUpdate::Fenced => return Err(SyncError::Fenced),
            HeadUpdate::Advanced | HeadUpdate::Stale(_) => {}
        }
        self.progress.stored(stored, head.number);
        metrics::gauge!("hypasis_chain_head_block").set(head.number as f64);
        self.heads.send_replace(Some(head));
        if let Some(events) = &self.events
            && let Err(e) = events.publish(Event::Head { number: head.number, hash: format!("{:#x}", head.hash) }).await
        {
            tracing::debug!(target: "sync", error = %e, "publishing the head failed; followers poll");
        }
        Ok(())
    }
}
