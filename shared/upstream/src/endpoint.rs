//! One upstream endpoint: alloy's JSON-RPC client over HTTP, with statistics, a circuit breaker,
//! a rate budget and a ban.
//!
//! Breaker: after [`BREAKER_THRESHOLD`] consecutive failures the endpoint is skipped for
//! [`BREAKER_COOLDOWN`]; then one call is let through (half-open): a success closes the breaker,
//! a failure opens it again. A ban (wrong data) skips it for the ban period whatever it answers.

use crate::error::UpstreamError;
use alloy_json_rpc::{RpcError, RpcRecv, RpcSend};
use alloy_rpc_client::RpcClient;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use parking_lot::Mutex;
use serde::Serialize;
use std::{
    num::NonZeroU32,
    time::{Duration, Instant},
};
use url::Url;

/// Consecutive failures that open the breaker.
pub const BREAKER_THRESHOLD: u32 = 5;
/// How long an open breaker skips the endpoint.
pub const BREAKER_COOLDOWN: Duration = Duration::from_secs(5);
/// Weight of the newest latency sample in the moving average.
const LATENCY_ALPHA: f64 = 0.2;

#[derive(Debug)]
struct State {
    latency_ms: f64,
    consecutive_failures: u32,
    ok: u64,
    failed: u64,
    open_until: Option<Instant>,
    banned_until: Option<Instant>,
    ban_reason: Option<String>,
    raw: Option<bool>,
    bor_receipts: Option<bool>,
    head: u64,
}

/// What `/api/v1/status` shows about an endpoint.
#[derive(Debug, Clone, Serialize)]
pub struct EndpointStatus {
    /// Endpoint name (`<n>:<host>`; never the path, which often holds an API key).
    pub name: String,
    /// `ok`, `open` (breaker) or `banned`.
    pub state: &'static str,
    /// Moving average latency.
    pub latency_ms: f64,
    /// Successful calls.
    pub ok: u64,
    /// Failed calls.
    pub failed: u64,
    /// Whether it serves `debug_getRaw*` (unknown until tried).
    pub raw_methods: Option<bool>,
    /// Its last reported head.
    pub head: u64,
    /// Why it is banned.
    pub ban_reason: Option<String>,
}

/// One upstream.
#[derive(Debug)]
pub struct Endpoint {
    name: String,
    client: RpcClient,
    timeout: Duration,
    budget: DefaultDirectRateLimiter,
    burst: NonZeroU32,
    state: Mutex<State>,
}

impl Endpoint {
    /// An endpoint for `url` (`index` is its place in the configuration, used in its name), with
    /// `requests_per_second` as its budget and `timeout` per call.
    ///
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn new(index: usize, url: &Url, requests_per_second: u32, timeout: Duration) -> Result<Self, String> {
        // reqwest is built without a bundled crypto provider; use ring (already linked for Redis TLS).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest13::Client::builder().timeout(timeout).build().map_err(|e| format!("HTTP client: {e}"))?;
        let client = RpcClient::new_http_with_client(http, url.clone());
        let burst = NonZeroU32::new(requests_per_second.max(1)).unwrap_or(NonZeroU32::MIN);
        let quota = Quota::per_second(burst);
        Ok(Self {
            name: format!("{}:{}", index + 1, url.host_str().unwrap_or("?")),
            client,
            timeout,
            budget: RateLimiter::direct(quota),
            burst,
            state: Mutex::new(State {
                latency_ms: 100.0,
                consecutive_failures: 0,
                ok: 0,
                failed: 0,
                open_until: None,
                banned_until: None,
                ban_reason: None,
                raw: None,
                bor_receipts: None,
                head: 0,
            }),
        })
    }

    /// The endpoint's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether calls may go to it now (not banned, breaker not open).
    pub fn usable(&self) -> bool {
        let now = Instant::now();
        let state = self.state.lock();
        state.banned_until.is_none_or(|t| now >= t) && state.open_until.is_none_or(|t| now >= t)
    }

    /// Lower is better: latency, inflated by recent failures.
    pub fn score(&self) -> f64 {
        let state = self.state.lock();
        state.latency_ms * f64::from(1 + state.consecutive_failures)
    }

