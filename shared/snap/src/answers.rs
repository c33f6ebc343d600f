//! The four snap/1 requests, answered through [`SnapService`]: unknown roots get the empty
//! answer the protocol prescribes; a cached verified answer is served as is; otherwise backends
//! are asked in turn and only an answer that passes its checks is served and cached.
//!
//! - GetAccountRange: forwarded; the range is proven against the root.
//! - GetStorageRanges: the accounts' storage roots are proven first (walked from the state root),
//!   then the forwarded answer's ranges are proven against them.
//! - GetByteCodes: forwarded (any root: codes are checked by hash).
//! - GetTrieNodes: not forwarded; every requested path is walked from the root, each node
//!   checked against its parent's reference, and the answer built from proven nodes as geth
//!   builds it (empty for a path leading nowhere, skipped for an embedded node).

use crate::{
    account,
    backend::{BackendError, BackendSession},
    messages::{
        AccountRange, ByteCodes, GetAccountRange, GetByteCodes, GetStorageRanges, GetTrieNodes, Message, StorageRanges, TrieNodes, id,
    },
    service::{Attempt, SOFT_RESPONSE_LIMIT, SnapService},
    trie_path::{bytes_to_hash, compact_to_nibbles, key_path, nibbles_to_compact},
    verify::{self, AnswerError, StorageTrie},
    walk::{Found, NodeSource, Query, WalkError, Want, Wanted, walk},
};
use alloy_primitives::{B256, Bytes};
use alloy_trie::EMPTY_ROOT_HASH;
use std::future::Future;

/// Most codes looked up per GetByteCodes (geth's `maxCodeLookups`).
pub const MAX_CODE_LOOKUPS: usize = 1024;
/// Most paths walked per GetTrieNodes (geth's `maxTrieNodeLookups`); later path sets are not
/// answered.
pub const MAX_TRIE_NODE_PATHS: usize = 1024;
/// Most accounts whose storage one GetStorageRanges is answered for.
pub const MAX_STORAGE_ACCOUNTS: usize = 1024;

impl SnapService {
    pub(crate) async fn account_range(&self, request: GetAccountRange) -> Vec<u8> {
        let id = request.request_id;
        let request = GetAccountRange { request_id: 0, bytes: request.bytes.min(SOFT_RESPONSE_LIMIT), ..request };
        let empty = AccountRange { request_id: id, accounts: vec![], proof: vec![] };
        self.serve(id::GET_ACCOUNT_RANGE, request, empty, |session, request| async move {
            let asked = GetAccountRange { request_id: session.next_request_id(), ..request };
            let answer: AccountRange = match session.snap(&asked).await {
                Ok(answer) => answer,
                Err(e) => return failed(&e),
            };
            match verify::account_range(asked.root, asked.origin, &answer) {
                Ok(()) => Attempt::Served(answer.to_rlp()),
                Err(AnswerError::NoData) => Attempt::NoData,
                Err(e) => Attempt::Lie(e.to_string()),
            }
        })
        .await
    }

    pub(crate) async fn storage_ranges(&self, request: GetStorageRanges) -> Vec<u8> {
        let id = request.request_id;
        let mut request = GetStorageRanges { request_id: 0, bytes: request.bytes.min(SOFT_RESPONSE_LIMIT), ..request };
        request.accounts.truncate(MAX_STORAGE_ACCOUNTS);
        let empty = StorageRanges { request_id: id, slots: vec![], proof: vec![] };
        self.serve(id::GET_STORAGE_RANGES, request, empty, |session, request| async move {
            let tries = match self.storage_tries(&session, &request).await {
                Ok(tries) => tries,
                Err(attempt) => return attempt,
            };
            let asked = GetStorageRanges { request_id: session.next_request_id(), ..request };
            let answer: StorageRanges = match session.snap(&asked).await {
                Ok(answer) => answer,
                Err(e) => return failed(&e),
            };
            if tries.is_empty() {
                // No requested account has storage: the only true answer is empty.
                return if answer.slots.is_empty() && answer.proof.is_empty() {
                    Attempt::Served(answer.to_rlp())
                } else {
                    Attempt::Lie("slots for accounts without storage".into())
                };
            }
            match verify::storage_ranges(&tries, &answer) {
                Ok(()) => Attempt::Served(answer.to_rlp()),
                Err(AnswerError::NoData) => Attempt::NoData,
                // geth cuts a range at `limit` without a proof when it started from zero: such an
                // answer cannot be checked (and is not served), but it is not a lie.
                Err(_) if !asked.limit.is_empty() && bytes_to_hash(&asked.limit) != B256::repeat_byte(0xff) => Attempt::NoData,
                Err(e) => Attempt::Lie(e.to_string()),
            }
        })
        .await
    }

