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
    let Some(sync) = &state.sync else { return no_upstream() };
    Json(sync.checkpoints(LISTED)).into_response()
}

pub(super) async fn upstreams(State(state): State<Arc<ApiState>>) -> Response {
    let Some(sync) = &state.sync else { return no_upstream() };
    Json(json!({ "upstreams": sync.upstreams(), "backfill_paused": sync.paused() })).into_response()
}

pub(super) async fn pause(State(state): State<Arc<ApiState>>) -> Response {
    set_paused(&state, true)
}

pub(super) async fn resume(State(state): State<Arc<ApiState>>) -> Response {
    set_paused(&state, false)
}

fn set_paused(state: &ApiState, paused: bool) -> Response {
    let Some(sync) = &state.sync else { return no_upstream() };
    sync.set_paused(paused);
    Json(json!({ "backfill_paused": paused })).into_response()
}
