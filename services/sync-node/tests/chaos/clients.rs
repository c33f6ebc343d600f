//! Verifying clients: Bor-like peers spread over the instances, each downloading random ranges
//! (headers, then bodies) and checking every block against the honest chain (same hash as the
//! devnet's block of that number, or of the branch the honest upstreams reorganised onto; body
//! matching its header). What they see is tallied per phase.

use alloy_primitives::B256;
use hypasis_eth_wire::eth::status::Status;
use hypasis_loadtest::{BorPeer, Target, bor_peer::loopback_source};
use parking_lot::{Mutex, RwLock};
use serde_json::{Value, json};
use std::{
    collections::BTreeMap,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

/// Headers asked per request.
const RANGE: u64 = 32;
/// Longest a request may take before it counts as an error.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// What the clients saw during one phase.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    pub(crate) requests: u64,
    pub(crate) errors: u64,
    pub(crate) unverified: u64,
    pub(crate) blocks: u64,
    pub(crate) short: u64,
    latencies_ms: Vec<u64>,
}

impl Tally {
    fn percentile(&self, p: f64) -> u64 {
        let mut sorted = self.latencies_ms.clone();
        sorted.sort_unstable();
        sorted.get(((sorted.len() as f64 - 1.0) * p).round() as usize).copied().unwrap_or(0)
    }

    pub(crate) fn json(&self) -> Value {
        json!({
            "requests": self.requests,
            "errors": self.errors,
            "unverified_blocks": self.unverified,
            "blocks_verified": self.blocks,
            "short_answers": self.short,
            "latency_ms": {"p50": self.percentile(0.5), "p99": self.percentile(0.99), "max": self.percentile(1.0)},
        })
    }
}

/// The clients' shared state.
pub(crate) struct Clients {
    targets: RwLock<Vec<Target>>,
    honest: Vec<B256>,
    /// Blocks of the branch the honest upstreams moved to, by number (also honest).
    branch: RwLock<BTreeMap<u64, B256>>,
    phase: Mutex<&'static str>,
    tallies: Mutex<BTreeMap<&'static str, Tally>>,
    stop: AtomicBool,
}

impl Clients {
    /// Starts `count` clients on `runtime` against `targets`, checking against `honest` (block
    /// hashes by number).
    pub(crate) fn start(
        runtime: &tokio::runtime::Runtime,
        count: usize,
        targets: Vec<Target>,
        honest: Vec<B256>,
        ours: &Status,
    ) -> Arc<Self> {
        let clients = Arc::new(Self {
            targets: RwLock::new(targets),
            honest,
            branch: RwLock::default(),
            phase: Mutex::new("start"),
            tallies: Mutex::default(),
            stop: AtomicBool::new(false),
        });
        for i in 0..count {
            runtime.spawn(client(i, clients.clone(), ours.clone()));
        }
        clients
    }

    /// Tallies from now on go to `phase`.
    pub(crate) fn phase(&self, phase: &'static str) {
        *self.phase.lock() = phase;
    }

    /// Instance `i` moved (restarted on a new port).
    pub(crate) fn retarget(&self, i: usize, target: Target) {
        self.targets.write()[i] = target;
    }

    /// Blocks `from..` of the branch the honest upstreams are about to reorganise onto are
    /// honest too.
    pub(crate) fn accept_branch(&self, from: u64, hashes: &[B256]) {
        self.branch.write().extend((from..).zip(hashes.iter().copied()));
    }

    fn is_honest(&self, number: u64, hash: &B256) -> bool {
        self.honest.get(number as usize) == Some(hash) || self.branch.read().get(&number) == Some(hash)
    }

    pub(crate) fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }

    /// The tallies so far, by phase.
    pub(crate) fn report(&self) -> BTreeMap<&'static str, Value> {
        self.tallies.lock().iter().map(|(phase, t)| (*phase, t.json())).collect()
    }

    /// Blocks served that were not the honest chain's, over every phase.
    pub(crate) fn unverified(&self) -> u64 {
        self.tallies.lock().values().map(|t| t.unverified).sum()
    }

    /// Requests answered, over every phase.
    pub(crate) fn answered(&self) -> u64 {
        self.tallies.lock().values().map(|t| t.requests - t.errors.min(t.requests)).sum()
    }

    fn record(&self, f: impl FnOnce(&mut Tally)) {
        let phase = *self.phase.lock();
        f(self.tallies.lock().entry(phase).or_default());
    }
}

async fn client(i: usize, clients: Arc<Clients>, ours: Status) {
    let source = loopback_source(100 + i);
    let mut seed = 0x9e37_79b9_7f4a_7c15u64 ^ (i as u64 + 1);
    while !clients.stop.load(Ordering::SeqCst) {
        let target = {
            let targets = clients.targets.read();
            targets[i % targets.len()]
        };
        let mut peer = match tokio::time::timeout(REQUEST_TIMEOUT, BorPeer::connect_from(target, &ours, Some(source))).await {
            Ok(Ok(peer)) => peer,
            _ => {
                clients.record(|t| t.errors += 1);
                tokio::time::sleep(Duration::from_millis(300)).await;
                continue;
            }
        };
        let latest = peer.status().range.map_or(0, |r| r.1).min(clients.honest.len() as u64 - 1);
        while !clients.stop.load(Ordering::SeqCst) {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let start = 1 + seed % latest.saturating_sub(RANGE).max(1);
            let started = Instant::now();
            match tokio::time::timeout(REQUEST_TIMEOUT * 2, download(&mut peer, start)).await {
                Ok(Ok(headers)) => {
                    let took = started.elapsed().as_millis() as u64;
                    let wrong = headers.iter().filter(|(n, hash, body_ok)| !clients.is_honest(*n, hash) || !body_ok).count();
                    clients.record(|t| {
                        t.requests += 2;
                        t.blocks += headers.len() as u64;
                        t.unverified += wrong as u64;
                        t.short += u64::from(headers.len() < RANGE as usize);
                        t.latencies_ms.push(took);
                    });
                }
                _ => {
                    clients.record(|t| {
                        t.requests += 1;
                        t.errors += 1;
                    });
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Headers `start..start+RANGE` and their bodies → (number, hash, body matches header; a body
/// not sent, past the response size limit, is not checked).
async fn download(peer: &mut BorPeer, start: u64) -> Result<Vec<(u64, B256, bool)>, hypasis_loadtest::PeerError> {
    let headers = peer.headers(start, RANGE).await?;
    if headers.is_empty() {
        return Ok(Vec::new());
    }
    let bodies = peer.bodies(headers.iter().map(|h| h.hash()).collect()).await?;
    Ok(headers
        .iter()
        .enumerate()
        .map(|(k, h)| (h.number(), h.hash(), bodies.get(k).is_none_or(|b| b.verify(h.header()).is_ok())))
        .collect())
}
