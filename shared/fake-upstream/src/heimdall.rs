//! A fake Heimdall v2 REST API beside the JSON-RPC: `GET /milestones/latest` and
//! `GET /checkpoints/latest` and `GET /bor/spans/latest`, in Heimdall v2's shapes (numbers as strings, hashes in base64).
//!
//! Milestone `k` covers blocks `(k-1)*I + 1 ..= k*I` (`I` = milestone interval) and is the
//! latest once the head passes its end; its `hash` is the hash of its end block (or a wrong one
//! when the server is told to lie about milestones). Checkpoints are the fake RootChain's.

use crate::state::Shared;
use alloy_primitives::keccak256;
use axum::{
    Json,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use base64::{Engine, engine::general_purpose::STANDARD};
use serde_json::json;
use std::sync::Arc;

fn not_found(what: &str) -> Response {
    (StatusCode::NOT_FOUND, Json(json!({ "code": 5, "message": format!("no {what} yet"), "details": [] }))).into_response()
}

/// The end block of the latest milestone at head `head` (0 before the first).
pub(crate) fn milestone_end(head: u64, interval: u64) -> u64 {
    head.saturating_sub(1) / interval * interval
}

pub(super) async fn latest_milestone(State(shared): State<Arc<Shared>>) -> Response {
    let chain = shared.chain.read();
    let interval = shared.milestone_interval;
    let end = milestone_end(chain.head(), interval);
    let k = end / interval;
    let Some(end_block) = chain.truth(end).filter(|_| k > 0) else { return not_found("milestone") };
    let hash = if shared.wrong_milestone { keccak256(end_block.hash()) } else { end_block.hash() };
    Json(json!({
        "milestone": {
            "proposer": "0x0000000000000000000000000000000000000000",
            "start_block": ((k - 1) * interval + 1).to_string(),
            "end_block": (k * interval).to_string(),
            "hash": STANDARD.encode(hash),
            "bor_chain_id": shared.chain_id.to_string(),
            "milestone_id": format!("devnet-{k}"),
            "timestamp": end_block.header.timestamp.to_string(),
        }
    }))
    .into_response()
}

pub(super) async fn latest_checkpoint(State(shared): State<Arc<Shared>>) -> Response {
    let chain = shared.chain.read();
    let Some((index, cp)) = chain.checkpoints().iter().enumerate().next_back() else { return not_found("checkpoint") };
    Json(json!({
        "checkpoint": {
            "id": (index + 1).to_string(),
            "proposer": format!("{:#x}", cp.proposer),
            "start_block": cp.start.to_string(),
            "end_block": cp.end.to_string(),
            "root_hash": STANDARD.encode(cp.root),
            "bor_chain_id": shared.chain_id.to_string(),
            "timestamp": cp.created_at.to_string(),
        }
    }))
    .into_response()
}

/// Blocks per fake span.
const SPAN_LENGTH: u64 = 6_400;

pub(super) async fn latest_span(State(shared): State<Arc<Shared>>) -> Response {
    let head = shared.chain.read().head();
    let id = head / SPAN_LENGTH;
    let producers: Vec<_> = shared
        .validators
        .iter()
        .enumerate()
        .map(|(i, a)| json!({ "val_id": (i + 1).to_string(), "signer": format!("{a:#x}"), "voting_power": "100" }))
        .collect();
    Json(json!({
        "span": {
            "id": id.to_string(),
            "start_block": (id * SPAN_LENGTH).to_string(),
            "end_block": (id * SPAN_LENGTH + SPAN_LENGTH - 1).to_string(),
            "validator_set": { "validators": producers },
            "selected_producers": producers,
            "bor_chain_id": shared.chain_id.to_string(),
        }
    }))
    .into_response()
}
