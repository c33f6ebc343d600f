//! [`HeadWriter`]: the one place the served head moves. A move is a fenced write (refused when a
//! newer leader exists), the head gauge, the watch the P2P side announces from, progress, and a
//! cluster event for followers, always together.

use crate::progress::SyncProgress;
use hypasis_cluster::{Event, Events};
use hypasis_store::{BlockStore, ChainHead, HeadUpdate, StoreError};
use std::sync::Arc;
use tokio::sync::watch;

/// Why the head did not move.
#[derive(Debug, thiserror::Error)]
pub enum HeadError {
    /// A newer leader holds the lease: our fencing token is stale.
    #[error("a newer leader exists; this instance's head writes are refused")]
    Fenced,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Moves the served head and tells everyone who follows it.
#[derive(Debug, Clone)]
pub struct HeadWriter {
    store: Arc<dyn BlockStore>,
    progress: Arc<SyncProgress>,
    heads: watch::Sender<Option<ChainHead>>,
    events: Option<Events>,
}

impl HeadWriter {
    /// A writer over `store` that announces on `heads`.
    pub fn new(store: Arc<dyn BlockStore>, progress: Arc<SyncProgress>, heads: watch::Sender<Option<ChainHead>>) -> Self {
        Self { store, progress, heads, events: None }
    }

    /// Also publishes every new head as a cluster event.
    #[must_use]
    pub fn with_events(mut self, events: Events) -> Self {
        self.events = Some(events);
        self
    }

    /// The store written to.
    pub fn store(&self) -> &Arc<dyn BlockStore> {
        &self.store
    }

    /// Sync progress.
    pub fn progress(&self) -> &Arc<SyncProgress> {
        &self.progress
    }

    /// Cluster events, when clustered.
    pub fn events(&self) -> Option<&Events> {
        self.events.as_ref()
    }

    /// Moves the head to `head` with the leader's fencing `token`, counting `stored` new blocks,
    /// and announces it. A head not above the stored one is kept as it is (no error).
    ///
    /// # Errors
    /// [`HeadError::Fenced`] when a newer leader exists; [`HeadError::Store`] when the store fails.
    pub async fn advance(&self, head: ChainHead, token: u64, stored: u64) -> Result<(), HeadError> {
        match self.store.advance_head_fenced(head, token).await? {
            HeadUpdate::Fenced => return Err(HeadError::Fenced),
            HeadUpdate::Advanced | HeadUpdate::Stale(_) => {}
        }
        self.announce(head, stored);
        if let Some(events) = &self.events
            && let Err(e) = events.publish(Event::Head { number: head.number, hash: format!("{:#x}", head.hash) }).await
        {
            tracing::debug!(target: "sync::head", error = %e, "publishing the head failed; followers poll");
        }
        Ok(())
    }

    /// Sets the head without a leader's token: only for a node that is its own only writer
    /// (a chain imported at start).
    ///
    /// # Errors
    /// When the store fails.
    pub async fn set_unfenced(&self, head: ChainHead, stored: u64) -> Result<(), StoreError> {
        self.store.advance_head(head).await?;
        self.announce(head, stored);
        Ok(())
    }

    fn announce(&self, head: ChainHead, stored: u64) {
        self.progress.stored(stored, head.number);
        metrics::gauge!("hypasis_chain_head_block").set(head.number as f64);
        self.heads.send_replace(Some(head));
    }
}