    /// The storage tries of the requested accounts that have storage, in request order, with
    /// the origin asked of each (the request's for the first account, zero after it): their
    /// roots proven by walking the state trie.
    async fn storage_tries(&self, session: &BackendSession, request: &GetStorageRanges) -> Result<Vec<StorageTrie>, Attempt<Vec<u8>>> {
        let queries: Vec<Query> =
            request.accounts.iter().map(|a| Query { owner: None, root: request.root, path: key_path(a), want: Want::Value }).collect();
        let found = walk(&queries, &self.nodes, &mut SessionSource { session, root: request.root }).await.map_err(walk_failed)?;
        let origin = bytes_to_hash(&request.origin);
        let mut tries = Vec::new();
        for (i, found) in found.iter().enumerate() {
            let Found::Value(body) = found else { continue };
            let storage_root =
                account::from_full(body).map_err(|e| Attempt::Failed(format!("an account in the state trie: {e}")))?.storage_root;
            if storage_root != EMPTY_ROOT_HASH {
                tries.push(StorageTrie { root: storage_root, origin: if i == 0 { origin } else { B256::ZERO } });
            }
        }
        Ok(tries)
    }

    pub(crate) async fn byte_codes(&self, request: GetByteCodes) -> Vec<u8> {
        let id = request.request_id;
        let mut request = GetByteCodes { request_id: 0, bytes: request.bytes.min(SOFT_RESPONSE_LIMIT), ..request };
        request.hashes.truncate(MAX_CODE_LOOKUPS);
        let empty = ByteCodes { request_id: id, codes: vec![] };
        if request.hashes.is_empty() {
            return empty.to_rlp();
        }
        let key = request.to_rlp();
        let fetch = || {
            self.ask("GetByteCodes", None, |session| {
                let request = request.clone();
                async move {
                    let asked = GetByteCodes { request_id: session.next_request_id(), ..request };
                    let answer: ByteCodes = match session.snap(&asked).await {
                        Ok(answer) => answer,
                        Err(e) => return failed(&e),
                    };
                    if answer.codes.is_empty() {
                        return Attempt::NoData;
                    }
                    match verify::byte_codes(&asked.hashes, &answer.codes) {
                        Ok(()) => Attempt::Served(answer.to_rlp()),
                        Err(e) => Attempt::Lie(e.to_string()),
                    }
                }
            })
        };
        self.answered(id::GET_BYTE_CODES, &key, id, empty.to_rlp(), fetch).await
    }

    /// # Errors
    /// A path set with no paths (the protocol forbids it; geth disconnects).
    pub(crate) async fn trie_nodes(&self, request: GetTrieNodes) -> Result<Vec<u8>, String> {
        let id = request.request_id;
        let empty = TrieNodes { request_id: id, nodes: vec![] };
        if !self.is_recent(&request.root) {
            metrics::counter!("hypasis_snap_requests_total", "kind" => "GetTrieNodes", "result" => "unknown_root").increment(1);
            return Ok(empty.to_rlp());
        }
        if request.paths.iter().any(Vec::is_empty) {
            return Err("GetTrieNodes with an empty path set".into());
        }
        let mut request = GetTrieNodes { request_id: 0, bytes: request.bytes.min(SOFT_RESPONSE_LIMIT), ..request };
        let mut paths = 0;
        request.paths.retain(|set| {
            paths += set.len().max(2) - 1;
            paths <= MAX_TRIE_NODE_PATHS
        });
        let key = request.to_rlp();
        let fetch = || {
            self.ask("GetTrieNodes", self.root_number(&request.root), |session| {
                let request = &request;
                async move {
                    match self.walk_trie_nodes(&session, request).await {
                        Ok(nodes) => Attempt::Served(TrieNodes { request_id: 0, nodes }.to_rlp()),
                        Err(attempt) => attempt,
                    }
                }
            })
        };
        Ok(self.answered(id::GET_TRIE_NODES, &key, id, empty.to_rlp(), fetch).await)
    }

