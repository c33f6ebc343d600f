//! Read-through: a block a client asks for that is not cached is fetched now, through the
//! checks backfill applies, stored, then answered.
//!
//! A fetched run of blocks is only trusted once its top hash-links to a block we already trust:
//! the nearest held block above it, or the end block of Heimdall's latest milestone (its hash is
//! final on Polygon). So a miss at `n` fetches `n ..= anchor - 1` (or `..= milestone end`), at
//! most [`ReadThroughConfig::max_blocks`] blocks; the run must also link to the held block below
//! when there is one, and pass the seal check as a backfilled batch does. A run that fails was
//! made up: the upstream is banned and the client told. Nothing unverified is stored.
//!
//! Concurrent misses share one fetch: on one instance through a single flight keyed by the
//! anchor, across the cluster through a claim on the same key (another instance's fetch is
//! waited for, not repeated).

use crate::{
    backward::BackwardConfig,
    claims::Claims,
    context::{SyncContext, SyncError, Unverified},
};
use futures::{FutureExt, future::BoxFuture, future::Shared};
use hypasis_chain::B256;
use hypasis_store::Parts;
use parking_lot::Mutex;
use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

/// Most blocks fetched to answer one miss, unless configured (`--rpc-read-through-max-blocks`).
pub const DEFAULT_MAX_BLOCKS: u64 = 1024;
/// How long a read-through's claim lasts (a crashed instance's claim frees after this).
pub const CLAIM_LEASE: Duration = Duration::from_secs(15);
/// How long a request waits for a fetch another instance claimed.
pub const FOREIGN_WAIT: Duration = Duration::from_secs(15);
/// Rounds of (re-read, fetch) one request makes before giving up (a request whose block is
/// below another request's run waits for that run, then fetches the rest).
const ROUNDS: usize = 4;

/// Read-through settings.
#[derive(Debug, Clone)]
pub struct ReadThroughConfig {
    /// Most blocks fetched for one miss.
    pub max_blocks: u64,
    /// What backfill keeps (the floor and, for a bounded store, the window below the head).
    pub retention: BackwardConfig,
}

impl Default for ReadThroughConfig {
    fn default() -> Self {
        Self { max_blocks: DEFAULT_MAX_BLOCKS, retention: BackwardConfig::default() }
    }
}

/// Why a miss could not be filled. Cheap to clone: one failed fetch answers every request that
/// waited for it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    /// The block is older than the history this service keeps.
    #[error("block {number} is older than the history this service keeps (from block {floor})")]
    BelowFloor {
        /// The block asked for.
        number: u64,
        /// The lowest block kept.
        floor: u64,
    },
    /// No trusted block is near enough above it to verify it against.
    #[error(
        "block {number} is not cached yet and is {distance} blocks below the nearest verified block (read-through fetches at most {limit}); backfill will reach it"
    )]
    TooFar {
        /// The block asked for.
        number: u64,
        /// Blocks between it and the nearest trusted block above.
        distance: u64,
        /// The configured limit.
        limit: u64,
    },
    /// The upstream's data did not verify; the upstream is banned.
    #[error("the upstream's data for block {number} did not verify ({reason}); it was not served")]
    Unverified {
        /// The block asked for.
        number: u64,
        /// What failed.
        reason: String,
    },
    /// The upstreams or the store failed.
    #[error("block {number} could not be fetched: {reason}")]
    Failed {
        /// The block asked for.
        number: u64,
        /// Why.
        reason: String,
    },
    /// Another fetch of the same blocks did not finish in time.
    #[error("block {number} is being fetched by another instance and did not arrive within {waited:?}; try again")]
    Busy {
        /// The block asked for.
        number: u64,
        /// How long we waited.
        waited: Duration,
    },
}

impl ReadError {
    /// The `result` label of `hypasis_rpc_read_through_total`.
    pub fn label(&self) -> &'static str {
        match self {
            Self::BelowFloor { .. } => "below_floor",
            Self::TooFar { .. } => "too_far",
            Self::Unverified { .. } => "unverified",
            Self::Failed { .. } => "failed",
            Self::Busy { .. } => "busy",
        }
    }
}

type Flight = Shared<BoxFuture<'static, Result<(), ReadError>>>;
type Flights = Arc<Mutex<HashMap<u64, FlightSlot>>>;

/// Fills cache misses from the upstreams. Cheap to share (`Arc`).
#[derive(Debug)]
pub struct ReadThrough {
    ctx: SyncContext,
    claims: Claims,
    config: ReadThroughConfig,
    flights: Flights,
}

