//! [`UpstreamPool`]: several endpoints, best first.
//!
//! A call goes to the best usable endpoint (lowest score: latency inflated by failures; ties by
//! configuration order). When it has not answered after the hedge delay (three times its usual
//! latency, at least [`PoolConfig::hedge_min`]), the same call also goes to the next endpoint
//! and the first good answer wins. Failures move on to the next endpoint; when every endpoint
//! failed, the round is retried after a backoff that doubles. An endpoint that sent wrong data
//! is banned on the spot.

use crate::{
    endpoint::Endpoint,
    error::{ClientError, UpstreamError},
};
use std::{future::Future, sync::Arc, time::Duration};
use url::Url;

/// Pool settings.
#[derive(Debug, Clone)]
pub struct PoolConfig {
    /// Budget of each endpoint, in calls per second (a batch element is one call).
    pub requests_per_second: u32,
    /// Deadline of one call.
    pub timeout: Duration,
    /// Rounds over all endpoints before giving up.
    pub rounds: u32,
    /// Pause after the first failed round (doubles each round).
    pub backoff: Duration,
    /// Shortest hedge delay.
    pub hedge_min: Duration,
    /// How long a lying endpoint is skipped.
    pub ban_period: Duration,
    /// Most calls sent in one JSON-RPC batch request (lowered per endpoint when it refuses
    /// batches that large; see [`calls`](crate::calls)).
    pub max_batch: usize,
}

/// Budget of each endpoint unless configured (`--upstream-rps`), in calls per second (a block
/// costs 2 calls, plus one per batch).
pub const DEFAULT_REQUESTS_PER_SECOND: u32 = 200;

/// Calls per batch request unless configured: Bor's `--rpc.batchlimit` default.
pub const DEFAULT_MAX_BATCH: usize = 100;

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            requests_per_second: DEFAULT_REQUESTS_PER_SECOND,
            timeout: Duration::from_secs(10),
            rounds: 3,
            backoff: Duration::from_millis(200),
            hedge_min: Duration::from_millis(300),
            ban_period: Duration::from_secs(600),
            max_batch: DEFAULT_MAX_BATCH,
        }
    }
}

/// The upstream endpoints.
#[derive(Debug)]
pub struct UpstreamPool {
    endpoints: Vec<Arc<Endpoint>>,
    config: PoolConfig,
}

type Outcome<T> = (Arc<Endpoint>, Result<T, UpstreamError>);

impl UpstreamPool {
    /// A pool over `urls`, in priority order.
    ///
    /// # Errors
    /// When an HTTP client cannot be built.
    pub fn new(urls: &[Url], config: PoolConfig) -> Result<Self, ClientError> {
        let endpoints = urls.iter().enumerate().map(|(i, url)| Endpoint::new(i, url, &config).map(Arc::new)).collect::<Result<_, _>>()?;
        Ok(Self { endpoints, config })
    }

    /// Every endpoint, in configuration order.
    pub fn endpoints(&self) -> &[Arc<Endpoint>] {
        &self.endpoints
    }

    /// Usable endpoints, best first.
    pub fn ranked(&self) -> Vec<Arc<Endpoint>> {
        let mut usable: Vec<(usize, Arc<Endpoint>)> =
            self.endpoints.iter().enumerate().filter(|(_, e)| e.usable()).map(|(i, e)| (i, e.clone())).collect();
        usable.sort_by(|(ia, a), (ib, b)| a.score().total_cmp(&b.score()).then(ia.cmp(ib)));
        usable.into_iter().map(|(_, e)| e).collect()
    }

    /// Bans `endpoint` for the configured period for an answer that failed verification
    /// (`reason`: what was wrong).
    pub fn ban(&self, endpoint: &Endpoint, reason: &str) {
        self.ban_for(endpoint, "bad_data", reason);
    }

