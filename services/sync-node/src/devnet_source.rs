//! The built-in devnet as a block source: it produces a block every block time and writes it to
//! the store like an upstream sync would. Only the leader produces; in embedded mode the node is
//! always leader. A new leader first regenerates the deterministic chain up to the stored head
//! (and checks it is the same chain) before it continues.

use crate::metrics;
use hypasis_chain::Block;
use hypasis_cluster::{Leadership, while_leader};
use hypasis_devnet::{Devnet, DevnetConfig};
use hypasis_store::ChainHead;
use hypasis_syncer::{HeadError, HeadWriter};
use std::time::Duration;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// Why a production term stopped.
#[derive(Debug, thiserror::Error)]
enum DevnetError {
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] hypasis_store::StoreError),
    /// The head could not move (fenced by a newer leader, or the store failed).
    #[error(transparent)]
    Head(#[from] HeadError),
    /// The generator task failed.
    #[error("devnet generator failed: {0}")]
    Generator(#[from] tokio::task::JoinError),
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

/// Runs until `cancel`, producing blocks in every term in which `leadership` says we lead.
pub async fn run(config: DevnetConfig, head: HeadWriter, leadership: watch::Receiver<Leadership>, prefill: u64, cancel: CancellationToken) {
    while_leader("devnet", leadership, cancel, move |token, term| {
        let (config, head) = (config.clone(), head.clone());
        async move {
            tracing::info!(target: "devnet", token, "leading: producing devnet blocks");
            match lead(config, &head, token, prefill, &term).await {
                Ok(()) => tracing::info!(target: "devnet", "term over: stopping production"),
                Err(e) => tracing::error!(target: "devnet", error = %e, "devnet production stopped"),
            }
        }
    })
    .await;
}

/// One leadership term. Returns when `cancel` (the term's) fires.
async fn lead(config: DevnetConfig, head: &HeadWriter, token: u64, prefill: u64, cancel: &CancellationToken) -> Result<(), DevnetError> {
    let block_time = Duration::from_secs(config.block_time);
    let mut devnet = Devnet::new(config);
    let stored = head.store().head().await?;
    let target = stored.map_or(prefill, |h| h.number);
    if stored.is_none() {
        store_blocks(head, token, vec![devnet.tip().clone()]).await?;
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
            store_blocks(head, token, blocks).await?;
        }
    }
    if let Some(stored) = stored
        && devnet.tip().hash() != stored.hash
    {
        return Err(DevnetError::OtherChain { stored: stored.number, stored_hash: stored.hash, ours: devnet.tip().hash() });
    }
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + block_time, block_time);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = cancel.cancelled() => return Ok(()),
            _ = ticker.tick() => {
                let block = devnet.next_block();
                metrics::devnet_block();
                tracing::debug!(target: "devnet", number = block.number(), hash = %block.hash(), txs = block.body.transactions.len(), "new block");
                store_blocks(head, token, vec![block]).await?;
            }
        }
    }
}

/// Verifies and stores blocks, then advances the head with our fencing token.
async fn store_blocks(head: &HeadWriter, token: u64, blocks: Vec<Block>) -> Result<(), DevnetError> {
    let mut verified = Vec::with_capacity(blocks.len());
    for block in blocks {
        match block.verify() {
            Ok(()) => verified.push(block),
            Err(e) => {
                metrics::rejected_block("devnet", "self_check");
                tracing::error!(target: "devnet", error = %e, "devnet produced an invalid block; not stored");
            }
        }
    }
    let Some(last) = verified.last().map(ChainHead::of) else { return Ok(()) };
    let count = verified.len() as u64;
    head.store().insert(verified).await?;
    head.advance(last, token, count).await?;
    Ok(())
}
