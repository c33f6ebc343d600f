//! Upstream sync endpoints: `GET /api/v1/checkpoints`, `GET /api/v1/upstreams`,
//! `POST /api/v1/sync/pause` and `POST /api/v1/sync/resume` (backward sync only; forward sync
//! always follows the tip).

use super::{ApiState, error};
use axum::{
    Json,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde_json::json;
use std::sync::Arc;

/// Checkpoints listed.
const LISTED: usize = 50;

fn no_upstream() -> Response {
    error(StatusCode::NOT_FOUND, "this node does not sync from upstreams; start it with --upstream <url> (or POLYGON_RPC_1)")
}

pub(super) async fn checkpoints(State(state): State<Arc<ApiState>>) -> Response {
    let Some(sync) = &state.upstream else { return no_upstream() };
    let (verified, pending, evictions) = sync.checkpoints.counts();
    Json(json!({
        "source": if sync.l1 { "rootchain" } else { "none (set --eth-l1-rpc-url)" },
        "verified_through": sync.checkpoints.verified_through(),
        "verified": verified,
        "pending": pending,
        "evictions": evictions,
        "latest": sync.checkpoints.latest(LISTED),
        "heimdall": sync.milestones.as_ref().map(|g| g.status()),
    }))
    .into_response()
}

pub(super) async fn upstreams(State(state): State<Arc<ApiState>>) -> Response {
    let Some(sync) = &state.upstream else { return no_upstream() };
    let list: Vec<_> = sync.pool.endpoints().iter().map(|e| e.status()).collect();
    Json(json!({ "upstreams": list, "backfill_paused": *sync.paused.borrow() })).into_response()
}

pub(super) async fn pause(State(state): State<Arc<ApiState>>) -> Response {
    set_paused(&state, true)
}

pub(super) async fn resume(State(state): State<Arc<ApiState>>) -> Response {
    set_paused(&state, false)
}

fn set_paused(state: &ApiState, paused: bool) -> Response {
    let Some(sync) = &state.upstream else { return no_upstream() };
    sync.paused.send_replace(paused);
    tracing::info!(target: "api", paused, "backward sync {}", if paused { "paused" } else { "resumed" });
    Json(json!({ "backfill_paused": paused })).into_response()
}
