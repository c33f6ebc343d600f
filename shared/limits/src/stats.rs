//! What each operator did, for `GET /api/v1/operators/NAME/stats`: requests, delays, refusals
//! and bytes per protocol, and devp2p peers now. Kept per registered operator plus one
//! `anonymous` entry, so the table is as bounded as the registry.

use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counters of one protocol.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) requests: AtomicU64,
    pub(crate) delayed: AtomicU64,
    pub(crate) limited: AtomicU64,
    pub(crate) bytes: AtomicU64,
}

/// One operator's counters since the instance started.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    pub(crate) http: Counters,
    pub(crate) p2p: Counters,
    pub(crate) peers: AtomicU64,
}

/// Counters of one protocol, as read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ProtocolStats {
    /// Requests let through (at once or after a delay).
    pub requests: u64,
    /// Requests that waited for their budget (devp2p).
    pub delayed: u64,
    /// Requests refused for being over budget (HTTP 429; devp2p: the peer was disconnected).
    pub limited: u64,
    /// Bytes answered.
    pub bytes: u64,
}

/// One operator's counters on this instance, as read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct OperatorStats {
    /// The operator (or `anonymous`).
    pub operator: String,
    /// JSON-RPC and REST.
    pub http: ProtocolStats,
    /// devp2p eth requests.
    pub p2p: ProtocolStats,
    /// devp2p peers connected now.
    pub peers: u64,
}

impl Counters {
    fn read(&self) -> ProtocolStats {
        ProtocolStats {
            requests: self.requests.load(Ordering::Relaxed),
            delayed: self.delayed.load(Ordering::Relaxed),
            limited: self.limited.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
        }
    }
}

impl Stats {
    pub(crate) fn read(&self, operator: &str) -> OperatorStats {
        OperatorStats {
            operator: operator.to_owned(),
            http: self.http.read(),
            p2p: self.p2p.read(),
            peers: self.peers.load(Ordering::Relaxed),
        }
    }
}