    /// The nodes answering `request`, every one proven from its root.
    async fn walk_trie_nodes(&self, session: &BackendSession, request: &GetTrieNodes) -> Result<Vec<Bytes>, Attempt<Vec<u8>>> {
        let root = request.root;
        let mut source = SessionSource { session, root };
        // First the accounts named by storage path sets: their storage roots.
        let owners: Vec<B256> = request.paths.iter().filter(|set| set.len() > 1).map(|set| bytes_to_hash(&set[0])).collect();
        let queries: Vec<Query> = owners.iter().map(|a| Query { owner: None, root, path: key_path(a), want: Want::Value }).collect();
        let accounts = walk(&queries, &self.nodes, &mut source).await.map_err(walk_failed)?;
        let mut storage_roots = Vec::with_capacity(accounts.len());
        for found in accounts {
            storage_roots.push(match found {
                Found::Value(body) => Some(account::from_full(&body).map_err(|e| Attempt::Failed(e.to_string()))?.storage_root),
                _ => None,
            });
        }
        // Then every path, in request order.
        let mut queries = Vec::new();
        let mut roots = storage_roots.iter();
        for set in &request.paths {
            if set.len() == 1 {
                queries.push(Query { owner: None, root, path: compact_to_nibbles(&set[0]), want: Want::Node });
            } else if let Some(Some(storage_root)) = roots.next() {
                let owner = Some(bytes_to_hash(&set[0]));
                queries.extend(set[1..].iter().map(|p| Query {
                    owner,
                    root: *storage_root,
                    path: compact_to_nibbles(p),
                    want: Want::Node,
                }));
            }
        }
        let found = walk(&queries, &self.nodes, &mut source).await.map_err(walk_failed)?;
        Ok(assemble(request, &storage_roots, found, request.bytes))
    }

    /// Serves a forwarded request: empty for an unknown root, else from the cache, else from the
    /// first backend whose answer passes `attempt`'s checks (cached then).
    async fn serve<Q, A, F, Fut>(&self, msg: u8, request: Q, empty: A, attempt: F) -> Vec<u8>
    where
        Q: Message + Clone + Rooted,
        A: Message,
        F: Fn(BackendSession, Q) -> Fut,
        Fut: Future<Output = Attempt<Vec<u8>>>,
    {
        let id = request_id_of(&empty);
        if !self.is_recent(&request.root()) {
            metrics::counter!("hypasis_snap_requests_total", "kind" => A::NAME, "result" => "unknown_root").increment(1);
            return empty.to_rlp();
        }
        let key = request.to_rlp();
        let fetch = || self.ask(Q::NAME, self.root_number(&request.root()), |session| attempt(session, request.clone()));
        self.answered(msg, &key, id, empty.to_rlp(), fetch).await
    }

    /// The answer to the request `key` (encoded with request id 0), labelled with the peer's
    /// request `id`: from a cache, else fetched once (identical requests meanwhile wait for the
    /// same fetch) and cached; `empty` when no backend had a verified answer.
    async fn answered<F, Fut>(&self, msg: u8, key: &[u8], id: u64, empty: Vec<u8>, fetch: F) -> Vec<u8>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Option<Vec<u8>>>,
    {
        if let Some(answer) = self.cached(msg, key, id).await {
            return answer;
        }
        let kind = match msg {
            id::GET_ACCOUNT_RANGE => "GetAccountRange",
            id::GET_STORAGE_RANGES => "GetStorageRanges",
            id::GET_BYTE_CODES => "GetByteCodes",
            _ => "GetTrieNodes",
        };
        let (rest, fetched_here) = self.fetch_once(msg, key, fetch).await;
        // A request that joined another's fetch is counted once, as an in-flight cache hit.
        if fetched_here {
            let result = if rest.is_some() { "served" } else { "unserved" };
            metrics::counter!("hypasis_snap_requests_total", "kind" => kind, "result" => result).increment(1);
        }
        match rest {
            Some(rest) => crate::service::with_request_id(id, &rest),
            None => empty,
        }
    }
}

