//! Forward sync: the leader follows the upstream tip.
//!
//! Every poll: ask the best upstream for its head; fetch the blocks above ours (a batch at a
//! time); the first must link to our head by hash, every one must be sealed by a validator (when
//! the set is known); store them and move the head with our fencing token. When the first block
//! does not link, the upstream is on another branch: walk back one block at a time comparing its
//! blocks with ours until they agree (at most [`ForwardConfig::max_reorg_depth`]), then store its
//! branch over ours (the store drops replaced blocks from the hash index).

use crate::context::{SyncContext, SyncError};
use hypasis_chain::Block;
use hypasis_store::{ChainHead, Parts};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Forward sync settings.
#[derive(Debug, Clone)]
pub struct ForwardConfig {
    /// How often the upstream head is polled.
    pub poll: Duration,
    /// Most blocks fetched per step.
    pub batch: u64,
    /// Deepest reorg followed.
    pub max_reorg_depth: u64,
    /// Where to start when the store is empty (`None`: the upstream head).
    pub start: Option<u64>,
}

impl Default for ForwardConfig {
    fn default() -> Self {
        Self { poll: Duration::from_millis(250), batch: 64, max_reorg_depth: 128, start: None }
    }
}

/// Follows the tip until `cancel` fires, holding fencing `token`.
///
/// # Errors
/// [`SyncError::Fenced`] when a newer leader exists (stop leading); other errors are logged and
/// retried on the next poll.
pub async fn follow_tip(ctx: &SyncContext, config: &ForwardConfig, token: u64, cancel: &CancellationToken) -> Result<(), SyncError> {
    let mut ticker = tokio::time::interval(config.poll);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = cancel.cancelled() => return Ok(()),
            _ = ticker.tick() => {}
        }
        // Catch up in batches without waiting for the next tick.
        loop {
            match step(ctx, config, token).await {
                Ok(true) if !cancel.is_cancelled() => continue,
                Ok(_) => break,
                Err(SyncError::Fenced) => return Err(SyncError::Fenced),
                Err(e) => {
                    metrics::counter!("hypasis_sync_forward_errors_total").increment(1);
                    tracing::warn!(target: "sync::forward", error = %e, "forward sync step failed; retrying");
                    break;
                }
            }
        }
    }
}

/// One step. Returns whether more blocks are waiting upstream.
async fn step(ctx: &SyncContext, config: &ForwardConfig, token: u64) -> Result<bool, SyncError> {
    let tip = ctx.fetcher.head().await?;
    metrics::gauge!("hypasis_sync_upstream_head_block").set(tip as f64);
    let Some(head) = ctx.store.head().await? else {
        let start = config.start.unwrap_or(tip).min(tip);
        let fetched = ctx.fetcher.fetch(start, start).await?;
        ctx.check_seals_detached(&fetched.blocks, &fetched.upstream)?;
        let first = ChainHead::of(&fetched.blocks[0]);
        ctx.store(fetched.blocks).await?;
        ctx.advance(first, token, 1).await?;
        tracing::info!(target: "sync::forward", start, "empty store: starting at the upstream tip; backward sync fills history");
        return Ok(tip > start);
    };
    if tip <= head.number {
        return Ok(false);
    }
    let end = tip.min(head.number + config.batch);
    let fetched = ctx.fetcher.fetch(head.number + 1, end).await?;
    let blocks =
        if fetched.blocks[0].header.parent_hash == head.hash { fetched.blocks } else { reorg(ctx, config, head, fetched.blocks).await? };
    // The whole run, a reorg branch included, from the stored block below it.
    ctx.check_seals(&blocks, &fetched.upstream).await?;
    let count = blocks.len() as u64;
    let Some(last) = blocks.last().map(ChainHead::of) else { return Ok(false) };
    ctx.store(blocks).await?;
    ctx.advance(last, token, count).await?;
    Ok(end < tip)
}

/// `above` (starting at `head.number + 1`) does not link to our head: find the fork point and
/// return the upstream's branch from just above it through `above`.
async fn reorg(ctx: &SyncContext, config: &ForwardConfig, head: ChainHead, above: Vec<Block>) -> Result<Vec<Block>, SyncError> {
    let mut branch: Vec<Block> = Vec::new();
    let mut n = head.number;
    loop {
        if head.number - n >= config.max_reorg_depth || n == 0 {
            return Err(SyncError::DeepReorg(config.max_reorg_depth));
        }
        let theirs = ctx.fetcher.fetch(n, n).await?;
        let theirs = theirs.blocks.into_iter().next().ok_or(SyncError::DeepReorg(0))?;
        let ours = ctx.store.by_numbers(&[n], Parts::HEADER).await?.into_iter().next().flatten();
        if ours.is_some_and(|o| o.header.hash() == theirs.hash()) {
            break;
        }
        branch.push(theirs);
        n -= 1;
    }
    branch.reverse();
    // The branch must link end to end: fork point → branch → the batch above.
    let fork = ctx.store.by_numbers(&[n], Parts::HEADER).await?.into_iter().next().flatten().map(|b| b.header.hash());
    let mut previous = fork;
    for block in branch.iter().chain(above.iter()) {
        if previous.is_some_and(|p| p != block.header.parent_hash) {
            return Err(SyncError::DeepReorg(head.number - n));
        }
        previous = Some(block.hash());
    }
    metrics::counter!("hypasis_sync_reorgs_total").increment(1);
    tracing::warn!(target: "sync::forward", fork_point = n, depth = branch.len(), "reorg: replacing our blocks above the fork point");
    branch.extend(above);
    Ok(branch)
}
