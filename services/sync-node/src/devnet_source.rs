//! The embedded block source: the built-in devnet, producing a block every block time and
//! writing it to the store like an upstream sync would.

use crate::{metrics, progress::SyncProgress};
use hypasis_chain::Block;
use hypasis_devnet::Devnet;
use hypasis_store::{BlockStore, ChainHead};
use std::{sync::Arc, time::Duration};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// Blocks generated per batch while pre-filling.
const PREFILL_BATCH: u64 = 1_000;

/// Runs the devnet until `cancel` fires.
pub async fn run(
    mut devnet: Devnet,
    store: Arc<dyn BlockStore>,
    progress: Arc<SyncProgress>,
    heads: watch::Sender<Option<ChainHead>>,
    prefill: u64,
    cancel: CancellationToken,
) {
    let block_time = Duration::from_secs(devnet.config().block_time);
    let genesis = devnet.tip().clone();
    if !store_blocks(&*store, &progress, &heads, vec![genesis]).await {
        return;
    }
    let mut remaining = prefill;
    while remaining > 0 && !cancel.is_cancelled() {
        let batch = remaining.min(PREFILL_BATCH);
        let (returned, blocks) = match tokio::task::spawn_blocking(move || {
            let blocks = devnet.next_blocks(batch as usize);
            (devnet, blocks)
        })
        .await
        {
            Ok(v) => v,
            Err(e) => {
                tracing::error!(target: "devnet", error = %e, "devnet generator failed");
                return;
            }
        };
        devnet = returned;
        if !store_blocks(&*store, &progress, &heads, blocks).await {
            return;
        }
        remaining -= batch;
    }
    tracing::info!(target: "devnet", head = devnet.tip().number(), block_time_secs = block_time.as_secs(), "devnet producing blocks");
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + block_time, block_time);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = cancel.cancelled() => break,
            _ = ticker.tick() => {
                let block = devnet.next_block();
                metrics::devnet_block();
                tracing::debug!(target: "devnet", number = block.number(), hash = %block.hash(), txs = block.body.transactions.len(), "new block");
                if !store_blocks(&*store, &progress, &heads, vec![block]).await {
                    break;
                }
            }
        }
    }
}

/// Verifies and stores blocks, then advances the head. Returns `false` when the store is gone.
async fn store_blocks(
    store: &dyn BlockStore,
    progress: &SyncProgress,
    heads: &watch::Sender<Option<ChainHead>>,
    blocks: Vec<Block>,
) -> bool {
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
    let Some(last) = verified.last().map(ChainHead::of) else { return true };
    let count = verified.len() as u64;
    if let Err(e) = store.insert(verified).await {
        tracing::error!(target: "devnet", error = %e, "storing devnet blocks failed");
        return !matches!(e, hypasis_store::StoreError::Corrupt { .. });
    }
    if let Err(e) = store.advance_head(last).await {
        tracing::error!(target: "devnet", error = %e, "advancing the head failed");
        return true;
    }
    progress.stored(count, last.number);
    metrics::head(last.number);
    heads.send_replace(Some(last));
    true
}
