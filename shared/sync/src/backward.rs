//! Backward sync: fill the gaps between the retention floor and the head, highest first.
//!
//! Block numbers are cut into fixed batches (`k * batch ..= k * batch + batch - 1`). A worker
//! picks the highest batch that still has missing blocks, claims it ([`Claims`]: a lease in
//! Redis shared by the cluster, or in memory when alone), re-reads the gap tracker (another
//! instance may have just filled it), fetches only the missing part, and stores it once its top
//! block hash-links to the block above (held, or being filled by another worker: it waits for it)
//! and its bottom to the block below when that is held. A batch that does not link was made up:
//! the upstream is banned and the batch dropped. Completed batches are in the gap tracker, so a
//! restart resumes where the cluster stopped. A governor budget keeps backfill from crowding
//! out forward sync and serving; `pause` stops it between batches.

use crate::claims::Claims;
use crate::context::{SyncContext, SyncError, Unverified};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use hypasis_chain::Block;
use hypasis_store::Parts;
use hypasis_upstream::Endpoint;
use parking_lot::Mutex;
use std::{
    collections::HashMap,
    num::NonZeroU32,
    sync::Arc,
    time::{Duration, Instant},
};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// Parallel backfill workers per instance unless configured (`--backfill-workers`).
pub const DEFAULT_WORKERS: usize = 4;
/// Blocks fetched per second by one instance's backfill unless configured (`--backfill-rate`).
pub const DEFAULT_BLOCKS_PER_SECOND: u32 = 1_000;

/// Backward sync settings.
#[derive(Debug, Clone)]
pub struct BackwardConfig {
    /// Parallel workers on this instance.
    pub workers: usize,
    /// Blocks per batch.
    pub batch: u64,
    /// Lowest block to keep.
    pub floor: u64,
    /// Most blocks kept below the head, when the store is bounded (the in-memory store evicts
    /// the oldest blocks; filling below what it keeps would fetch the same blocks forever).
    pub window: Option<u64>,
    /// How long a claim lasts (a crashed worker's batch is free again after this).
    pub claim_lease: Duration,
    /// Most blocks fetched per second by this instance's backfill.
    pub blocks_per_second: u32,
}

impl Default for BackwardConfig {
    fn default() -> Self {
        Self {
            workers: DEFAULT_WORKERS,
            batch: 128,
            floor: 0,
            window: None,
            claim_lease: Duration::from_secs(30),
            blocks_per_second: DEFAULT_BLOCKS_PER_SECOND,
        }
    }
}

/// How long a fetched batch waits for the block above it, once nobody holds the batch above's
/// claim, before it is parked.
const LINK_WAIT: Duration = Duration::from_secs(5);
/// Most fetched batches kept while the block above them is missing.
const MAX_PARKED: usize = 64;

/// A fetched batch and the endpoint that sent it.
type Parked = (Vec<Block>, Arc<Endpoint>);

/// What the workers of one instance share.
#[derive(Debug)]
struct Shared {
    /// Backfill rate budget.
    budget: DefaultDirectRateLimiter,
    /// Fetched batches waiting for the block above them, by batch index.
    parked: Mutex<HashMap<u64, Parked>>,
}

impl BackwardConfig {
    /// The lowest block to fill with the head at `head`: the floor, raised to stay within the
    /// window below the head.
    pub fn floor_at(&self, head: u64) -> u64 {
        self.window.map_or(self.floor, |w| self.floor.max(head.saturating_sub(w)))
    }
}

/// When backfill stops: `stop` ends it between batches (a batch in flight is finished and
/// stored, so nothing is fetched twice), `now` drops a batch in flight (its claim freed at once).
/// `now` firing implies `stop`.
#[derive(Debug, Clone)]
pub struct Stop {
    /// Between batches.
    pub stop: CancellationToken,
    /// At once.
    pub now: CancellationToken,
}

impl Stop {
    /// One token for both.
    pub fn at(cancel: CancellationToken) -> Self {
        Self { stop: cancel.clone(), now: cancel }
    }
}

