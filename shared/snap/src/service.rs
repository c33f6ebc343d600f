//! snap/1 served through the cluster: requests for the state of a recent verified header are
//! asked of the state backends (one pool of sessions each), every answer is checked before it
//! is served ([`crate::verify`], [`crate::walk`]), a backend that lies is benched and the request
//! asked of the next, and verified answers are cached by request (state under a root never
//! changes). The four requests are answered in [`crate::answers`].

use crate::{
    backend::BackendSession,
    messages::{self, Message},
    pool::BackendPool,
    walk::{self, NodeCache},
};
use alloy_primitives::{B256, Bytes, keccak256};
use alloy_rlp::Header;
use hypasis_p2p::snap_hook::{SnapAnswer, SnapServer};
use parking_lot::{Mutex, RwLock};
use std::{
    collections::HashMap,
    future::Future,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};
use tokio_util::sync::CancellationToken;

/// Recent states served: a full node keeps about this many (head−127 ..= head).
pub const RECENT_STATES: u64 = 128;
/// Answers are cut at this size, whatever the request asks (geth's soft limit).
pub const SOFT_RESPONSE_LIMIT: u64 = 2 * 1024 * 1024;
/// How long a backend that sent a bad answer is left out.
pub const BAD_BACKEND_PENALTY: Duration = Duration::from_secs(60);
/// Longest one backend gets to produce a verified answer (a trie walk is several round trips);
/// then the next backend is asked.
pub const ATTEMPT_DEADLINE: Duration = Duration::from_secs(10);
/// How often each backend's health is checked (a session checked out of its pool).
pub const HEALTH_INTERVAL: Duration = Duration::from_secs(5);
/// Default byte budget of verified answers cached.
pub const DEFAULT_ANSWER_CACHE_BYTES: u64 = 256 * 1024 * 1024;
/// Default byte budget of verified trie nodes cached (used to prove storage roots and nodes).
pub const DEFAULT_NODE_CACHE_BYTES: u64 = 64 * 1024 * 1024;

/// Byte budgets of the caches.
#[derive(Debug, Clone, Copy)]
pub struct CacheBudgets {
    /// Verified answers.
    pub answers: u64,
    /// Verified trie nodes.
    pub nodes: u64,
}

impl Default for CacheBudgets {
    fn default() -> Self {
        Self { answers: DEFAULT_ANSWER_CACHE_BYTES, nodes: DEFAULT_NODE_CACHE_BYTES }
    }
}

/// One state backend: its pool and how it has behaved.
#[derive(Debug)]
pub(crate) struct Backend {
    /// `host:port`, the metric label.
    pub(crate) name: String,
    pool: BackendPool,
    healthy: AtomicBool,
    benched_until: Mutex<Option<Instant>>,
}

impl Backend {
    fn benched(&self) -> bool {
        self.benched_until.lock().is_some_and(|until| Instant::now() < until)
    }
}

/// What one backend's attempt at a request came to.
#[derive(Debug)]
pub(crate) enum Attempt<T> {
    /// A verified answer.
    Served(T),
    /// The backend does not hold the state (or could not prove its answer): ask the next.
    NoData,
    /// The answer failed its checks: the backend is benched.
    Lie(String),
    /// The session failed (connection, timeout).
    Failed(String),
}

/// Where verified answers are shared between instances (Redis in a cluster), keyed by the hash
/// of the request (its message id and RLP with request id 0), stored without request ids.
pub trait SharedAnswers: Send + Sync + std::fmt::Debug + 'static {
    /// The answer stored under `key`, if any (a failed read is a miss).
    fn get(&self, key: B256) -> Pin<Box<dyn Future<Output = Option<Bytes>> + Send + '_>>;
    /// Stores `answer` under `key` (failures are the implementation's to count).
    fn put(&self, key: B256, answer: Bytes) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
    /// Claims the fetch of `key` for `ttl`: `true` when it is ours to fetch (or the claim could
    /// not be checked), `false` when another instance claimed it first.
    fn claim(&self, key: B256, ttl: Duration) -> Pin<Box<dyn Future<Output = bool> + Send + '_>>;
}