struct FlightSlot(Flight);

impl std::fmt::Debug for FlightSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FlightSlot")
    }
}

/// The trusted block a fetched run must link to.
#[derive(Debug, Clone, Copy)]
enum Anchor {
    /// A held block: the run is `number ..= held - 1`, and its top must be `held`'s parent.
    Held(u64),
    /// The latest milestone: the run is `number ..= end`, and its top must have `hash`.
    Milestone { end: u64, hash: B256 },
}

impl Anchor {
    /// The highest block of the run that links to it.
    fn top(self) -> u64 {
        match self {
            Self::Held(n) => n - 1,
            Self::Milestone { end, .. } => end,
        }
    }
}

impl ReadThrough {
    /// Read-through over `ctx`'s upstreams and store, claiming work in `claims`.
    pub fn new(ctx: SyncContext, claims: Claims, config: ReadThroughConfig) -> Self {
        Self { ctx, claims, config, flights: Arc::default() }
    }

    /// Makes block `number` held if it exists and can be verified. `Ok(true)`: it is held now;
    /// `Ok(false)`: it is beyond what the chain (as we know it) has, so there is nothing to fetch.
    /// A fetch runs as its own task: a caller that goes away (a client that disconnects) neither
    /// stops it half-way nor leaves its claim held.
    ///
    /// # Errors
    /// [`ReadError`] when it cannot be fetched or verified.
    pub async fn fill(&self, number: u64) -> Result<bool, ReadError> {
        for _ in 0..ROUNDS {
            let anchor = match self.plan(number).await? {
                Plan::Held => return Ok(true),
                Plan::Beyond => return Ok(false),
                Plan::Fetch(anchor) => anchor,
            };
            let key = anchor.top();
            let flight = {
                let mut flights = self.flights.lock();
                match flights.get(&key) {
                    Some(FlightSlot(flight)) => {
                        metrics::counter!("hypasis_rpc_read_through_joined_total").increment(1);
                        flight.clone()
                    }
                    None => {
                        let flight = self.spawn_flight(number, anchor);
                        flights.insert(key, FlightSlot(flight.clone()));
                        flight
                    }
                }
            };
            flight.await?;
        }
        Err(ReadError::Busy { number, waited: FOREIGN_WAIT })
    }

    /// Starts the fetch of `number ..= anchor.top()` as a task that removes itself from the
    /// flights when done.
    fn spawn_flight(&self, number: u64, anchor: Anchor) -> Flight {
        let (ctx, claims, flights) = (self.ctx.clone(), self.claims.clone(), self.flights.clone());
        let key = anchor.top();
        let task = tokio::spawn(async move {
            let name = Claims::read_through(key);
            let result = if claims.claim(&name, CLAIM_LEASE).await {
                let result = fetch_verified(&ctx, number, anchor).await;
                claims.release(&name).await;
                metrics::counter!("hypasis_rpc_read_through_total", "result" => result.as_ref().err().map_or("fetched", ReadError::label))
                    .increment(1);
                result
            } else {
                // Another instance fetches these blocks: wait for it, then plan again.
                wait_for(&ctx, &claims, &name, number, key).await
            };
            flights.lock().remove(&key);
            result
        });
        async move { task.await.unwrap_or_else(|e| Err(ReadError::Failed { number, reason: format!("read-through task: {e}") })) }
            .boxed()
            .shared()
    }

    /// What a miss at `number` needs.
    async fn plan(&self, number: u64) -> Result<Plan, ReadError> {
        let failed = |e: hypasis_store::StoreError| ReadError::Failed { number, reason: e.to_string() };
        let head = self.ctx.store.head().await.map_err(failed)?;
        let milestone = self.ctx.milestones.as_ref().and_then(|guard| guard.status().milestone);
        let ceiling = head.map(|h| h.number).into_iter().chain(milestone.map(|m| m.end)).max();
        let Some(ceiling) = ceiling.filter(|c| number <= *c) else { return Ok(Plan::Beyond) };
        let floor = self.config.retention.floor_at(ceiling);
        if number < floor {
            return Err(ReadError::BelowFloor { number, floor });
        }
        let held = self.ctx.store.held().await.map_err(failed)?;
        if held.contains(number) {
            return Ok(Plan::Held);
        }
        let above = held.iter().map(|r| *r.start()).find(|start| *start > number);
        let by_milestone =
            milestone.filter(|m| m.end >= number && !held.contains(m.end)).map(|m| Anchor::Milestone { end: m.end, hash: m.hash });
        let anchor = match (above.map(Anchor::Held), by_milestone) {
            (Some(a), Some(m)) => {
                if m.top() < a.top() {
                    m
                } else {
                    a
                }
            }
            (a, m) => match a.or(m) {
                Some(anchor) => anchor,
                None => return Ok(Plan::Beyond),
            },
        };
        let distance = anchor.top() - number + 1;
        if distance > self.config.max_blocks {
            return Err(ReadError::TooFar { number, distance, limit: self.config.max_blocks });
        }
        Ok(Plan::Fetch(anchor))
    }
}

