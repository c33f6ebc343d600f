//! A peer's session after the Status exchange: requests answered (see [`dispatch`](crate::dispatch)),
//! new heads announced (NewBlock to Bor peers, BlockRangeUpdate to eth/69 peers), pings, and the
//! idle timeout, until it ends for an [`EndReason`].

use crate::deadline::PeerStream;
use crate::{dispatch::handle, metrics, peers::PeerStats, server::Shared, snap_requests};
use hypasis_eth_wire::{
    DisconnectReason,
    conn::{EthConn, Incoming},
    eth::{id, messages},
};
use hypasis_store::{ChainHead, Parts};
use std::time::Instant;

/// Blocks the head must move before a new BlockRangeUpdate is sent (eth/69).
pub const RANGE_UPDATE_STEP: u64 = 32;

/// Why a session ended (the `reason` label of `hypasis_p2p_sessions_ended_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// We are shutting down.
    Shutdown,
    /// The peer sent nothing for the idle timeout.
    Idle,
    /// Writing to the peer failed.
    Io,
    /// The connection or the peer's messages failed ([`WireError::kind`](hypasis_eth_wire::WireError::kind)).
    Wire(&'static str),
}

impl EndReason {
    /// The metric label.
    pub fn label(self) -> &'static str {
        match self {
            Self::Shutdown => "shutdown",
            Self::Idle => "idle",
            Self::Io => "io",
            Self::Wire(kind) => kind,
        }
    }
}

/// Serves a peer until it leaves, misbehaves, idles out or we shut down; returns why it ended.
pub(crate) async fn session(
    mut eth: EthConn<PeerStream>,
    shared: &Shared,
    stats: &PeerStats,
    head: ChainHead,
    peer: (hypasis_rlpx::NodeId, std::net::IpAddr),
) -> EndReason {
    let mut heads = shared.heads.clone();
    heads.mark_unchanged();
    let bor_peer = eth.remote_hello().client_id.to_ascii_lowercase().starts_with("bor");
    let eth69 = eth.version() >= 69;
    let mut last_range_sent = head.number;
    let mut last_heard = Instant::now();
    let mut ping = tokio::time::interval(shared.config.ping_interval);
    ping.reset();
    let mut snap_pending = snap_requests::Pending::new();
    loop {
        tokio::select! {
            () = shared.cancel.cancelled() => {
                let _ = eth.disconnect(DisconnectReason::ClientQuitting, "shutting down").await;
                return EndReason::Shutdown;
            }
            _ = ping.tick() => {
                if last_heard.elapsed() >= shared.config.idle_timeout {
                    let _ = eth.disconnect(DisconnectReason::PingTimeout, "idle").await;
                    return EndReason::Idle;
                }
                if eth.ping().await.is_err() {
                    return EndReason::Io;
                }
            }
            changed = heads.changed() => {
                if changed.is_err() {
                    continue;
                }
                let Some(head) = *heads.borrow_and_update() else { continue };
                // Bor moves a peer's head and total difficulty only on NewBlock (with TD), so Bor
                // peers get the whole new block; geth-style peers reject block broadcasts and get
                // nothing here (eth/69 peers get BlockRangeUpdate below).
                if bor_peer {
                    let block = shared.store.by_hashes(&[head.hash], Parts::BODY).await.ok().and_then(|mut b| b.pop().flatten());
                    let (kind, msg_id, data) = match block.as_ref().and_then(|b| Some((b, b.body.as_ref()?))) {
                        Some((block, body)) => ("NewBlock", id::NEW_BLOCK, messages::encode_new_block(&block.header, body, block.total_difficulty)),
                        None => ("NewBlockHashes", id::NEW_BLOCK_HASHES, messages::encode_new_block_hashes(&[(head.hash, head.number)])),
                    };
                    metrics::message(kind, "out", data.len());
                    if eth.send(msg_id, &data).await.is_err() {
                        return EndReason::Io;
                    }
                }
                if eth69 && head.number >= last_range_sent + RANGE_UPDATE_STEP {
                    let earliest = shared.store.range().await.ok().flatten().map_or(0, |r| r.lowest);
                    let data = messages::encode_block_range_update(earliest, head.number, head.hash);
                    metrics::message("BlockRangeUpdate", "out", data.len());
                    if eth.send(id::BLOCK_RANGE_UPDATE, &data).await.is_err() {
                        return EndReason::Io;
                    }
                    last_range_sent = head.number;
                }
            }
            Some(done) = snap_pending.join_next(), if !snap_pending.is_empty() => {
                if let Err(e) = snap_requests::finish(&mut eth, shared, stats, done, (&peer.0, &peer.1)).await {
                    return ended(&mut eth, e).await;
                }
            }
            incoming = eth.next_message() => {
                last_heard = Instant::now();
                let result = match incoming {
                    Ok(Incoming::Ping) => eth.pong().await,
                    Ok(Incoming::Pong) => Ok(()),
                    Ok(Incoming::Eth(msg)) => handle(&mut eth, shared, stats, eth69, msg, &peer).await,
                    Ok(Incoming::Snap(msg)) => snap_requests::start(&mut eth, shared, stats, &mut snap_pending, msg, &peer).await,
                    Err(e) => Err(e),
                };
                if let Err(e) = result {
                    return ended(&mut eth, e).await;
                }
            }
        }
    }
}

/// Ends the session for `e`, telling the peer why when the error has a reason.
async fn ended(eth: &mut EthConn<PeerStream>, e: hypasis_eth_wire::WireError) -> EndReason {
    tracing::debug!(target: "p2p::session", error = %e, "session ended");
    if let Some(reason) = e.disconnect_reason() {
        let _ = eth.disconnect(reason, &e.to_string()).await;
    }
    EndReason::Wire(e.kind())
}