/// The answer geth would build from what the paths led to: nodes (empty where a path leads
/// nowhere), a storage set skipped when its account does not exist, a path ending at an
/// embedded node skipped (and, in a storage set, the rest of the set), stopping once `limit`
/// bytes are passed.
fn assemble(request: &GetTrieNodes, storage_roots: &[Option<B256>], found: Vec<Found>, limit: u64) -> Vec<Bytes> {
    let mut found = found.into_iter();
    let mut roots = storage_roots.iter();
    let mut nodes = Vec::new();
    let mut bytes = 0u64;
    for set in &request.paths {
        if set.len() == 1 {
            match found.next() {
                Some(Found::Node(node)) => {
                    bytes += node.len() as u64;
                    nodes.push(node);
                }
                Some(Found::Nothing | Found::Value(_)) => nodes.push(Bytes::new()),
                Some(Found::NotConsensus) | None => {}
            }
        } else if let Some(Some(_)) = roots.next() {
            let mut results: Vec<Found> = found.by_ref().take(set.len() - 1).collect();
            for result in results.drain(..) {
                match result {
                    Found::Node(node) => {
                        bytes += node.len() as u64;
                        nodes.push(node);
                    }
                    Found::Nothing | Found::Value(_) => nodes.push(Bytes::new()),
                    Found::NotConsensus => break,
                }
                if bytes > limit {
                    break;
                }
            }
        }
        if bytes > limit {
            break;
        }
    }
    nodes
}

/// Requests that name a state root.
trait Rooted {
    fn root(&self) -> B256;
}

impl Rooted for GetAccountRange {
    fn root(&self) -> B256 {
        self.root
    }
}

impl Rooted for GetStorageRanges {
    fn root(&self) -> B256 {
        self.root
    }
}

fn request_id_of<A: Message>(empty: &A) -> u64 {
    let rlp = empty.to_rlp();
    let mut buf = &rlp[..];
    alloy_rlp::Header::decode(&mut buf).ok().and_then(|_| alloy_rlp::Decodable::decode(&mut buf).ok()).unwrap_or(0)
}

fn failed<T>(e: &BackendError) -> Attempt<T> {
    Attempt::Failed(e.to_string())
}

fn walk_failed<T>(e: WalkError) -> Attempt<T> {
    match e {
        WalkError::Unasked { .. } | WalkError::Malformed(..) => Attempt::Lie(e.to_string()),
        WalkError::Unavailable(_) => Attempt::NoData,
        WalkError::TooManyRounds | WalkError::Source(_) => Attempt::Failed(e.to_string()),
    }
}

/// Trie nodes fetched through one backend session: one GetTrieNodes per round, account-trie
/// nodes as one-path sets and storage nodes grouped by account (consecutive ones), in order.
struct SessionSource<'a> {
    session: &'a BackendSession,
    root: B256,
}

impl NodeSource for SessionSource<'_> {
    async fn fetch(&mut self, wanted: &[Wanted]) -> Result<Vec<Bytes>, WalkError> {
        let mut paths: Vec<Vec<Bytes>> = Vec::new();
        let mut last_owner = None;
        for want in wanted {
            let path = Bytes::from(nibbles_to_compact(&want.path));
            match want.owner {
                None => paths.push(vec![path]),
                Some(owner) if last_owner == Some(owner) => paths.last_mut().expect("a set for this owner").push(path),
                Some(owner) => paths.push(vec![Bytes::copy_from_slice(owner.as_slice()), path]),
            }
            last_owner = want.owner;
        }
        let request = GetTrieNodes { request_id: self.session.next_request_id(), root: self.root, paths, bytes: SOFT_RESPONSE_LIMIT };
        let answer: TrieNodes = self.session.snap(&request).await.map_err(|e| WalkError::Source(e.to_string()))?;
        // An empty node: the backend lacks it (it is asked again next round).
        Ok(answer.nodes.into_iter().filter(|node| !node.is_empty()).collect())
    }
}