enum Plan {
    Held,
    Beyond,
    Fetch(Anchor),
}

/// Waits while another instance holds the claim `name` (fetching up to `top`): done when `top`
/// or `number` is held, or when the claim is gone (then the caller plans again).
async fn wait_for(ctx: &SyncContext, claims: &Claims, name: &str, number: u64, top: u64) -> Result<(), ReadError> {
    let started = Instant::now();
    while started.elapsed() < FOREIGN_WAIT {
        tokio::time::sleep(Duration::from_millis(50)).await;
        match ctx.store.held().await {
            Ok(held) if held.contains(number) || held.contains(top) => return Ok(()),
            Ok(_) => {}
            Err(e) => return Err(ReadError::Failed { number, reason: e.to_string() }),
        }
        if !claims.is_claimed(name).await {
            return Ok(());
        }
    }
    Err(ReadError::Busy { number, waited: FOREIGN_WAIT })
}

/// Fetches `number ..= anchor.top()`, checks it links to the anchor (and to the held block
/// below), seal-checks it and stores it.
async fn fetch_verified(ctx: &SyncContext, number: u64, anchor: Anchor) -> Result<(), ReadError> {
    let top = anchor.top();
    let fetched = ctx.fetcher.fetch(number, top).await.map_err(|e| sync_error(number, e.into()))?;
    let (blocks, upstream) = (fetched.blocks, fetched.upstream);
    let failed = |e: hypasis_store::StoreError| ReadError::Failed { number, reason: e.to_string() };
    let (Some(first), Some(last)) = (blocks.first(), blocks.last()) else {
        return Err(ReadError::Failed { number, reason: "the upstream returned no blocks".into() });
    };
    if first.number() != number || last.number() != top {
        return Err(ReadError::Failed { number, reason: format!("the upstream returned blocks {}..={}", first.number(), last.number()) });
    }
    let linked = match anchor {
        Anchor::Held(above) => {
            let held = ctx.store.by_numbers(&[above], Parts::HEADER).await.map_err(failed)?.into_iter().next().flatten();
            // Evicted or replaced meanwhile: nothing to judge the upstream by; plan again.
            let Some(held) = held else {
                return Err(ReadError::Failed { number, reason: format!("block {above} left the cache during the fetch; try again") });
            };
            held.header.parent_hash == last.hash()
        }
        Anchor::Milestone { hash, .. } => last.hash() == hash,
    };
    if !linked {
        let stored = match anchor {
            Anchor::Held(above) => above,
            Anchor::Milestone { end, .. } => end,
        };
        return Err(sync_error(number, ctx.reject(&upstream, Unverified::Unlinked { number: top, stored })));
    }
    if number > 0
        && let Some(below) = ctx.store.by_numbers(&[number - 1], Parts::HEADER).await.map_err(failed)?.into_iter().next().flatten()
        && below.header.hash() != first.header.parent_hash
    {
        return Err(sync_error(number, ctx.reject(&upstream, Unverified::Unlinked { number, stored: number - 1 })));
    }
    ctx.check_seals_detached(&blocks, &upstream).map_err(|e| sync_error(number, e))?;
    let count = blocks.len() as u64;
    let end = last.number();
    ctx.store(blocks).await.map_err(|e| sync_error(number, e))?;
    metrics::counter!("hypasis_rpc_read_through_blocks_total").increment(count);
    if let Some(events) = ctx.events() {
        let _ = events.publish(hypasis_cluster::Event::RangeFilled { start: number, end }).await;
    }
    tracing::debug!(target: "sync::read_through", start = number, end, upstream = upstream.name(), "miss filled");
    Ok(())
}

fn sync_error(number: u64, error: SyncError) -> ReadError {
    match error {
        SyncError::Upstream(e) if e.is_bad_data() => ReadError::Unverified { number, reason: e.to_string() },
        other => ReadError::Failed { number, reason: other.to_string() },
    }
}
