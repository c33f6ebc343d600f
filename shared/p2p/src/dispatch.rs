//! Request dispatch: eth requests answered from the store (see [`serve`](crate::serve)), other
//! messages accepted or refused.

use crate::deadline::PeerStream;
use crate::{metrics, peers::PeerStats, serve, server::Shared};
use hypasis_eth_wire::{
    WireError,
    conn::{EthConn, EthMessage},
    eth::{
        inbound::{Inbound, Request},
        messages,
    },
};
use std::time::Instant;

/// Answers one message from the peer.
///
/// # Errors
/// [`WireError`] when the message is malformed or breaks the protocol, or the answer cannot be
/// sent.
pub(crate) async fn handle(
    eth: &mut EthConn<PeerStream>,
    shared: &Shared,
    stats: &PeerStats,
    eth69: bool,
    msg: EthMessage,
    (peer, ip): &(hypasis_rlpx::NodeId, std::net::IpAddr),
) -> Result<(), WireError> {
    let store = &*shared.store;
    let limit = shared.config.soft_response_limit;
    let request = match Inbound::decode(msg.id, &msg.data)? {
        Inbound::Request(request) => request,
        Inbound::BlockRangeUpdate { .. } => {
            metrics::message("BlockRangeUpdate", "in", msg.data.len());
            return Ok(());
        }
        Inbound::Ignored(_) => {
            metrics::message("other", "in", msg.data.len());
            return Ok(());
        }
    };
    metrics::message(request.name(), "in", msg.data.len());
    // Fair use: a request over the peer's budget waits; a peer that floods is let go.
    if let Some(gate) = &shared.config.request_gate {
        let items = match &request {
            Request::Headers(req) => usize::try_from(req.limit).unwrap_or(usize::MAX),
            Request::Bodies(req) | Request::Receipts(req) => req.hashes.len(),
            Request::PooledTransactions(_) => 1,
        };
        if let Err(detail) = gate.admit(peer, *ip, crate::gate::cost(items)).await {
            return Err(WireError::Refused { reason: hypasis_eth_wire::DisconnectReason::UselessPeer, detail });
        }
    }
    let started = Instant::now();
    let reply = match &request {
        Request::Headers(req) => or_empty(serve::headers(store, req, limit).await, req.request_id),
        Request::Bodies(req) => or_empty(serve::bodies(store, req, limit).await, req.request_id),
        Request::Receipts(req) => or_empty(serve::receipts(store, req, eth69, limit).await, req.request_id),
        // No transaction pool: answer with an empty list.
        Request::PooledTransactions(req) => messages::with_request_id(req.request_id, &[0xc0]),
    };
    let (reply_id, kind) = request.reply();
    metrics::serve_latency(kind, started.elapsed());
    if let Some(gate) = &shared.config.request_gate
        && let Err(detail) = gate.send(peer, *ip, reply.len()).await
    {
        return Err(WireError::Refused { reason: hypasis_eth_wire::DisconnectReason::UselessPeer, detail });
    }
    metrics::message(kind, "out", reply.len());
    stats.served(msg.data.len(), reply.len());
    eth.send(reply_id, &reply).await
}

/// The encoded answer, or an empty list for the request when the store failed: that is our
/// problem, not the peer's, so it is counted and answered like blocks we do not have instead of
/// ending the session.
fn or_empty(answer: Result<(Vec<u8>, usize), hypasis_store::StoreError>, request_id: u64) -> Vec<u8> {
    answer.map(|(data, _)| data).unwrap_or_else(|e| {
        metrics::store_error();
        tracing::warn!(target: "p2p::session", error = %e, "store read failed; answering empty");
        messages::with_request_id(request_id, &[0xc0])
    })
}
