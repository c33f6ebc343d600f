//! One upstream endpoint: its HTTP transport, statistics, circuit breaker, rate budget, ban,
//! what it can do (methods it has, the batch size it takes) and whether it asked us to slow down.
//!
//! Breaker: after [`BREAKER_THRESHOLD`] consecutive failures the endpoint is skipped for
//! [`BREAKER_COOLDOWN`]; then one call is let through (half-open): a success closes the breaker,
//! a failure opens it again. A ban (wrong data) skips it for the ban period whatever it answers.
//! A rate limit from the endpoint (HTTP 429, JSON-RPC -32005) is neither: calls wait it out
//! (see [`calls`](crate::calls)) and the pool prefers other endpoints meanwhile.

use crate::{
    error::{ClientError, UpstreamError},
    pool::PoolConfig,
    transport::Http,
};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use parking_lot::Mutex;
use serde::Serialize;
use std::{
    num::NonZeroU32,
    sync::atomic::AtomicU64,
    time::{Duration, Instant},
};
use url::Url;

/// Consecutive failures that open the breaker.
pub const BREAKER_THRESHOLD: u32 = 5;
/// How long an open breaker skips the endpoint.
pub const BREAKER_COOLDOWN: Duration = Duration::from_secs(5);
/// Weight of the newest latency sample in the moving average.
const LATENCY_ALPHA: f64 = 0.2;

/// Something an endpoint may or may not offer, learned by trying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capability {
    /// `debug_getRawBlock` and `debug_getRawReceipts` (consensus encodings).
    RawBlocks,
    /// `eth_getBorBlockReceipt` (Bor's state-sync receipts).
    BorReceipts,
    /// `eth_getTdByNumber` (go-ethereum had it; Bor has not).
    TdByNumber,
}

