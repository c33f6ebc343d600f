//! Liveness and readiness.

use super::{ApiState, error};
use axum::{
    Json,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use std::sync::Arc;

/// The process is up and answering.
pub(super) async fn live() -> Response {
    Json(serde_json::json!({ "status": "ok" })).into_response()
}

/// The node has a head to serve.
pub(super) async fn ready(State(state): State<Arc<ApiState>>) -> Response {
    match state.store.head().await {
        Ok(Some(head)) => Json(serde_json::json!({ "status": "ready", "head": head.number })).into_response(),
        Ok(None) => error(StatusCode::SERVICE_UNAVAILABLE, "no head yet: the cache holds no blocks"),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}