/// Runs `config.workers` workers until stopped; `paused` stops them between batches.
pub async fn backfill(ctx: SyncContext, config: BackwardConfig, claims: Claims, paused: watch::Receiver<bool>, stop: Stop) {
    let quota = Quota::per_second(NonZeroU32::new(config.blocks_per_second.max(1)).unwrap_or(NonZeroU32::MIN))
        .allow_burst(NonZeroU32::new(u32::try_from(config.batch).unwrap_or(u32::MAX).max(1)).unwrap_or(NonZeroU32::MIN));
    let shared = Arc::new(Shared { budget: RateLimiter::direct(quota), parked: Mutex::default() });
    let mut workers = tokio::task::JoinSet::new();
    for worker in 0..config.workers.max(1) {
        let (ctx, config, claims, paused, stop, shared) =
            (ctx.clone(), config.clone(), claims.clone(), paused.clone(), stop.clone(), shared.clone());
        workers.spawn(async move { work(worker, &ctx, &config, &claims, paused, &stop, &shared).await });
    }
    // A worker that panicked takes the others down with it, so the supervisor restarts the whole
    // backfill (and counts it) instead of running on with fewer workers.
    while let Some(joined) = workers.join_next().await {
        if let Err(e) = joined
            && e.is_panic()
        {
            std::panic::resume_unwind(e.into_panic());
        }
    }
}

async fn work(
    worker: usize,
    ctx: &SyncContext,
    config: &BackwardConfig,
    claims: &Claims,
    mut paused: watch::Receiver<bool>,
    stop: &Stop,
    shared: &Shared,
) {
    let cancel = &stop.stop;
    // Workers start on different batches: each skips `worker` claimable batches at first.
    let mut skip = worker;
    while !cancel.is_cancelled() {
        if *paused.borrow_and_update() {
            tokio::select! {
                () = cancel.cancelled() => return,
                _ = paused.changed() => continue,
            }
        }
        let idle = match one_batch(ctx, config, claims, shared, &mut skip, &stop.now).await {
            Ok(did_work) => !did_work,
            Err(e) => {
                metrics::counter!("hypasis_sync_backward_errors_total").increment(1);
                tracing::warn!(target: "sync::backward", worker, error = %e, "backfill batch failed; retrying later");
                true
            }
        };
        if idle {
            tokio::select! {
                () = cancel.cancelled() => return,
                () = tokio::time::sleep(Duration::from_millis(500)) => {}
                _ = paused.changed() => {}
            }
        }
    }
}

/// Claims, fetches and stores one batch. Returns false when there was nothing to do.
async fn one_batch(
    ctx: &SyncContext,
    config: &BackwardConfig,
    claims: &Claims,
    shared: &Shared,
    skip: &mut usize,
    cancel: &CancellationToken,
) -> Result<bool, SyncError> {
    let Some(head) = ctx.store.head().await? else { return Ok(false) };
    let floor = config.floor_at(head.number);
    let gaps = ctx.store.held().await?.gaps(floor, head.number);
    let batch = config.batch.max(1);
    for gap in &gaps {
        let (lo, hi) = (*gap.start(), *gap.end());
        let mut k = hi / batch;
        loop {
            if k * batch + batch - 1 < lo {
                break;
            }
            if *skip > 0 {
                *skip -= 1;
            } else if claims.claim(&Claims::batch(k), config.claim_lease).await {
                let claimed_at = Instant::now();
                let result = fill(ctx, config, claims, shared, (k, lo, hi), claimed_at, cancel).await;
                claims.release(&Claims::batch(k)).await;
                return result.map(|()| true);
            }
            if k == 0 {
                break;
            }
            k -= 1;
        }
    }
    *skip = 0;
    Ok(false)
}

/// Fills what is still missing of batch `k` (re-read after the claim). On `cancel` a batch not
/// yet being stored is dropped, so its claim is freed at once rather than after the lease.
async fn fill(
    ctx: &SyncContext,
    config: &BackwardConfig,
    claims: &Claims,
    shared: &Shared,
    (k, lo, hi): (u64, u64, u64),
    claimed_at: Instant,
    cancel: &CancellationToken,
) -> Result<(), SyncError> {
    let checked = tokio::select! {
        checked = fetch_checked(ctx, config, claims, shared, (k, lo, hi), claimed_at) => checked?,
        () = cancel.cancelled() => return Ok(()),
    };
    let Some((blocks, upstream)) = checked else { return Ok(()) };
    let (start, end) = (blocks.first().map_or(0, Block::number), blocks.last().map_or(0, Block::number));
    let count = blocks.len() as u64;
    ctx.store(blocks).await?;
    ctx.progress().stored(count, 0);
    metrics::counter!("hypasis_sync_backfilled_blocks_total").increment(count);
    if let Some(events) = ctx.events() {
        let _ = events.publish(hypasis_cluster::Event::RangeFilled { start, end }).await;
    }
    tracing::debug!(target: "sync::backward", start, end, upstream = upstream.name(), "batch filled");
    Ok(())
}

