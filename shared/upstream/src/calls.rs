//! Calls on one endpoint: single requests, and batches cut to the size the endpoint takes.
//!
//! Real endpoints limit batches in three ways, and each is met without failing the calls:
//!
//! - **Item limit.** Bor answers a batch over `--rpc.batchlimit` (default 100) with one error
//!   object (`batch limit 100 exceeded: 150 requests given`, id null); geth answers one over
//!   `--rpc.batch-request-limit` with `[{"id": <first id>, "error": -32600 "batch too large"}]`;
//!   others drop answers. The batch is cut to the limit named in the message, or halved, and
//!   sent again.
//! - **Response size.** geth and Bor stop at `--rpc.batch-response-max-size` and answer every
//!   call left with -32003 "response too large"; an HTTP 413 says the same of the request. Those
//!   calls are sent again in smaller batches.
//! - **Rate.** HTTP 429 (with `Retry-After`) or JSON-RPC -32005 is backpressure: the endpoint is
//!   marked throttled until the time it asked for (at most [`MAX_RETRY_AFTER`]), every call to it
//!   waits until then and tries again, and only a call whose deadline comes first gives up with
//!   [`UpstreamError::RateLimited`]. It never counts as a failure or leads to a ban.
//!
//! What works is remembered per endpoint ([`Endpoint::batch_limit`]); a limit lowered for
//! response size grows back by a quarter after [`GROW_AFTER`] full batches went through, never
//! past a limit the endpoint named. A batch of one call goes out as a plain request.

use crate::{
    endpoint::Endpoint,
    error::{INVALID_REQUEST, LIMIT_EXCEEDED, RESPONSE_TOO_LARGE, UpstreamError},
    transport::{Packet, Reply},
};
use alloy_json_rpc::{Id, ResponsePayload};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::{Value, json};
use std::{
    sync::atomic::Ordering,
    time::{Duration, Instant},
};

/// The longest wait honoured from one `Retry-After` (a larger value is cut to this).
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);
/// Wait after a rate limit that names no time.
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);
/// Full-size batches answered before a lowered batch limit grows again.
pub const GROW_AFTER: u32 = 64;

/// A JSON-RPC error as the endpoint sent it.
#[derive(Debug, Clone)]
struct RpcFailure {
    code: i64,
    message: String,
    data: Option<Value>,
}

/// What one HTTP exchange gave.
enum Exchange {
    /// Answers by call, in the order sent; `None` where the endpoint gave none.
    Answers(Vec<Option<Result<Value, RpcFailure>>>),
    /// The batch as a whole was refused for its size; `cap` is the limit the endpoint named.
    Rejected { cap: Option<usize>, reason: String },
}

/// Why a batch had to be cut, for the metric and the log.
#[derive(Debug, Clone, Copy)]
enum Shrink {
    ItemLimit,
    ResponseSize,
    DroppedAnswers,
}

impl Shrink {
    fn label(self) -> &'static str {
        match self {
            Self::ItemLimit => "item_limit",
            Self::ResponseSize => "response_size",
            Self::DroppedAnswers => "dropped_answers",
        }
    }
}

impl Endpoint {
    /// Calls `method`. Statistics and the breaker are updated; a rate limit is waited out until
    /// the call's deadline.
    ///
    /// # Errors
    /// [`UpstreamError`] from the call, `Budget` when our rate budget is used up, `RateLimited`
    /// when the endpoint's wait outlasts the deadline.
    pub async fn request<P: Serialize, R: DeserializeOwned>(&self, method: &'static str, params: P) -> Result<R, UpstreamError> {
        let params = serde_json::to_value(params)
            .map_err(|e| UpstreamError::Transport { upstream: self.name.clone(), message: format!("{method}: parameters: {e}") })?;
        self.take_budget(1).await?;
        let deadline = Instant::now() + self.timeout;
        let answer = loop {
            let started = Instant::now();
            let answer = self.exchange(&[(method, params.clone())], deadline).await.and_then(|exchange| match exchange {
                Exchange::Answers(mut answers) => Ok(answers.pop().flatten()),
                Exchange::Rejected { reason, .. } => Err(self.transport(format!("{method}: {reason}"))),
            });
            let answer = match answer {
                Ok(Some(Err(failure))) if failure.code == LIMIT_EXCEEDED => {
                    self.throttle(backoff_of(&failure));
                    continue;
                }
                Ok(Some(answer)) => answer.map_err(|failure| self.rpc_error(method, failure)),
                Ok(None) => Err(self.transport(format!("{method}: no answer"))),
                Err(e) => Err(e),
            };
            self.record(answer.as_ref().map(|_| ()), started.elapsed());
            break answer?;
        };
        serde_json::from_value(answer).map_err(|e| self.transport(format!("{method}: unexpected answer: {e}")))
    }

