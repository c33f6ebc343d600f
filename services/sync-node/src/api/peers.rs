//! `GET /api/v1/peers`: connected devp2p peers with their counters.

use super::ApiState;
use axum::{
    Json,
    extract::State,
    response::{IntoResponse, Response},
};
use serde_json::json;
use std::sync::Arc;

pub(super) async fn peers(State(state): State<Arc<ApiState>>) -> Response {
    let peers: Vec<_> = state
        .network
        .peers()
        .into_iter()
        .map(|p| {
            json!({
                "id": format!("{:#x}", p.id),
                "client": p.client,
                "address": p.addr.to_string(),
                "eth_version": p.eth_version,
                "trusted": p.trusted,
                "connected_seconds": p.connected_secs,
                "requests": p.requests,
                "bytes_in": p.bytes_in,
                "bytes_out": p.bytes_out,
            })
        })
        .collect();
    Json(json!({ "count": peers.len(), "peak": state.network.peak_peers(), "peers": peers })).into_response()
}