/// How long another instance's fetch of the same answer is waited for (then we fetch it too).
pub const SHARED_FETCH_WAIT: Duration = Duration::from_secs(5);
/// How often the shared tier is read while waiting for another instance's fetch.
const SHARED_POLL: Duration = Duration::from_millis(25);

/// Verified answers by request, without their request ids, bounded by bytes.
type AnswerCache = quick_cache::sync::Cache<(u8, B256), Bytes, AnswerWeight>;

#[derive(Debug, Clone, Copy)]
pub(crate) struct AnswerWeight;

impl quick_cache::Weighter<(u8, B256), Bytes> for AnswerWeight {
    fn weight(&self, _key: &(u8, B256), answer: &Bytes) -> u64 {
        answer.len() as u64 + 64
    }
}

/// One fetch of an answer, which identical requests wait for.
type Fetch = tokio::sync::OnceCell<Option<Bytes>>;

/// Takes a fetch out of the in-flight map when dropped (if it is still the one there).
struct Leave<'a> {
    map: &'a Mutex<HashMap<(u8, B256), Arc<Fetch>>>,
    key: (u8, B256),
    cell: Arc<Fetch>,
}

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        let mut map = self.map.lock();
        if map.get(&self.key).is_some_and(|current| Arc::ptr_eq(current, &self.cell)) {
            map.remove(&self.key);
        }
    }
}

/// snap/1 through the state backends.
#[derive(Debug)]
pub struct SnapService {
    backends: Vec<Backend>,
    /// State roots of our verified recent headers, by root: their block numbers.
    roots: RwLock<HashMap<B256, u64>>,
    pub(crate) nodes: NodeCache,
    answers: AnswerCache,
    shared: Option<Arc<dyn SharedAnswers>>,
    /// Fetches under way, by request: identical requests wait for the same one.
    in_flight: Mutex<HashMap<(u8, B256), Arc<Fetch>>>,
    next: AtomicUsize,
}

impl SnapService {
    /// A service over `backends` (name, pool) with the given cache budgets, sharing verified
    /// answers through `shared` when given.
    pub fn new(backends: Vec<(String, BackendPool)>, budgets: CacheBudgets, shared: Option<Arc<dyn SharedAnswers>>) -> Arc<Self> {
        let estimate = usize::try_from(budgets.answers / 100_000).unwrap_or(usize::MAX).max(16);
        for (name, value) in [
            ("answer_cache_bytes", budgets.answers),
            ("node_cache_bytes", budgets.nodes),
            ("soft_response_bytes", SOFT_RESPONSE_LIMIT),
            ("recent_states", RECENT_STATES),
            ("max_code_lookups", crate::answers::MAX_CODE_LOOKUPS as u64),
            ("max_trie_node_paths", crate::answers::MAX_TRIE_NODE_PATHS as u64),
            ("max_storage_accounts", crate::answers::MAX_STORAGE_ACCOUNTS as u64),
            ("bad_backend_penalty_seconds", BAD_BACKEND_PENALTY.as_secs()),
            ("health_interval_seconds", HEALTH_INTERVAL.as_secs()),
            ("attempt_deadline_seconds", ATTEMPT_DEADLINE.as_secs()),
        ] {
            metrics::gauge!("hypasis_snap_limit", "name" => name).set(value as f64);
        }
        metrics::gauge!("hypasis_snap_backends_configured").set(backends.len() as f64);
        Arc::new(Self {
            backends: backends
                .into_iter()
                .map(|(name, pool)| Backend { name, pool, healthy: AtomicBool::new(false), benched_until: Mutex::new(None) })
                .collect(),
            roots: RwLock::new(HashMap::new()),
            nodes: walk::node_cache(budgets.nodes),
            answers: AnswerCache::with_weighter(estimate, budgets.answers.max(1), AnswerWeight),
            shared,
            in_flight: Mutex::new(HashMap::new()),
            next: AtomicUsize::new(0),
        })
    }