    /// Moving average latency.
    pub fn latency(&self) -> Duration {
        Duration::from_secs_f64(self.state.lock().latency_ms / 1000.0)
    }

    /// Whether it serves the raw methods (`None`: not tried yet).
    pub fn raw_methods(&self) -> Option<bool> {
        self.state.lock().raw
    }

    /// Records whether it serves the raw methods.
    pub fn set_raw_methods(&self, raw: bool) {
        self.state.lock().raw = Some(raw);
    }

    /// Whether it serves `eth_getBorBlockReceipt` (`None`: not tried yet).
    pub fn bor_receipts(&self) -> Option<bool> {
        self.state.lock().bor_receipts
    }

    /// Records whether it serves `eth_getBorBlockReceipt`.
    pub fn set_bor_receipts(&self, served: bool) {
        self.state.lock().bor_receipts = Some(served);
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
        } else {
            "ok"
        };
        EndpointStatus {
            name: self.name.clone(),
            state: status,
            latency_ms: (state.latency_ms * 10.0).round() / 10.0,
            ok: state.ok,
            failed: state.failed,
            raw_methods: state.raw,
            head: state.head,
            ban_reason: state.ban_reason.clone(),
        }
    }

    /// Waits for `calls` cells of the rate budget (in bursts no larger than the budget's), at
    /// most the call timeout; past that the budget counts as exhausted.
    async fn take_budget(&self, calls: usize) -> Result<(), UpstreamError> {
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

    fn convert(&self, method: &str, e: RpcError<alloy_transport::TransportErrorKind>) -> UpstreamError {
        match e {
            RpcError::ErrorResp(payload) => UpstreamError::Rpc {
                upstream: self.name.clone(),
                method: method.to_owned(),
                code: payload.code,
                message: payload.message.to_string(),
            },
            other => UpstreamError::Transport { upstream: self.name.clone(), message: format!("{method}: {other}") },
        }
    }

    /// Calls `method`. Statistics and the breaker are updated.
    ///
    /// # Errors
    /// [`UpstreamError`] from the call, or `Budget` when the rate budget is used up.
    pub async fn request<P: RpcSend, R: RpcRecv>(&self, method: &'static str, params: P) -> Result<R, UpstreamError> {
        self.take_budget(1).await?;
        let started = Instant::now();
        let result = match tokio::time::timeout(self.timeout, self.client.request(method, params)).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(self.convert(method, e)),
            Err(_) => Err(UpstreamError::Transport {
                upstream: self.name.clone(),
                message: format!("{method}: timed out after {:?}", self.timeout),
            }),
        };
        self.record(result.as_ref().map(|_| ()), started.elapsed());
        result
    }

    /// Sends `calls` as one JSON-RPC batch; one result per call, in order. Each call counts
    /// against the budget.
    ///
    /// # Errors
    /// [`UpstreamError`] when the batch as a whole fails.
    pub async fn batch(
        &self,
        calls: &[(&'static str, serde_json::Value)],
    ) -> Result<Vec<Result<serde_json::Value, UpstreamError>>, UpstreamError> {
        self.take_budget(calls.len()).await?;
        let started = Instant::now();
        let mut batch = self.client.new_batch();
        let mut waiters = Vec::with_capacity(calls.len());
        for (method, params) in calls {
            let waiter = batch
                .add_call::<_, serde_json::Value>(*method, params)
                .map_err(|e| UpstreamError::Transport { upstream: self.name.clone(), message: format!("{method}: {e}") })?;
            waiters.push(waiter);
        }
        let sent = match tokio::time::timeout(self.timeout, batch.send()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(self.convert("batch", e)),
            Err(_) => {
                Err(UpstreamError::Transport { upstream: self.name.clone(), message: format!("batch timed out after {:?}", self.timeout) })
            }
        };
        if let Err(e) = sent {
            self.record(Err(&e), started.elapsed());
            return Err(e);
        }
        let mut out = Vec::with_capacity(calls.len());
        for ((method, _), waiter) in calls.iter().zip(waiters) {
            out.push(waiter.await.map_err(|e| self.convert(method, e)));
        }
        let first_failure = out.iter().find_map(|r| r.as_ref().err().filter(|e| e.counts_as_failure()));
        self.record(first_failure.map_or(Ok(()), Err), started.elapsed());
        Ok(out)
    }
}
