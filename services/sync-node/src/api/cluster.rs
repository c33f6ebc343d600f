//! `GET /api/v1/cluster` (members, leader) and `GET /api/v1/bootnodes` (enode URLs to give
//! operators: the cluster enode first, then each live instance's own).

use super::{ApiState, error};
use axum::{
    Json,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use hypasis_cluster::Leadership;
use serde_json::json;
use std::sync::Arc;

pub(super) async fn cluster(State(state): State<Arc<ApiState>>) -> Response {
    let me = match *state.leadership.borrow() {
        Leadership::Leader { token } => json!({ "instance_id": state.instance_id, "leader": true, "fencing_token": token }),
        Leadership::Follower => json!({ "instance_id": state.instance_id, "leader": false }),
    };
    let Some(cluster) = &state.cluster else {
        return Json(json!({ "mode": "embedded", "leader": state.instance_id, "me": me, "members": [] })).into_response();
    };
    let (leader, members) = match tokio::try_join!(cluster.leader(), cluster.members()) {
        Ok(v) => v,
        Err(e) => return error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    };
    Json(json!({ "mode": "cluster", "leader": leader, "me": me, "members": members })).into_response()
}

pub(super) async fn bootnodes(State(state): State<Arc<ApiState>>) -> Response {
    let mut enodes: Vec<String> = state.network.enodes.clone();
    if let Some(cluster) = &state.cluster {
        match cluster.members().await {
            Ok(members) => enodes.extend(members.into_iter().flat_map(|m| m.enodes)),
            Err(e) => return error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
        }
    }
    // The shared cluster enode is listed first by every instance; keep first occurrences.
    let mut seen = std::collections::HashSet::new();
    enodes.retain(|e| seen.insert(e.clone()));
    Json(json!({ "bootnodes": enodes })).into_response()
}