/// The missing blocks of batch `k`, fetched (or taken from the parked ones), linked to the held
/// chain on both sides and seal-checked; `None` when nothing is missing.
async fn fetch_checked(
    ctx: &SyncContext,
    config: &BackwardConfig,
    claims: &Claims,
    shared: &Shared,
    (k, lo, hi): (u64, u64, u64),
    claimed_at: Instant,
) -> Result<Option<Parked>, SyncError> {
    let batch = config.batch.max(1);
    let (first, last) = ((k * batch).max(lo).max(config.floor), (k * batch + batch - 1).min(hi));
    if first > last {
        return Ok(None);
    }
    let held = ctx.store.held().await?;
    let Some(missing) = held.gaps(first, last).into_iter().next() else { return Ok(None) };
    let (start, end) = (*missing.start(), *missing.end());
    // A batch fetched earlier whose block above had not arrived is reused, not fetched again.
    let parked = shared
        .parked
        .lock()
        .remove(&k)
        .filter(|(blocks, _)| blocks.first().map(Block::number) == Some(start) && blocks.last().map(Block::number) == Some(end));
    let (blocks, upstream) = match parked {
        Some(parked) => parked,
        None => {
            let count = u32::try_from(end - start + 1).unwrap_or(u32::MAX);
            if let Some(n) = NonZeroU32::new(count) {
                let _ = shared.budget.until_n_ready(n).await;
            }
            let fetched = ctx.fetcher.fetch(start, end).await?;
            (fetched.blocks, fetched.upstream)
        }
    };
    let linked = match link(ctx, config, claims, &blocks, claimed_at).await {
        Err(SyncError::LinkTimeout(above)) => {
            let mut parked = shared.parked.lock();
            if parked.len() < MAX_PARKED {
                parked.insert(k, (blocks, upstream));
            }
            return Err(SyncError::LinkTimeout(above));
        }
        other => other?,
    };
    if let Err(unverified) = linked {
        return Err(ctx.reject(&upstream, unverified));
    }
    // Linked to the checked chain above, and sealed by the rules themselves (a forged history
    // re-sealed by a validator key still breaks them).
    ctx.check_seals_detached(&blocks, &upstream)?;
    Ok(Some((blocks, upstream)))
}

/// Checks that `blocks` link to the held block above (waiting for it while another worker fills
/// it) and to the held block below. `Ok(Err(reason))` means the batch is wrong.
///
/// The wait gives up after [`LINK_WAIT`] once nobody holds the claim of the batch above (it
/// failed and was let go), and at the latest when 80% of our own claim's lease (taken at
/// `claimed_at`) has passed, so the batch is stored or parked before the claim can expire: while
/// the batch above is being filled, by any instance, waiting is cheaper than dropping this batch,
/// which would be fetched again, and every batch below waiting on it with it.
async fn link(
    ctx: &SyncContext,
    config: &BackwardConfig,
    claims: &Claims,
    blocks: &[Block],
    claimed_at: Instant,
) -> Result<Result<(), Unverified>, SyncError> {
    let (Some(first), Some(last)) = (blocks.first(), blocks.last()) else { return Ok(Ok(())) };
    let started = Instant::now();
    let unclaimed_wait = LINK_WAIT.min(config.claim_lease);
    let claim_ends = claimed_at + config.claim_lease.mul_f64(0.8);
    let above_batch = Claims::batch((last.number() + 1) / config.batch.max(1));
    let above = loop {
        if let Some(above) = ctx.store.by_numbers(&[last.number() + 1], Parts::HEADER).await?.into_iter().next().flatten() {
            break above;
        }
        if Instant::now() > claim_ends || (started.elapsed() > unclaimed_wait && !claims.is_claimed(&above_batch).await) {
            return Err(SyncError::LinkTimeout(last.number() + 1));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    if above.header.parent_hash != last.hash() {
        return Ok(Err(Unverified::Unlinked { number: last.number(), stored: above.header.number() }));
    }
    if first.number() > 0
        && let Some(below) = ctx.store.by_numbers(&[first.number() - 1], Parts::HEADER).await?.into_iter().next().flatten()
        && below.header.hash() != first.header.parent_hash
    {
        return Ok(Err(Unverified::Unlinked { number: first.number(), stored: below.header.number() }));
    }
    Ok(Ok(()))
}
