//! A session's snap/1 requests: each is handed to the [`SnapServer`](crate::snap_hook::SnapServer)
//! as its own task (answers come from backends, so several are worked on at once, at most
//! [`MAX_SNAP_IN_FLIGHT_PER_PEER`] per peer), passing the fair-use gate first; answers are sent
//! as they complete.

use crate::deadline::PeerStream;
use crate::{metrics, peers::PeerStats, server::Shared, snap_hook::MAX_SNAP_IN_FLIGHT_PER_PEER};
use hypasis_eth_wire::{
    DisconnectReason, WireError,
    conn::{EthConn, EthMessage},
};
use std::time::Instant;
use tokio::task::JoinSet;

/// A completed snap request: its size, when it arrived, and the answer.
pub(crate) type Done = (usize, Instant, Result<(u8, Vec<u8>), String>);

/// The snap answers being worked on.
pub(crate) type Pending = JoinSet<Done>;

/// Starts answering one snap request (waiting first for a place when the peer already has
/// [`MAX_SNAP_IN_FLIGHT_PER_PEER`] in flight, sending those answers meanwhile).
///
/// # Errors
/// When the session did not negotiate snap/1 or the gate refuses the peer.
pub(crate) async fn start(
    eth: &mut EthConn<PeerStream>,
    shared: &Shared,
    stats: &PeerStats,
    pending: &mut Pending,
    msg: EthMessage,
    (peer, ip): &(hypasis_rlpx::NodeId, std::net::IpAddr),
) -> Result<(), WireError> {
    let Some(server) = shared.config.snap.clone().filter(|_| eth.snap()) else {
        return Err(WireError::Breach(format!("snap message 0x{:02x} without snap/1", msg.id)));
    };
    metrics::message(name(msg.id), "in", msg.data.len());
    if let Some(gate) = &shared.config.request_gate
        && let Err(detail) = gate.admit(peer, *ip, 1).await
    {
        return Err(WireError::Refused { reason: DisconnectReason::UselessPeer, detail });
    }
    while pending.len() >= MAX_SNAP_IN_FLIGHT_PER_PEER {
        // Shutting down: the request is dropped (the session loop ends next).
        let done = tokio::select! {
            () = shared.cancel.cancelled() => return Ok(()),
            done = pending.join_next() => done,
        };
        if let Some(done) = done {
            finish(eth, shared, stats, done, (peer, ip)).await?;
        }
    }
    let size = msg.data.len();
    let started = Instant::now();
    pending.spawn(async move { (size, started, server.answer(msg.id, msg.data).await) });
    Ok(())
}

/// Sends a completed answer.
///
/// # Errors
/// When the request broke the protocol, the gate refuses the answer's bytes, or sending fails.
pub(crate) async fn finish(
    eth: &mut EthConn<PeerStream>,
    shared: &Shared,
    stats: &PeerStats,
    done: Result<Done, tokio::task::JoinError>,
    (peer, ip): (&hypasis_rlpx::NodeId, &std::net::IpAddr),
) -> Result<(), WireError> {
    let (size, started, answer) = match done {
        Ok(done) => done,
        Err(e) => {
            // A panic in the snap server is ours, not the peer's: the request goes unanswered
            // (the peer times it out) and the session lives on.
            tracing::error!(target: "p2p::session", error = %e, "snap answer task failed");
            return Ok(());
        }
    };
    let (id, data) = answer.map_err(WireError::Breach)?;
    metrics::serve_latency(name(id), started.elapsed());
    if let Some(gate) = &shared.config.request_gate
        && let Err(detail) = gate.send(peer, *ip, data.len()).await
    {
        return Err(WireError::Refused { reason: DisconnectReason::UselessPeer, detail });
    }
    metrics::message(name(id), "out", data.len());
    stats.served(size, data.len());
    eth.send_snap(id, &data).await
}

/// The metric name of a snap message.
fn name(id: u8) -> &'static str {
    match id {
        0x00 => "GetAccountRange",
        0x01 => "AccountRange",
        0x02 => "GetStorageRanges",
        0x03 => "StorageRanges",
        0x04 => "GetByteCodes",
        0x05 => "ByteCodes",
        0x06 => "GetTrieNodes",
        0x07 => "TrieNodes",
        _ => "snap_other",
    }
}