    /// The state roots served from now on: those of verified headers (number, root), of which
    /// the [`RECENT_STATES`] highest are kept.
    pub fn set_recent_roots(&self, headers: impl IntoIterator<Item = (u64, B256)>) {
        let mut headers: Vec<(u64, B256)> = headers.into_iter().collect();
        let Some(head) = headers.iter().map(|(n, _)| *n).max() else { return };
        headers.retain(|(n, _)| *n + RECENT_STATES > head);
        *self.roots.write() = headers.into_iter().map(|(n, root)| (root, n)).collect();
    }

    /// Whether `root` is the state root of one of our recent verified headers.
    pub fn is_recent(&self, root: &B256) -> bool {
        self.roots.read().contains_key(root)
    }

    /// Backends whose last health check found a working session and that are not benched.
    pub fn healthy_backends(&self) -> usize {
        self.backends.iter().filter(|b| b.healthy.load(Ordering::Relaxed) && !b.benched()).count()
    }

    /// Checks every backend each [`HEALTH_INTERVAL`] (a session checked out of its pool, dialled
    /// when there is none) until `cancel`.
    pub fn spawn_health_checks(self: &Arc<Self>, cancel: CancellationToken) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(HEALTH_INTERVAL);
            loop {
                tokio::select! {
                    () = cancel.cancelled() => return,
                    _ = tick.tick() => {}
                }
                for backend in &this.backends {
                    let ok = matches!(backend.pool.get().await, Ok(session) if session.is_alive());
                    backend.healthy.store(ok, Ordering::Relaxed);
                    metrics::gauge!("hypasis_snap_backend_up", "backend" => backend.name.clone()).set(if ok { 1.0 } else { 0.0 });
                }
                metrics::gauge!("hypasis_snap_backends_healthy").set(this.healthy_backends() as f64);
            }
        })
    }

    /// The block number of a recent root.
    pub(crate) fn root_number(&self, root: &B256) -> Option<u64> {
        self.roots.read().get(root).copied()
    }

    /// Asks the backends in turn (starting at the next in rotation, skipping benched ones) until
    /// one serves a verified answer. With the `block` of the state asked for, backends whose
    /// announced head says they no longer (or do not yet) hold it are asked last.
    pub(crate) async fn ask<T, F, Fut>(&self, kind: &'static str, block: Option<u64>, attempt: F) -> Option<T>
    where
        F: Fn(BackendSession) -> Fut,
        Fut: Future<Output = Attempt<T>>,
    {
        let count = self.backends.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let mut later = Vec::new();
        for i in 0..count {
            let backend = &self.backends[(start + i) % count];
            if backend.benched() {
                continue;
            }
            let session = match backend.pool.get().await {
                Ok(session) => BackendSession::clone(&session),
                Err(e) => {
                    backend.healthy.store(false, Ordering::Relaxed);
                    tracing::debug!(target: "snap", backend = %backend.name, error = %e, "no backend session");
                    continue;
                }
            };
            let holds = match (block, session.head().number) {
                (Some(block), Some(head)) => head >= block && head < block + RECENT_STATES,
                _ => true,
            };
            if !holds {
                later.push((backend, session));
                continue;
            }
            if let Some(answer) = self.try_backend(backend, session, kind, &attempt).await {
                return Some(answer);
            }
        }
        for (backend, session) in later {
            if let Some(answer) = self.try_backend(backend, session, kind, &attempt).await {
                return Some(answer);
            }
        }
        None
    }

    async fn try_backend<T, F, Fut>(&self, backend: &Backend, session: BackendSession, kind: &'static str, attempt: &F) -> Option<T>
    where
        F: Fn(BackendSession) -> Fut,
        Fut: Future<Output = Attempt<T>>,
    {
        let outcome = tokio::time::timeout(ATTEMPT_DEADLINE, attempt(session))
            .await
            .unwrap_or_else(|_| Attempt::Failed(format!("no verified answer within {ATTEMPT_DEADLINE:?}")));
        let (label, served) = match outcome {
            Attempt::Served(answer) => ("ok", Some(answer)),
            Attempt::NoData => ("no_data", None),
            Attempt::Lie(reason) => {
                tracing::warn!(target: "snap", backend = %backend.name, kind, %reason, "backend answer failed verification; benched");
                *backend.benched_until.lock() = Some(Instant::now() + BAD_BACKEND_PENALTY);
                ("bad_answer", None)
            }
            Attempt::Failed(reason) => {
                tracing::debug!(target: "snap", backend = %backend.name, kind, %reason, "backend request failed");
                ("failed", None)
            }
        };
        metrics::counter!("hypasis_snap_backend_requests_total", "backend" => backend.name.clone(), "kind" => kind, "result" => label)
            .increment(1);
        served
    }

    /// A cached answer to `request` (encoded with request id 0), re-labelled with `id`: from
    /// memory, else from the shared tier (then kept in memory too).
    pub(crate) async fn cached(&self, msg: u8, request: &[u8], id: u64) -> Option<Vec<u8>> {
        let key = (msg, keccak256(request));
        let found = self.answers.get(&key);
        metrics::counter!("hypasis_snap_cache_total", "tier" => "memory", "result" => if found.is_some() { "hit" } else { "miss" })
            .increment(1);
        if let Some(rest) = found {
            return Some(with_request_id(id, &rest));
        }
        let shared = self.shared.as_ref()?;
        let found = shared.get(shared_key(key)).await;
        metrics::counter!("hypasis_snap_cache_total", "tier" => "shared", "result" => if found.is_some() { "hit" } else { "miss" })
            .increment(1);
        let rest = found?;
        let labelled = with_request_id(id, &rest);
        // Redis is shared: what comes from it is served only if it is the answer's layout.
        if !well_formed(msg, &labelled) {
            metrics::counter!("hypasis_snap_shared_errors_total", "op" => "malformed").increment(1);
            return None;
        }
        self.answers.insert(key, rest);
        Some(labelled)
    }

    /// `fetch`'s answer to `request` (encoded with request id 0), without its request id, cached
    /// in memory and in the shared tier, and whether this call fetched it. Concurrent identical
    /// requests share one fetch (the others count as cache hits of tier `in_flight`).
    pub(crate) async fn fetch_once<F, Fut>(&self, msg: u8, request: &[u8], fetch: F) -> (Option<Bytes>, bool)
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Option<Vec<u8>>>,
    {
        let key = (msg, keccak256(request));
        let cell = self.in_flight.lock().entry(key).or_default().clone();
        // Removed when this call ends, finished or cancelled (a peer that leaves aborts its
        // requests), unless another fetch has taken the place since.
        let _leave = Leave { map: &self.in_flight, key, cell: cell.clone() };
        // Who got the answer: this call from a backend, this call from another instance's fetch,
        // or (neither set) another call on this instance.
        let (mut fetched_here, mut from_elsewhere) = (false, false);
        let rest = cell
            .get_or_init(|| async {
                let skey = shared_key(key);
                if let Some(shared) = &self.shared
                    && let Some(rest) = self.fetched_elsewhere(shared.as_ref(), skey).await
                    && well_formed(msg, &with_request_id(0, &rest))
                {
                    from_elsewhere = true;
                    self.answers.insert(key, rest.clone());
                    return Some(rest);
                }
                fetched_here = true;
                let rest = without_request_id(&fetch().await?)?;
                self.answers.insert(key, rest.clone());
                if let Some(shared) = &self.shared {
                    shared.put(skey, rest.clone()).await;
                }
                Some(rest)
            })
            .await
            .clone();
        if from_elsewhere {
            metrics::counter!("hypasis_snap_cache_total", "tier" => "shared", "result" => "hit").increment(1);
        } else if !fetched_here {
            metrics::counter!("hypasis_snap_cache_total", "tier" => "in_flight", "result" => "hit").increment(1);
        }
        (rest, fetched_here)
    }

    /// When another instance claimed the fetch of `key`, its answer once it is in the shared
    /// tier (waiting at most [`SHARED_FETCH_WAIT`]); `None` when the fetch is ours.
    async fn fetched_elsewhere(&self, shared: &dyn SharedAnswers, key: B256) -> Option<Bytes> {
        if shared.claim(key, SHARED_FETCH_WAIT).await {
            return None;
        }
        let deadline = Instant::now() + SHARED_FETCH_WAIT;
        while Instant::now() < deadline {
            tokio::time::sleep(SHARED_POLL).await;
            if let Some(rest) = shared.get(key).await {
                return Some(rest);
            }
        }
        None
    }
}

impl SnapServer for SnapService {
    fn available(&self) -> bool {
        self.healthy_backends() > 0
    }

    fn answer(self: Arc<Self>, id: u8, data: alloy_primitives::Bytes) -> SnapAnswer {
        Box::pin(async move {
            let (answer_id, answer) = match id {
                messages::id::GET_ACCOUNT_RANGE => (messages::id::ACCOUNT_RANGE, self.account_range(decode(&data)?).await),
                messages::id::GET_STORAGE_RANGES => (messages::id::STORAGE_RANGES, self.storage_ranges(decode(&data)?).await),
                messages::id::GET_BYTE_CODES => (messages::id::BYTE_CODES, self.byte_codes(decode(&data)?).await),
                messages::id::GET_TRIE_NODES => (messages::id::TRIE_NODES, self.trie_nodes(decode(&data)?).await?),
                other => return Err(format!("snap message 0x{other:02x} is not a request")),
            };
            metrics::counter!("hypasis_snap_bytes_served_total").increment(answer.len() as u64);
            Ok((answer_id, answer))
        })
    }
}

/// The shared tier's key of a request: one hash of the message id and the request's hash.
fn shared_key((msg, request): (u8, B256)) -> B256 {
    let mut bytes = [0u8; 33];
    bytes[0] = msg;
    bytes[1..].copy_from_slice(request.as_slice());
    keccak256(bytes)
}

/// Whether `answer` decodes as the answer to request `msg`.
fn well_formed(msg: u8, answer: &[u8]) -> bool {
    match msg {
        messages::id::GET_ACCOUNT_RANGE => messages::AccountRange::decode_strict(answer).is_ok(),
        messages::id::GET_STORAGE_RANGES => messages::StorageRanges::decode_strict(answer).is_ok(),
        messages::id::GET_BYTE_CODES => messages::ByteCodes::decode_strict(answer).is_ok(),
        messages::id::GET_TRIE_NODES => messages::TrieNodes::decode_strict(answer).is_ok(),
        _ => false,
    }
}

fn decode<M: Message>(data: &[u8]) -> Result<M, String> {
    M::decode_strict(data).map_err(|e| e.to_string())
}

/// An answer's list without its first item (the request id).
fn without_request_id(answer: &[u8]) -> Option<Bytes> {
    let mut buf = answer;
    let header = Header::decode(&mut buf).ok().filter(|h| h.list)?;
    let mut payload = buf.get(..header.payload_length)?;
    let _: u64 = alloy_rlp::Decodable::decode(&mut payload).ok()?;
    Some(Bytes::copy_from_slice(payload))
}

/// The answer list `[id, rest…]`.
pub(crate) fn with_request_id(id: u64, rest: &[u8]) -> Vec<u8> {
    let id_len = alloy_rlp::Encodable::length(&id);
    let mut out = Vec::with_capacity(rest.len() + id_len + 9);
    Header { list: true, payload_length: id_len + rest.len() }.encode(&mut out);
    alloy_rlp::Encodable::encode(&id, &mut out);
    out.extend_from_slice(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::{AccountData, AccountRange};

    #[test]
    fn cached_answers_take_the_new_request_id() {
        let answer = AccountRange {
            request_id: 0,
            accounts: vec![AccountData { hash: B256::repeat_byte(1), body: Bytes::from_static(&[0xc4, 0x01, 0x02, 0x80, 0x80]) }],
            proof: vec![Bytes::from_static(b"node")],
        };
        let rest = without_request_id(&answer.to_rlp()).unwrap();
        for id in [0, 7, 1 << 40] {
            let relabelled = AccountRange::decode_strict(&with_request_id(id, &rest)).unwrap();
            assert_eq!(relabelled, AccountRange { request_id: id, ..answer.clone() });
        }
    }
}
