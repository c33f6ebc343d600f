//! The transport: [JSON-RPC 2.0] over HTTP `POST /`, single requests and batches.
//!
//! Requests are answered on the blocking pool, since rendering blocks recovers transaction
//! senders. A body that is not JSON answers a -32700 error; a request without an `id` is a
//! notification and gets no answer (a body of notifications only answers `204 No Content`).
//!
//! [JSON-RPC 2.0]: https://www.jsonrpc.org/specification

use super::{error::RpcError, methods, state::Shared};
use axum::{
    Json, Router,
    body::Bytes,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::post,
};
use serde_json::{Value, json};
use std::sync::Arc;

/// Most requests in one batch (geth's default limit).
pub(crate) const MAX_BATCH: usize = 1000;

/// The router: `POST /` answers JSON-RPC.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/", post(handle))
        .route("/milestones/latest", axum::routing::get(super::heimdall::latest_milestone))
        .route("/checkpoints/latest", axum::routing::get(super::heimdall::latest_checkpoint))
        .route("/bor/spans/latest", axum::routing::get(super::heimdall::latest_span))
        .with_state(shared)
}

async fn handle(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
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
    match request {
        Value::Array(batch) if batch.is_empty() => Some(RpcError::InvalidRequest("empty batch".into()).response(Value::Null)),
        Value::Array(batch) if batch.len() > MAX_BATCH => Some(
            RpcError::InvalidRequest(format!("a batch of {} requests is over the limit of {MAX_BATCH}", batch.len())).response(Value::Null),
        ),
        Value::Array(batch) => {
            let answers: Vec<Value> = batch.iter().filter_map(|request| answer(shared, request)).collect();
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
