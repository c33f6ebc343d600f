//! The transport: [JSON-RPC 2.0] over HTTP `POST /`, single requests and batches.
//!
//! Requests are answered on the blocking pool, since rendering blocks recovers transaction
//! senders. A body that is not JSON answers a -32700 error; a request without an `id` is a
//! notification and gets no answer (a body of notifications only answers `204 No Content`).
//!
//! Limits as the real servers apply them: over the rate limit, `429 Too Many Requests` with
//! `Retry-After` (whole seconds, at least 1); a batch over the batch limit, one error object
//! with id null (Bor's `rpc/server.go`); results past the response-size cap, -32003 for every
//! call left (go-ethereum's `rpc/handler.go`).
//!
//! [JSON-RPC 2.0]: https://www.jsonrpc.org/specification

use crate::{error::RpcError, methods, state::Shared};
use axum::{
    Json, Router,
    body::Bytes,
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::post,
};
use serde_json::{Value, json};
use std::sync::{Arc, atomic::Ordering};

/// go-ethereum's "response too large" error code.
const RESPONSE_TOO_LARGE: i64 = -32003;

/// The router: `POST /` answers JSON-RPC.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/", post(handle))
        .route("/milestones/latest", axum::routing::get(crate::heimdall::latest_milestone))
        .route("/checkpoints/latest", axum::routing::get(crate::heimdall::latest_checkpoint))
        .route("/bor/spans/latest", axum::routing::get(crate::heimdall::latest_span))
        .with_state(shared)
}

async fn handle(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let stall = shared.stall_ms.load(Ordering::Relaxed);
    if stall > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(stall)).await;
    }
    let refused = shared.limits.read().rate.as_ref().and_then(|rate| rate.check().err());
    if let Some(not_until) = refused {
        shared.counters.throttled.fetch_add(1, Ordering::Relaxed);
        let wait = not_until.wait_time_from(governor::clock::Clock::now(&governor::clock::DefaultClock::default()));
        let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        return (StatusCode::TOO_MANY_REQUESTS, [(header::RETRY_AFTER, seconds.max(1).to_string())], "rate limit exceeded").into_response();
    }
    match tokio::task::spawn_blocking(move || respond(&shared, &body)).await {
        Ok(Some(answer)) => Json(answer).into_response(),
        Ok(None) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => {
            tracing::error!(target: "devnet::rpc", error = %e, "request handler failed");
            let error = RpcError::Internal("the request handler failed".into()).response(Value::Null);
            (StatusCode::INTERNAL_SERVER_ERROR, Json(error)).into_response()
        }
    }
}

/// The answer to a request body; `None` when it held notifications only.
pub(crate) fn respond(shared: &Shared, body: &[u8]) -> Option<Value> {
    let request: Value = match serde_json::from_slice(body) {
        Ok(request) => request,
        Err(e) => return Some(RpcError::Parse(e.to_string()).response(Value::Null)),
    };
    let limits = shared.limits.read().config;
    match request {
        Value::Array(batch) if batch.is_empty() => Some(RpcError::InvalidRequest("empty batch".into()).response(Value::Null)),
        Value::Array(batch) if limits.batch_limit > 0 && batch.len() > limits.batch_limit => {
            shared.counters.refused_batches.fetch_add(1, Ordering::Relaxed);
            let message = format!("batch limit {} exceeded: {} requests given", limits.batch_limit, batch.len());
            Some(json!({ "jsonrpc": "2.0", "id": null, "error": { "code": -32000, "message": message } }))
        }
        Value::Array(batch) => {
            let cap = limits.batch_response_max_size;
            let mut answers = Vec::new();
            let mut result_bytes = 0;
            for request in &batch {
                if cap > 0 && result_bytes > cap {
                    if let Some(id) = request.get("id") {
                        answers.push(
                            json!({ "jsonrpc": "2.0", "id": id, "error": { "code": RESPONSE_TOO_LARGE, "message": "response too large" } }),
                        );
                    }
                    continue;
                }
                if let Some(answer) = answer(shared, request) {
                    result_bytes += answer.get("result").map_or(0, |r| r.to_string().len());
                    answers.push(answer);
                }
            }
            (!answers.is_empty()).then_some(Value::Array(answers))
        }
        request => answer(shared, &request),
    }
}

/// The answer to one request object; `None` for a notification.
fn answer(shared: &Shared, request: &Value) -> Option<Value> {
    let Some(request) = request.as_object() else {
        return Some(RpcError::InvalidRequest("a request must be a JSON object".into()).response(Value::Null));
    };
    let id = request.get("id").cloned();
    let Some(method) = request.get("method").and_then(Value::as_str) else {
        return Some(RpcError::InvalidRequest("\"method\" must be a string".into()).response(id.unwrap_or(Value::Null)));
    };
    let result = methods::call(shared, method, request.get("params").unwrap_or(&Value::Null));
    let id = id?;
    Some(match result {
        Ok(result) => json!({ "jsonrpc": "2.0", "id": id, "result": result }),
        Err(error) => error.response(id),
    })
}