impl Capability {
    /// The methods it stands for, as logged.
    pub fn methods(self) -> &'static str {
        match self {
            Self::RawBlocks => "debug_getRawBlock/debug_getRawReceipts",
            Self::BorReceipts => "eth_getBorBlockReceipt",
            Self::TdByNumber => "eth_getTdByNumber",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

#[derive(Debug)]
pub(crate) struct State {
    latency_ms: f64,
    consecutive_failures: u32,
    ok: u64,
    failed: u64,
    open_until: Option<Instant>,
    banned_until: Option<Instant>,
    ban_reason: Option<String>,
    capabilities: [Option<bool>; 3],
    head: u64,
    /// Calls per batch request now.
    pub(crate) batch_limit: usize,
    /// Calls per batch the endpoint said it takes at most (never grown past).
    pub(crate) batch_cap: usize,
    /// Full-size batches answered since the last shrink.
    pub(crate) batch_streak: u32,
    /// Calls wait until then: the endpoint asked us to slow down.
    pub(crate) throttled_until: Option<Instant>,
}

/// What `/api/v1/status` shows about an endpoint.
#[derive(Debug, Clone, Serialize)]
pub struct EndpointStatus {
    /// Endpoint name (`<n>:<host>`; never the path, which often holds an API key).
    pub name: String,
    /// `ok`, `open` (breaker), `banned` or `throttled` (it asked us to slow down).
    pub state: &'static str,
    /// Moving average latency.
    pub latency_ms: f64,
    /// Successful calls.
    pub ok: u64,
    /// Failed calls.
    pub failed: u64,
    /// Whether it serves `debug_getRaw*` (unknown until tried).
    pub raw_methods: Option<bool>,
    /// Whether it serves `eth_getTdByNumber` (unknown until needed).
    pub td_method: Option<bool>,
    /// Calls per batch request it is sent now.
    pub batch_limit: usize,
    /// Its last reported head.
    pub head: u64,
    /// Why it is banned.
    pub ban_reason: Option<String>,
}

/// One upstream.
#[derive(Debug)]
pub struct Endpoint {
    pub(crate) name: String,
    pub(crate) http: Http,
    pub(crate) timeout: Duration,
    budget: DefaultDirectRateLimiter,
    burst: NonZeroU32,
    pub(crate) state: Mutex<State>,
    pub(crate) next_id: AtomicU64,
}

impl Endpoint {
    /// An endpoint for `url` (`index` is its place in the configuration, used in its name), with
    /// the pool's budget, timeout and largest batch.
    ///
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn new(index: usize, url: &Url, config: &PoolConfig) -> Result<Self, ClientError> {
        let burst = NonZeroU32::new(config.requests_per_second.max(1)).unwrap_or(NonZeroU32::MIN);
        let max_batch = config.max_batch.max(1);
        let name = format!("{}:{}", index + 1, url.host_str().unwrap_or("?"));
        let endpoint = Self {
            http: Http::new(&name, url, config.timeout)?,
            name,
            timeout: config.timeout,
            budget: RateLimiter::direct(Quota::per_second(burst)),
            burst,
            state: Mutex::new(State {
                latency_ms: 100.0,
                consecutive_failures: 0,
                ok: 0,
                failed: 0,
                open_until: None,
                banned_until: None,
                ban_reason: None,
                capabilities: [None; 3],
                head: 0,
                batch_limit: max_batch,
                batch_cap: max_batch,
                batch_streak: 0,
                throttled_until: None,
            }),
            next_id: AtomicU64::new(1),
        };
        endpoint.register_metrics(max_batch);
        Ok(endpoint)
    }

    /// Registers its series at their starting values, so they exist before the first event.
    fn register_metrics(&self, max_batch: usize) {
        let name = || self.name.clone();
        for counter in [
            "hypasis_upstream_errors_total",
            "hypasis_upstream_bans_total",
            "hypasis_upstream_breaker_opened_total",
            "hypasis_upstream_budget_exhausted_total",
            "hypasis_upstream_blocks_fetched_total",
            "hypasis_upstream_throttled_total",
        ] {
            metrics::counter!(counter, "upstream" => name()).absolute(0);
        }
        metrics::gauge!("hypasis_upstream_banned", "upstream" => name()).set(0.0);
        metrics::gauge!("hypasis_upstream_batch_limit", "upstream" => name()).set(max_batch as f64);
        let _ = metrics::histogram!("hypasis_upstream_request_seconds", "upstream" => name());
        let _ = metrics::histogram!("hypasis_upstream_budget_wait_seconds", "upstream" => name());
    }

    /// The endpoint's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether calls may go to it now (not banned, breaker not open). A throttled endpoint is
    /// usable: calls wait, and [`score`](Self::score) ranks it last meanwhile.
    pub fn usable(&self) -> bool {
        let now = Instant::now();
        let mut state = self.state.lock();
        if state.banned_until.is_some_and(|t| now >= t) {
            // The ban is over: it no longer shows as banned.
            state.banned_until = None;
            metrics::gauge!("hypasis_upstream_banned", "upstream" => self.name.clone()).set(0.0);
            tracing::info!(target: "upstream", upstream = %self.name, "upstream ban expired");
        }
        state.banned_until.is_none() && state.open_until.is_none_or(|t| now >= t)
    }

    /// Lower is better: latency, inflated by recent failures, plus any wait it asked for.
    pub fn score(&self) -> f64 {
        let state = self.state.lock();
        let throttled_ms = state.throttled_until.map_or(0.0, |t| t.saturating_duration_since(Instant::now()).as_secs_f64() * 1000.0);
        state.latency_ms * f64::from(1 + state.consecutive_failures) + throttled_ms
    }

    /// Moving average latency.
    pub fn latency(&self) -> Duration {
        Duration::from_secs_f64(self.state.lock().latency_ms / 1000.0)
    }

    /// Whether it offers `capability` (`None`: not tried yet).
    pub fn capability(&self, capability: Capability) -> Option<bool> {
        self.state.lock().capabilities[capability.index()]
    }

    /// Records whether it offers `capability`; a change is logged and exported.
    pub fn set_capability(&self, capability: Capability, offered: bool) {
        let before = self.state.lock().capabilities[capability.index()].replace(offered);
        if before != Some(offered) {
            let methods = capability.methods();
            if offered {
                tracing::info!(target: "upstream", upstream = %self.name, methods, "upstream offers these methods");
            } else {
                tracing::info!(target: "upstream", upstream = %self.name, methods, "upstream lacks these methods; using others");
            }
            metrics::gauge!("hypasis_upstream_capability", "upstream" => self.name.clone(), "methods" => methods)
                .set(f64::from(u8::from(offered)));
        }
    }

    /// Whether it serves the raw methods (`None`: not tried yet).
    pub fn raw_methods(&self) -> Option<bool> {
        self.capability(Capability::RawBlocks)
    }

    /// Calls per batch request it is sent now.
    pub fn batch_limit(&self) -> usize {
        self.state.lock().batch_limit
    }

    /// Records the head it reported.
    pub fn set_head(&self, head: u64) {
        self.state.lock().head = head;
    }

    /// Its last reported head.
    pub fn head(&self) -> u64 {
        self.state.lock().head
    }

    /// Skips it for `period` because it sent wrong data.
    pub fn ban(&self, reason: &str, period: Duration) {
        let mut state = self.state.lock();
        state.banned_until = Some(Instant::now() + period);
        state.ban_reason = Some(reason.to_owned());
        metrics::counter!("hypasis_upstream_bans_total", "upstream" => self.name.clone()).increment(1);
        metrics::gauge!("hypasis_upstream_banned", "upstream" => self.name.clone()).set(1.0);
        tracing::warn!(target: "upstream", upstream = %self.name, reason, period_secs = period.as_secs(), "upstream banned");
    }

    /// Whether it is banned now.
    pub fn is_banned(&self) -> bool {
        self.state.lock().banned_until.is_some_and(|t| Instant::now() < t)
    }

    /// A snapshot for the API.
    pub fn status(&self) -> EndpointStatus {
        let now = Instant::now();
        let state = self.state.lock();
        let status = if state.banned_until.is_some_and(|t| now < t) {
            "banned"
        } else if state.open_until.is_some_and(|t| now < t) {
            "open"
        } else if state.throttled_until.is_some_and(|t| now < t) {
            "throttled"
        } else {
            "ok"
        };
        EndpointStatus {
            name: self.name.clone(),
            state: status,
            latency_ms: (state.latency_ms * 10.0).round() / 10.0,
            ok: state.ok,
            failed: state.failed,
            raw_methods: state.capabilities[Capability::RawBlocks.index()],
            td_method: state.capabilities[Capability::TdByNumber.index()],
            batch_limit: state.batch_limit,
            head: state.head,
            ban_reason: state.ban_reason.clone(),
        }
    }

    /// Waits for `calls` cells of the rate budget (in bursts no larger than the budget's), at
    /// most the call timeout; past that the budget counts as exhausted.
    pub(crate) async fn take_budget(&self, calls: usize) -> Result<(), UpstreamError> {
        let wait = async {
            let mut left = u32::try_from(calls.max(1)).unwrap_or(u32::MAX);
            while left > 0 {
                let chunk = left.min(self.burst.get());
                if let Some(n) = NonZeroU32::new(chunk) {
                    let _ = self.budget.until_n_ready(n).await;
                }
                left -= chunk;
            }
        };
        let started = Instant::now();
        let waited = tokio::time::timeout(self.timeout, wait).await;
        metrics::histogram!("hypasis_upstream_budget_wait_seconds", "upstream" => self.name.clone())
            .record(started.elapsed().as_secs_f64());
        waited.map_err(|_| {
            metrics::counter!("hypasis_upstream_budget_exhausted_total", "upstream" => self.name.clone()).increment(1);
            UpstreamError::Budget { upstream: self.name.clone() }
        })
    }

    /// Records the outcome of a call that took `elapsed`.
    pub(crate) fn record(&self, outcome: Result<(), &UpstreamError>, elapsed: Duration) {
        let mut state = self.state.lock();
        let ms = elapsed.as_secs_f64() * 1000.0;
        match outcome {
            Ok(()) => {
                state.latency_ms = state.latency_ms * (1.0 - LATENCY_ALPHA) + ms * LATENCY_ALPHA;
                state.consecutive_failures = 0;
                state.open_until = None;
                state.ok += 1;
                metrics::histogram!("hypasis_upstream_request_seconds", "upstream" => self.name.clone()).record(elapsed.as_secs_f64());
            }
            Err(e) if e.counts_as_failure() => {
                state.consecutive_failures += 1;
                state.failed += 1;
                metrics::counter!("hypasis_upstream_errors_total", "upstream" => self.name.clone()).increment(1);
                if state.consecutive_failures >= BREAKER_THRESHOLD {
                    state.open_until = Some(Instant::now() + BREAKER_COOLDOWN);
                    metrics::counter!("hypasis_upstream_breaker_opened_total", "upstream" => self.name.clone()).increment(1);
                }
            }
            Err(_) => {}
        }
    }
}
