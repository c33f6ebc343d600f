//! The registry of connected peers, with per-peer request and byte counters, for
//! `GET /api/v1/peers`. Entries hold no per-request data, only counters.

use hypasis_rlpx::NodeId;
use parking_lot::Mutex;
use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Instant,
};

/// A connected peer as reported by the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerInfo {
    /// Node id.
    pub id: NodeId,
    /// Client id from its Hello.
    pub client: String,
    /// Remote address.
    pub addr: SocketAddr,
    /// Negotiated eth version.
    pub eth_version: u64,
    /// Whether it is a trusted peer (admitted beyond the cap).
    pub trusted: bool,
    /// Seconds since the session started.
    pub connected_secs: u64,
    /// Requests served.
    pub requests: u64,
    /// Message bytes received.
    pub bytes_in: u64,
    /// Message bytes sent.
    pub bytes_out: u64,
}

/// Live counters of one session.
#[derive(Debug, Default)]
pub(crate) struct PeerStats {
    pub(crate) requests: AtomicU64,
    pub(crate) bytes_in: AtomicU64,
    pub(crate) bytes_out: AtomicU64,
}

impl PeerStats {
    pub(crate) fn served(&self, bytes_in: usize, bytes_out: usize) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.bytes_in.fetch_add(bytes_in as u64, Ordering::Relaxed);
        self.bytes_out.fetch_add(bytes_out as u64, Ordering::Relaxed);
    }
}

#[derive(Debug)]
struct Entry {
    info: PeerInfo,
    since: Instant,
    stats: Arc<PeerStats>,
}

/// All sessions past the Status exchange.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    entries: Mutex<HashMap<u64, Entry>>,
    next: AtomicU64,
}

impl Registry {
    /// Adds a session; returns its key and its counters.
    pub(crate) fn add(&self, info: PeerInfo) -> (u64, Arc<PeerStats>) {
        let key = self.next.fetch_add(1, Ordering::Relaxed);
        let stats = Arc::new(PeerStats::default());
        self.entries.lock().insert(key, Entry { info, since: Instant::now(), stats: stats.clone() });
        (key, stats)
    }

    /// Removes a session.
    pub(crate) fn remove(&self, key: u64) {
        self.entries.lock().remove(&key);
    }

    /// Number of sessions.
    pub(crate) fn len(&self) -> usize {
        self.entries.lock().len()
    }

    /// A snapshot of every session.
    pub(crate) fn snapshot(&self) -> Vec<PeerInfo> {
        let entries = self.entries.lock();
        let mut out: Vec<PeerInfo> = entries
            .values()
            .map(|e| PeerInfo {
                connected_secs: e.since.elapsed().as_secs(),
                requests: e.stats.requests.load(Ordering::Relaxed),
                bytes_in: e.stats.bytes_in.load(Ordering::Relaxed),
                bytes_out: e.stats.bytes_out.load(Ordering::Relaxed),
                ..e.info.clone()
            })
            .collect();
        out.sort_by_key(|p| std::cmp::Reverse(p.connected_secs));
        out
    }
}