    /// Sends `calls` as JSON-RPC batches of at most [`batch_limit`](Self::batch_limit) calls;
    /// one result per call, in order. Each call counts once against the budget.
    ///
    /// # Errors
    /// [`UpstreamError`] when a batch fails as a whole (transport, a rate limit past the
    /// deadline).
    pub async fn batch(&self, calls: &[(&'static str, Value)]) -> Result<Vec<Result<Value, UpstreamError>>, UpstreamError> {
        self.take_budget(calls.len()).await?;
        let limit = self.batch_limit();
        let deadline = Instant::now() + self.timeout * (2 + u32::try_from(calls.len() / limit).unwrap_or(u32::MAX / 4));
        let mut results: Vec<Option<Result<Value, UpstreamError>>> = vec![None; calls.len()];
        let mut pending: Vec<usize> = (0..calls.len()).collect();
        while !pending.is_empty() {
            let size = self.batch_limit().min(pending.len());
            let chunk: Vec<usize> = pending.drain(..size).collect();
            let request: Vec<(&'static str, Value)> = chunk.iter().map(|&i| (calls[i].0, calls[i].1.clone())).collect();
            let started = Instant::now();
            let exchange = match self.exchange(&request, deadline).await {
                Ok(exchange) => exchange,
                Err(e) => {
                    self.record(Err(&e), started.elapsed());
                    return Err(e);
                }
            };
            let answers = match exchange {
                Exchange::Answers(answers) => answers,
                Exchange::Rejected { reason, .. } if size == 1 => {
                    let e = self.transport(format!("{}: {reason}", calls[chunk[0]].0));
                    self.record(Err(&e), started.elapsed());
                    return Err(e);
                }
                Exchange::Rejected { cap, reason } => {
                    self.shrink(size, cap, Shrink::ItemLimit, &reason);
                    pending.splice(0..0, chunk);
                    continue;
                }
            };
            let mut again = Vec::new();
            let mut why = None;
            for (&i, answer) in chunk.iter().zip(answers) {
                match answer {
                    None => {
                        why.get_or_insert((Shrink::DroppedAnswers, "answers missing from the batch".to_owned()));
                        again.push(i);
                    }
                    Some(Err(failure)) if is_batch_too_large(&failure) => {
                        why.get_or_insert((Shrink::ItemLimit, failure.message.clone()));
                        again.push(i);
                    }
                    Some(Err(failure)) if is_response_too_large(&failure) => {
                        why.get_or_insert((Shrink::ResponseSize, failure.message.clone()));
                        again.push(i);
                    }
                    Some(Err(failure)) if failure.code == LIMIT_EXCEEDED => {
                        self.throttle(backoff_of(&failure));
                        again.push(i);
                    }
                    Some(answer) => results[i] = Some(answer.map_err(|failure| self.rpc_error(calls[i].0, failure))),
                }
            }
            if again.len() == chunk.len() && size == 1 && why.is_some() {
                let e = self.transport(format!("{}: no answer even alone", calls[chunk[0]].0));
                self.record(Err(&e), started.elapsed());
                return Err(e);
            }
            let first_failure =
                chunk.iter().filter_map(|&i| results[i].as_ref()).find_map(|r| r.as_ref().err().filter(|e| e.counts_as_failure()));
            self.record(first_failure.map_or(Ok(()), Err), started.elapsed());
            match why {
                Some((shrink, reason)) => self.shrink(size, None, shrink, &reason),
                None if again.is_empty() => self.answered_in_full(size),
                None => {}
            }
            pending.splice(0..0, again);
        }
        Ok(results.into_iter().map(|r| r.unwrap_or_else(|| Err(self.transport("no answer".into())))).collect())
    }

    /// One HTTP exchange of `calls` (a plain request when there is one call, else a batch),
    /// waiting out rate limits until `deadline`.
    async fn exchange(&self, calls: &[(&'static str, Value)], deadline: Instant) -> Result<Exchange, UpstreamError> {
        let first_id = self.next_id.fetch_add(calls.len() as u64, Ordering::Relaxed);
        let requests: Vec<Value> = calls
            .iter()
            .enumerate()
            .map(|(i, (method, params))| json!({ "jsonrpc": "2.0", "id": first_id + i as u64, "method": method, "params": params }))
            .collect();
        let single = calls.len() == 1;
        let body = if single { serde_json::to_vec(&requests[0]) } else { serde_json::to_vec(&requests) }
            .map_err(|e| self.transport(format!("request: {e}")))?;
        loop {
            self.wait_throttle(deadline).await?;
            let remaining = deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(1));
            let reply = match tokio::time::timeout(remaining.min(self.timeout), self.http.post(body.clone())).await {
                Ok(reply) => reply?,
                Err(_) => return Err(self.transport(format!("timed out after {:?}", remaining.min(self.timeout)))),
            };
            return Ok(match reply {
                Reply::Throttled(retry_after) => {
                    self.throttle(retry_after.unwrap_or(DEFAULT_RETRY_AFTER));
                    continue;
                }
                Reply::TooLarge => Exchange::Rejected { cap: None, reason: "HTTP 413 Payload Too Large".into() },
                Reply::Packet(packet) => self.sort_answers(packet, first_id, calls.len(), single)?,
            });
        }
    }

    /// Puts the answers of `packet` in the order of the calls (ids `first_id..`).
    fn sort_answers(&self, packet: Packet, first_id: u64, count: usize, single: bool) -> Result<Exchange, UpstreamError> {
        let responses = match packet {
            Packet::Single(response) if !single => {
                // One object for a whole batch: the batch was refused (Bor's item limit).
                return match response.payload {
                    ResponsePayload::Failure(error) => {
                        let reason = error.message.to_string();
                        Ok(Exchange::Rejected { cap: named_limit(&reason), reason })
                    }
                    ResponsePayload::Success(_) => Err(self.transport("answered a batch with a single result".into())),
                };
            }
            Packet::Single(response) => vec![response],
            Packet::Batch(responses) => responses,
        };
        let mut answers: Vec<Option<Result<Value, RpcFailure>>> = vec![None; count];
        for response in responses {
            let slot = match response.id {
                Id::Number(id) if (first_id..first_id + count as u64).contains(&id) => (id - first_id) as usize,
                // A plain request's error may come back with a null id (a parse or limit error).
                Id::None if single => 0,
                _ => continue,
            };
            answers[slot] = Some(match response.payload {
                ResponsePayload::Success(value) => Ok(value),
                ResponsePayload::Failure(error) => {
                    Err(RpcFailure { code: error.code, message: error.message.to_string(), data: error.data })
                }
            });
        }
        Ok(Exchange::Answers(answers))
    }

    /// Waits until the endpoint's throttle ends, unless that is after `deadline`.
    async fn wait_throttle(&self, deadline: Instant) -> Result<(), UpstreamError> {
        let Some(until) = self.state.lock().throttled_until else { return Ok(()) };
        let now = Instant::now();
        if until <= now {
            return Ok(());
        }
        if until > deadline {
            return Err(UpstreamError::RateLimited { upstream: self.name.clone(), retry_after: until - now });
        }
        tokio::time::sleep_until(until.into()).await;
        Ok(())
    }

    /// The endpoint asked us to wait `retry_after` (cut to [`MAX_RETRY_AFTER`]).
    fn throttle(&self, retry_after: Duration) {
        let until = Instant::now() + retry_after.min(MAX_RETRY_AFTER);
        let mut state = self.state.lock();
        if state.throttled_until.is_none_or(|t| t < until) {
            state.throttled_until = Some(until);
        }
        drop(state);
        metrics::counter!("hypasis_upstream_throttled_total", "upstream" => self.name.clone()).increment(1);
        tracing::debug!(target: "upstream", upstream = %self.name, retry_after_ms = retry_after.as_millis() as u64, "upstream asked us to slow down");
    }

    /// Lowers the batch limit after a batch of `tried` calls was refused or cut short.
    fn shrink(&self, tried: usize, cap: Option<usize>, why: Shrink, reason: &str) {
        let mut state = self.state.lock();
        if let Some(cap) = cap {
            state.batch_cap = state.batch_cap.min(cap.max(1));
        }
        let lower = match cap {
            Some(cap) if cap < tried => cap.max(1),
            _ => (tried / 2).max(1),
        }
        .min(state.batch_cap);
        state.batch_streak = 0;
        if lower < state.batch_limit {
            state.batch_limit = lower;
            drop(state);
            metrics::counter!("hypasis_upstream_batch_shrunk_total", "upstream" => self.name.clone(), "reason" => why.label()).increment(1);
            metrics::gauge!("hypasis_upstream_batch_limit", "upstream" => self.name.clone()).set(lower as f64);
            tracing::info!(target: "upstream", upstream = %self.name, batch_limit = lower, reason, "upstream takes smaller batches; remembered");
        }
    }

    /// A batch of `size` calls was answered in full: a lowered limit grows back slowly.
    fn answered_in_full(&self, size: usize) {
        let mut state = self.state.lock();
        if size < state.batch_limit || state.batch_limit >= state.batch_cap {
            return;
        }
        state.batch_streak += 1;
        if state.batch_streak >= GROW_AFTER {
            state.batch_streak = 0;
            state.batch_limit = (state.batch_limit + (state.batch_limit / 4).max(1)).min(state.batch_cap);
            metrics::gauge!("hypasis_upstream_batch_limit", "upstream" => self.name.clone()).set(state.batch_limit as f64);
        }
    }

    pub(crate) fn transport(&self, message: String) -> UpstreamError {
        UpstreamError::Transport { upstream: self.name.clone(), message }
    }

    fn rpc_error(&self, method: &str, failure: RpcFailure) -> UpstreamError {
        UpstreamError::Rpc { upstream: self.name.clone(), method: method.to_owned(), code: failure.code, message: failure.message }
    }
}

/// "batch limit 100 exceeded: 150 requests given" (Bor) names the limit.
fn named_limit(message: &str) -> Option<usize> {
    let rest = message.split("batch limit ").nth(1)?;
    rest.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok().filter(|n| *n > 0)
}

fn is_batch_too_large(failure: &RpcFailure) -> bool {
    failure.code == INVALID_REQUEST && failure.message.contains("batch too large")
}

fn is_response_too_large(failure: &RpcFailure) -> bool {
    failure.code == RESPONSE_TOO_LARGE || failure.message.contains("response too large")
}

/// The wait a -32005 error asks for (`data.rate.backoff_seconds`, as Infura sends), else the
/// default.
fn backoff_of(failure: &RpcFailure) -> Duration {
    failure
        .data
        .as_ref()
        .and_then(|data| data.pointer("/rate/backoff_seconds"))
        .and_then(Value::as_f64)
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map_or(DEFAULT_RETRY_AFTER, Duration::from_secs_f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bor_names_its_batch_limit() {
        assert_eq!(named_limit("batch limit 100 exceeded: 150 requests given"), Some(100));
        assert_eq!(named_limit("batch limit 0 exceeded"), None);
        assert_eq!(named_limit("batch too large"), None);
    }

    #[test]
    fn backoff_comes_from_the_error_data() {
        let failure = RpcFailure {
            code: LIMIT_EXCEEDED,
            message: "project ID request rate exceeded".into(),
            data: Some(json!({"rate": {"backoff_seconds": 2.5}})),
        };
        assert_eq!(backoff_of(&failure), Duration::from_millis(2500));
        let bare = RpcFailure { data: None, ..failure };
        assert_eq!(backoff_of(&bare), DEFAULT_RETRY_AFTER);
    }
}