    /// Bans `endpoint` for the configured period; `label` is the `reason` label of
    /// `hypasis_blocks_rejected_total` (a short name for the rule broken), `reason` the message.
    pub fn ban_for(&self, endpoint: &Endpoint, label: &'static str, reason: &str) {
        // Every ban is an answer that failed verification: nothing of it was stored.
        metrics::counter!("hypasis_blocks_rejected_total", "source" => "upstream", "reason" => label).increment(1);
        endpoint.ban(reason, self.config.ban_period);
    }

    fn note(&self, outcome: &Outcome<impl Sized>) {
        if let (endpoint, Err(e)) = outcome
            && e.is_bad_data()
        {
            self.ban(endpoint, &e.to_string());
        }
    }

    /// Runs `op` on the best endpoint, failing over, hedging and retrying as described above.
    /// Returns the answer and the endpoint that gave it.
    ///
    /// # Errors
    /// The last error when every round failed, or [`UpstreamError::NoUpstream`].
    pub async fn call<T, F, Fut>(&self, op: F) -> Result<(T, Arc<Endpoint>), UpstreamError>
    where
        F: Fn(Arc<Endpoint>) -> Fut,
        Fut: Future<Output = Result<T, UpstreamError>>,
    {
        let mut last = None;
        for round in 0..self.config.rounds.max(1) {
            if round > 0 {
                tokio::time::sleep(self.config.backoff * 2u32.saturating_pow(round - 1)).await;
            }
            let ranked = self.ranked();
            let mut i = 0;
            while i < ranked.len() {
                let (primary, backup) = (ranked[i].clone(), ranked.get(i + 1).cloned());
                let (outcome, used_backup) = self.hedged(&op, primary, backup).await;
                i += if used_backup { 2 } else { 1 };
                self.note(&outcome);
                match outcome {
                    (endpoint, Ok(value)) => return Ok((value, endpoint)),
                    (_, Err(e)) => {
                        let retryable = e.is_retryable() || e.is_bad_data();
                        last = Some(e);
                        if !retryable {
                            break;
                        }
                    }
                }
            }
        }
        Err(last.unwrap_or_else(|| UpstreamError::NoUpstream(self.why_none())))
    }

    fn why_none(&self) -> String {
        if self.endpoints.is_empty() {
            return "none configured; set --upstream or POLYGON_RPC_1".into();
        }
        let states: Vec<String> = self.endpoints.iter().map(|e| format!("{} {}", e.name(), e.status().state)).collect();
        states.join(", ")
    }

    /// Runs `op` on `primary`; after the hedge delay also on `backup`. Returns the first good
    /// outcome (else the last bad one) and whether the backup was used.
    async fn hedged<T, F, Fut>(&self, op: &F, primary: Arc<Endpoint>, backup: Option<Arc<Endpoint>>) -> (Outcome<T>, bool)
    where
        F: Fn(Arc<Endpoint>) -> Fut,
        Fut: Future<Output = Result<T, UpstreamError>>,
    {
        let run = |endpoint: Arc<Endpoint>| {
            let fut = op(endpoint.clone());
            async move { (endpoint, fut.await) }
        };
        let delay = (primary.latency() * 3).max(self.config.hedge_min);
        let first = run(primary);
        tokio::pin!(first);
        let Some(backup) = backup else { return (first.await, false) };
        tokio::select! {
            biased;
            outcome = &mut first => return (outcome, false),
            () = tokio::time::sleep(delay) => {}
        }
        metrics::counter!("hypasis_upstream_hedged_total").increment(1);
        let second = run(backup);
        tokio::pin!(second);
        let outcome = tokio::select! {
            outcome = &mut first => {
                if outcome.1.is_ok() {
                    outcome
                } else {
                    self.note(&outcome);
                    second.await
                }
            }
            outcome = &mut second => {
                if outcome.1.is_ok() {
                    outcome
                } else {
                    self.note(&outcome);
                    first.await
                }
            }
        };
        (outcome, true)
    }
}
