//! `GET /api/v1/gaps`: the block ranges the cache holds and the gaps between the retention floor
//! and the served head (highest first: the order backward sync fills them).

use super::{ApiState, error};
use axum::{
    Json,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde_json::json;
use std::sync::Arc;

/// Most gaps listed (the count is always exact).
const MAX_LISTED: usize = 1_000;

pub(super) async fn gaps(State(state): State<Arc<ApiState>>) -> Response {
    let (held, head) = match tokio::try_join!(state.store.held(), state.store.head()) {
        Ok(v) => v,
        Err(e) => return error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    };
    let floor = state.retention_floor.max(head.map_or(0, |h| h.number.saturating_sub(state.retention_window.unwrap_or(u64::MAX))));
    let ceiling = head.map_or(0, |h| h.number);
    let gaps = if head.is_some() { held.gaps(floor, ceiling) } else { Vec::new() };
    let missing: u64 = gaps.iter().map(|g| g.end() - g.start() + 1).sum();
    let listed: Vec<[u64; 2]> = gaps.iter().take(MAX_LISTED).map(|g| [*g.start(), *g.end()]).collect();
    Json(json!({
        "floor": floor,
        "head": head.map(|h| h.number),
        "held": held,
        "held_blocks": held.count(),
        "gaps": listed,
        "gap_count": gaps.len(),
        "missing_blocks": missing,
    }))
    .into_response()
}
