//! `GET /api/v1/status`.

use super::{ApiState, error};
use alloy_primitives::{B256, U256};
use axum::{
    Json,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use hypasis_store::ChainHead;
use hypasis_syncer::SyncStatus;
use serde::Serialize;
use std::sync::Arc;

#[derive(Debug, Serialize)]
struct Status {
    instance_id: String,
    version: &'static str,
    chain: String,
    chain_id: u64,
    network_id: u64,
    genesis_hash: B256,
    fork_id: ForkIdJson,
    head: Option<HeadJson>,
    enode: Option<String>,
    enodes: Vec<String>,
    enr: String,
    peers: usize,
    peers_peak: usize,
    sync: SyncStatus,
    seal_check: crate::node::seals::SealStatus,
    uptime_seconds: u64,
}

#[derive(Debug, Serialize)]
struct ForkIdJson {
    hash: String,
    next: u64,
}

#[derive(Debug, Serialize)]
struct HeadJson {
    number: u64,
    hash: B256,
    /// Decimal string: total difficulty can exceed what JSON numbers carry exactly.
    total_difficulty: String,
    timestamp: u64,
}

pub(super) async fn status(State(state): State<Arc<ApiState>>) -> Response {
    let (head, range) = match tokio::try_join!(state.store.head(), state.store.range()) {
        Ok(v) => v,
        Err(e) => return error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    };
    let head = head.or_else(|| {
        state.spec.genesis_header.as_ref().map(|g| ChainHead {
            number: 0,
            hash: g.hash(),
            total_difficulty: g.difficulty,
            timestamp: g.timestamp,
        })
    });
    let fork_id = head.map_or_else(|| state.spec.fork_id(0, 0), |h| state.spec.fork_id(h.number, h.timestamp));
    Json(Status {
        instance_id: state.instance_id.clone(),
        version: env!("CARGO_PKG_VERSION"),
        chain: state.spec.name.clone(),
        chain_id: state.spec.chain_id,
        network_id: state.spec.network_id,
        genesis_hash: state.spec.genesis_hash,
        fork_id: ForkIdJson { hash: format!("0x{}", hex_bytes(&fork_id.hash.0)), next: fork_id.next },
        head: head.map(|h| HeadJson {
            number: h.number,
            hash: h.hash,
            total_difficulty: decimal(h.total_difficulty),
            timestamp: h.timestamp,
        }),
        enode: state.network.enodes.first().cloned(),
        enodes: state.network.enodes.clone(),
        enr: state.enr.clone(),
        peers: state.network.peer_count(),
        peers_peak: state.network.peak_peers(),
        sync: state.progress.status(range),
        seal_check: state.seals.clone(),
        uptime_seconds: state.started.elapsed().as_secs(),
    })
    .into_response()
}

fn decimal(v: U256) -> String {
    v.to_string()
}

fn hex_bytes(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
