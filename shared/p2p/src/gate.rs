//! The hook through which fair use reaches devp2p: before a request is served, the gate may
//! delay it (backpressure: the peer's answers come slower) or refuse it (the peer floods: it is
//! disconnected with `UselessPeer`); before an answer is sent, it may delay it for the
//! operator's bytes budget; and a peer that completed its handshake takes one of its operator's
//! peer places for the session, or is refused with `TooManyPeers`. The node implements it over
//! its per-operator buckets.

use hypasis_rlpx::NodeId;
use std::{future::Future, net::IpAddr, pin::Pin};

/// What the gate says about one request.
pub type Admission<'a> = Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;

/// Decides whether (and when) a peer's request is served.
pub trait RequestGate: Send + Sync + std::fmt::Debug + 'static {
    /// Resolves when a request costing `cost` from `peer` (at `ip`) may be served, or with the
    /// reason to disconnect it.
    fn admit<'a>(&'a self, peer: &'a NodeId, ip: IpAddr, cost: u32) -> Admission<'a>;

    /// Resolves when an answer of `bytes` to `peer` may be sent, or with the reason to
    /// disconnect it.
    fn send<'a>(&'a self, peer: &'a NodeId, ip: IpAddr, bytes: usize) -> Admission<'a> {
        let _ = (peer, ip, bytes);
        Box::pin(std::future::ready(Ok(())))
    }

    /// A peer's place for its session (held until the session ends), or the reason it is
    /// refused (`TooManyPeers`).
    ///
    /// # Errors
    /// The reason, for the Disconnect.
    fn join(&self, peer: &NodeId, ip: IpAddr) -> Result<PeerPlace, String> {
        let _ = (peer, ip);
        Ok(Box::new(()))
    }
}

/// Whatever the gate keeps for a session; dropped when the session ends.
pub type PeerPlace = Box<dyn std::any::Any + Send + Sync>;

/// The cost of a request of `items` (headers, bodies or receipts): one per started hundred.
pub fn cost(items: usize) -> u32 {
    u32::try_from(items.div_ceil(100).max(1)).unwrap_or(u32::MAX)
}
