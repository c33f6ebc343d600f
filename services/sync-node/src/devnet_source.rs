//! The built-in devnet as a block source: it produces a block every block time and writes it to
//! the store like an upstream sync would. Only the leader produces; in embedded mode the node is
//! always leader. A new leader first regenerates the deterministic chain up to the stored head
//! (and checks it is the same chain) before it continues.

use crate::metrics;
use hypasis_chain::Block;
use hypasis_cluster::{Envelope, Event, Events, Leadership};
use hypasis_devnet::{Devnet, DevnetConfig};
use hypasis_store::{BlockStore, ChainHead, HeadUpdate, TieredStore};
use hypasis_syncer::SyncProgress;
use std::{sync::Arc, time::Duration};
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;

/// Why a production term stopped.
#[derive(Debug, thiserror::Error)]
enum DevnetError {
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] hypasis_store::StoreError),
    /// The generator task failed.
    #[error("devnet generator failed: {0}")]
    Generator(#[from] tokio::task::JoinError),
    /// A newer leader holds the lease.
    #[error("a newer leader exists: head write refused")]
    Fenced,
    /// The stored chain is another devnet's.
    #[error(
        "the store's head {stored} ({stored_hash}) is not this devnet's block {stored} ({ours}); was it made with another --devnet-seed or --devnet-block-time?"
    )]
    OtherChain {
        /// The stored head's number.
        stored: u64,
        /// Its hash.
        stored_hash: alloy_primitives::B256,
        /// This devnet's block at that number.
        ours: alloy_primitives::B256,
    },
}

/// Blocks generated per batch while catching up or pre-filling.
const BATCH: u64 = 1_000;

/// Where produced blocks go.
#[derive(Debug, Clone)]
pub struct Sink {
    /// The block store.
    pub store: Arc<dyn BlockStore>,
    /// Sync progress.
    pub progress: Arc<SyncProgress>,
    /// Served-head announcements.
    pub heads: watch::Sender<Option<ChainHead>>,
    /// Cluster events (new heads are published there), when clustered.
    pub events: Option<Events>,
}

/// Runs until `cancel`, producing blocks whenever `leadership` says we lead.
pub async fn run(config: DevnetConfig, sink: Sink, mut leadership: watch::Receiver<Leadership>, prefill: u64, cancel: CancellationToken) {
    loop {
        let Some(token) = hypasis_cluster::wait_for_leadership(&mut leadership, &cancel).await else { return };
        tracing::info!(target: "devnet", token, "leading: producing devnet blocks");
        let term = lead(config.clone(), &sink, &mut leadership, token, prefill, &cancel).await;
        if let Err(e) = term {
            tracing::error!(target: "devnet", error = %e, "devnet production stopped");
            tokio::select! {
                () = cancel.cancelled() => return,
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
        if cancel.is_cancelled() {
            return;
        }
    }
}

/// One leadership term. Returns when leadership is lost or `cancel` fires.
async fn lead(
    config: DevnetConfig,
    sink: &Sink,
    leadership: &mut watch::Receiver<Leadership>,
    token: u64,
    prefill: u64,
    cancel: &CancellationToken,
) -> Result<(), DevnetError> {
    let block_time = Duration::from_secs(config.block_time);
    let mut devnet = Devnet::new(config);
    let stored = sink.store.head().await?;
    let target = stored.map_or(prefill, |h| h.number);
    if stored.is_none() {
        store_blocks(sink, token, vec![devnet.tip().clone()]).await?;
    }
    // Catch up (new leader) or pre-fill (fresh store), in batches off the async threads.
    while devnet.tip().number() < target && !cancel.is_cancelled() {
        let batch = (target - devnet.tip().number()).min(BATCH) as usize;
        let (returned, blocks) = tokio::task::spawn_blocking(move || {
            let blocks = devnet.next_blocks(batch);
            (devnet, blocks)
        })
        .await?;
        devnet = returned;
        if stored.is_none() {
            store_blocks(sink, token, blocks).await?;
        }
    }
    if let Some(head) = stored
        && devnet.tip().hash() != head.hash
    {
        return Err(DevnetError::OtherChain { stored: head.number, stored_hash: head.hash, ours: devnet.tip().hash() });
    }
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + block_time, block_time);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = cancel.cancelled() => return Ok(()),
            changed = leadership.changed() => {
                if changed.is_err() || *leadership.borrow() != (Leadership::Leader { token }) {
                    tracing::info!(target: "devnet", "leadership lost: stopping production");
                    return Ok(());
                }
            }
            _ = ticker.tick() => {
                let block = devnet.next_block();
                metrics::devnet_block();
                tracing::debug!(target: "devnet", number = block.number(), hash = %block.hash(), txs = block.body.transactions.len(), "new block");
                store_blocks(sink, token, vec![block]).await?;
            }
        }
    }
}

/// Verifies and stores blocks, then advances the head with our fencing token.
async fn store_blocks(sink: &Sink, token: u64, blocks: Vec<Block>) -> Result<(), DevnetError> {
    let mut verified = Vec::with_capacity(blocks.len());
    for block in blocks {
        match block.verify() {
            Ok(()) => verified.push(block),
            Err(e) => {
                metrics::rejected_block("devnet");
                tracing::error!(target: "devnet", error = %e, "devnet produced an invalid block; not stored");
            }
        }
    }
    let Some(last) = verified.last().map(ChainHead::of) else { return Ok(()) };
    let count = verified.len() as u64;
    sink.store.insert(verified).await?;
    match sink.store.advance_head_fenced(last, token).await? {
        HeadUpdate::Fenced => return Err(DevnetError::Fenced),
        HeadUpdate::Advanced | HeadUpdate::Stale(_) => {}
    }
    sink.progress.stored(count, last.number);
    metrics::head(last.number);
    sink.heads.send_replace(Some(last));
    if let Some(events) = &sink.events
        && let Err(e) = events.publish(Event::Head { number: last.number, hash: format!("{:#x}", last.hash) }).await
    {
        tracing::debug!(target: "cluster", error = %e, "publishing the new head failed; followers poll");
    }
    Ok(())
}

/// Cluster upkeep: picks up the head the leader writes (so every instance announces new heads to
/// its own peers), warms the hot tier with the blocks up to it, and retries the write backlog.
/// Runs at once on every head event and every `interval` (well under a block time) in case an
/// event was missed.
pub async fn follow_head(
    store: Arc<TieredStore>,
    heads: watch::Sender<Option<ChainHead>>,
    mut events: broadcast::Receiver<Envelope>,
    interval: Duration,
    cancel: CancellationToken,
) {
    let mut ticker = tokio::time::interval(interval);
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            _ = ticker.tick() => {}
            event = events.recv() => match event {
                Ok(Envelope { event: Event::Head { .. }, .. }) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Ok(_) => continue,
                Err(broadcast::error::RecvError::Closed) => return,
            },
        }
        if store.backlog_len() > 0 && store.flush().await.is_ok() {
            tracing::info!(target: "store::tiered", "shared store back: backlog written");
        }
        if let Ok(Some(head)) = store.head().await {
            let from = heads.borrow().map_or(0, |h| h.number + 1);
            if let Err(e) = hypasis_store::tiered::warm_to(&store, head, from).await {
                tracing::debug!(target: "store::tiered", error = %e, "warming the hot tier failed");
            }
            heads.send_if_modified(|current| {
                let newer = current.is_none_or(|c| head.number > c.number || (head.number == c.number && head.hash != c.hash));
                if newer {
                    *current = Some(head);
                    metrics::head(head.number);
                }
                newer
            });
        }
    }
}
