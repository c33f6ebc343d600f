//! A session with a state backend: a full node run by the team (Bor, or geth for generic EVM
//! chains) that serves snap/1. We dial it offering eth and snap/1, exchange Status on its chain,
//! and then ask it snap requests, several in flight, each matched to its answer by request id.
//! One task owns the connection: it sends what callers ask, routes answers back, answers pings,
//! follows the backend's head from its announcements and fails every waiting caller when the
//! connection ends (a pool then replaces the session).

use crate::messages::{self, Message};
use alloy_primitives::{B256, Bytes};
use alloy_rlp::Decodable;
use hypasis_chain::SealedHeader;
use hypasis_eth_wire::{
    WireError,
    conn::{EthConn, Incoming},
    eth::{
        id as eth_id,
        messages::{BlockId, GetBlockHeaders, decode_block_range_update, decode_response},
        status::Status,
    },
};
use hypasis_rlpx::NodeId;
use parking_lot::Mutex;
use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};
use tokio::{
    net::TcpStream,
    sync::{mpsc, oneshot},
};

/// How long a backend has to answer one request (a syncing client waits about 2 s more for us
/// after we forward it, so this stays below the clients' own timeouts plus our verification).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(4);
/// Requests a session keeps in flight at once; more wait for a slot.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 16;
/// How long dialling and both handshakes may take (a backend that drops packets must fail in
/// time for the pool to back off, not hang its checkout).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one write to the backend may take before the session is given up (a backend that
/// stops reading would otherwise stall every caller).
const SEND_TIMEOUT: Duration = Duration::from_secs(4);

/// Why a backend request failed.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// Dialling, the handshakes or the connection failed.
    #[error(transparent)]
    Wire(#[from] WireError),
    /// The backend did not offer snap/1.
    #[error("the backend ({0}) does not serve snap/1")]
    NoSnap(String),
    /// No answer within the request timeout.
    #[error("no answer to {0} within the backend request timeout")]
    Timeout(&'static str),
    /// A request whose RLP does not start with a request id.
    #[error("{0} has no request id")]
    NoRequestId(&'static str),
    /// A request id already waiting for its answer on this session.
    #[error("request id {0} is already in flight on this session")]
    DuplicateId(u64),
    /// The session has ended.
    #[error("the backend session has ended")]
    Closed,
    /// The answer did not decode as the message asked for.
    #[error(transparent)]
    Malformed(#[from] messages::MessageError),
}

/// Where a backend is and how to talk to it.
#[derive(Debug, Clone)]
pub struct BackendTarget {
    /// TCP address.
    pub addr: SocketAddr,
    /// Its node id (from its enode URL).
    pub id: NodeId,
}

/// The backend's head as it announced it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackendHead {
    /// Hash of its latest block.
    pub hash: B256,
    /// Its number, once announced (Status carries only the hash before eth/69).
    pub number: Option<u64>,
}

struct Call {
    request_id: u64,
    /// `Some(snap id)` for snap, `None` for eth GetBlockHeaders.
    snap_id: Option<u8>,
    answer_id: u8,
    payload: Vec<u8>,
    what: &'static str,
    reply: oneshot::Sender<Result<Bytes, BackendError>>,
}

struct Waiting {
    answer_id: u8,
    snap: bool,
    what: &'static str,
    deadline: Instant,
    reply: oneshot::Sender<Result<Bytes, BackendError>>,
}

#[derive(Debug)]
struct Shared {
    alive: AtomicBool,
    head: Mutex<BackendHead>,
    next_id: AtomicU64,
}

/// A live session with one backend. Cheap to share; requests from many tasks go out together.
#[derive(Debug, Clone)]
pub struct BackendSession {
    calls: mpsc::Sender<Call>,
    shared: Arc<Shared>,
    slots: Arc<tokio::sync::Semaphore>,
    /// The backend's client id from its Hello (e.g. `Geth/v1.15.11-…`, `bor/v1.5.5…`).
    pub client_id: String,
    /// The eth version negotiated.
    pub eth_version: u64,
}

impl BackendSession {
    /// Dials `target`, offers eth (`eth_versions`) and snap/1, and exchanges Status: `ours` is
    /// our chain's Status (its version is set to the one negotiated). Bor's eth/69 dialect is used
    /// when the backend's client id says it is Bor.
    ///
    /// # Errors
    /// [`BackendError`] when the connection or a handshake fails, or the backend lacks snap/1.
    pub async fn connect(
        target: &BackendTarget,
        our_key: &k256::SecretKey,
        client_id: &str,
        eth_versions: &[u64],
        ours: &Status,
    ) -> Result<Self, BackendError> {
        let session = async {
            let stream = TcpStream::connect(target.addr).await.map_err(|e| WireError::Rlpx(hypasis_rlpx::RlpxError::Io(e)))?;
            let p2p = hypasis_p2p::handshake_with_snap(stream, our_key, target.id, client_id, eth_versions, true).await?;
            let remote_client = p2p.remote_hello.client_id.clone();
            if !p2p.snap {
                return Err(BackendError::NoSnap(remote_client));
            }
            let bor = remote_client.to_ascii_lowercase().starts_with("bor");
            let status = Status { version: p2p.eth_version, ..ours.clone() };
            let conn = p2p.exchange_status(&status, bor, |_| Ok(())).await?;
            let head = BackendHead { hash: conn.remote_status.head, number: conn.remote_status.range.map(|(_, latest)| latest) };
            let shared = Arc::new(Shared { alive: AtomicBool::new(true), head: Mutex::new(head), next_id: AtomicU64::new(1) });
            let (calls, inbox) = mpsc::channel(DEFAULT_MAX_IN_FLIGHT);
            let eth_version = conn.version();
            tokio::spawn(run(conn, inbox, shared.clone(), DEFAULT_REQUEST_TIMEOUT));
            Ok(Self {
                calls,
                shared,
                slots: Arc::new(tokio::sync::Semaphore::new(DEFAULT_MAX_IN_FLIGHT)),
                client_id: remote_client,
                eth_version,
            })
        };
        tokio::time::timeout(CONNECT_TIMEOUT, session).await.map_err(|_| BackendError::Timeout("connect"))?
    }

    /// Whether the connection is still up.
    pub fn is_alive(&self) -> bool {
        self.shared.alive.load(Ordering::Relaxed)
    }

    /// The backend's head as last announced.
    pub fn head(&self) -> BackendHead {
        *self.shared.head.lock()
    }

    /// A fresh request id.
    pub fn next_request_id(&self) -> u64 {
        self.shared.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Sends a snap request (its request id from [`BackendSession::next_request_id`] of this
    /// session) and decodes the answer as `A`.
    ///
    /// # Errors
    /// [`BackendError`] when the session fails, times out, the id is already in flight, or the
    /// answer is malformed.
    pub async fn snap<Q: Message, A: Message>(&self, request: &Q) -> Result<A, BackendError> {
        let payload = request.to_rlp();
        let request_id = request_id_of(&payload).ok_or(BackendError::NoRequestId(Q::NAME))?;
        let data = self.call(request_id, Some(Q::ID), A::ID, payload, Q::NAME).await?;
        Ok(A::decode_strict(&data)?)
    }

    /// The header with `hash` (eth GetBlockHeaders), `None` when the backend does not have it.
    ///
    /// # Errors
    /// [`BackendError`] when the session fails, times out, or the answer is malformed.
    pub async fn header(&self, hash: B256) -> Result<Option<SealedHeader>, BackendError> {
        let request_id = self.next_request_id();
        let request = GetBlockHeaders { request_id, start: BlockId::Hash(hash), limit: 1, skip: 0, reverse: false };
        let data = self.call(request_id, None, eth_id::BLOCK_HEADERS, request.encode(), "GetBlockHeaders").await?;
        let (_, headers) = decode_response(&data, "BlockHeaders", SealedHeader::decode)?;
        Ok(headers.into_iter().next().filter(|h| h.hash() == hash))
    }

    async fn call(
        &self,
        request_id: u64,
        snap_id: Option<u8>,
        answer_id: u8,
        payload: Vec<u8>,
        what: &'static str,
    ) -> Result<Bytes, BackendError> {
        let _slot = self.slots.acquire().await.map_err(|_| BackendError::Closed)?;
        let (reply, answer) = oneshot::channel();
        let call = Call { request_id, snap_id, answer_id, payload, what, reply };
        self.calls.send(call).await.map_err(|_| BackendError::Closed)?;
        // The session times requests out itself; this bounds a session that stopped working.
        match tokio::time::timeout(DEFAULT_REQUEST_TIMEOUT + SEND_TIMEOUT, answer).await {
            Ok(answer) => answer.map_err(|_| BackendError::Closed)?,
            Err(_) => Err(BackendError::Timeout(what)),
        }
    }
}

/// The session's task: sends calls, routes answers, answers pings, follows the head, and times
/// out requests; when the connection ends, every waiting caller gets [`BackendError::Closed`].
async fn run(mut conn: EthConn<TcpStream>, mut inbox: mpsc::Receiver<Call>, shared: Arc<Shared>, timeout: Duration) {
    let mut waiting: HashMap<u64, Waiting> = HashMap::new();
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let ended = loop {
        tokio::select! {
            call = inbox.recv() => {
                let Some(call) = call else { break None };
                if waiting.contains_key(&call.request_id) {
                    let _ = call.reply.send(Err(BackendError::DuplicateId(call.request_id)));
                    continue;
                }
                let send = async {
                    match call.snap_id {
                        Some(id) => conn.send_snap(id, &call.payload).await,
                        None => conn.send(eth_id::GET_BLOCK_HEADERS, &call.payload).await,
                    }
                };
                let sent = tokio::time::timeout(SEND_TIMEOUT, send).await.unwrap_or(Err(WireError::Timeout("a write to the backend")));
                if let Err(e) = sent {
                    let _ = call.reply.send(Err(BackendError::Closed));
                    break Some(e);
                }
                let deadline = Instant::now() + timeout;
                waiting.insert(call.request_id, Waiting {
                    answer_id: call.answer_id, snap: call.snap_id.is_some(), what: call.what, deadline, reply: call.reply,
                });
            }
            incoming = conn.next_message() => match incoming {
                Ok(Incoming::Ping) => {
                    let pong = tokio::time::timeout(SEND_TIMEOUT, conn.pong()).await;
                    if let Err(e) = pong.unwrap_or(Err(WireError::Timeout("a pong to the backend"))) {
                        break Some(e);
                    }
                }
                Ok(Incoming::Pong) => {}
                Ok(Incoming::Snap(msg)) => deliver(&mut waiting, true, msg.id, msg.data),
                Ok(Incoming::Eth(msg)) => match msg.id {
                    eth_id::BLOCK_HEADERS => deliver(&mut waiting, false, msg.id, msg.data),
                    eth_id::BLOCK_RANGE_UPDATE => {
                        if let Ok((_, latest, hash)) = decode_block_range_update(&msg.data) {
                            *shared.head.lock() = BackendHead { hash, number: Some(latest) };
                        }
                    }
                    eth_id::NEW_BLOCK_HASHES => {
                        if let Some((hash, number)) = newest_announced(&msg.data) {
                            let mut head = shared.head.lock();
                            if head.number.is_none_or(|n| number > n) {
                                *head = BackendHead { hash, number: Some(number) };
                            }
                        }
                    }
                    // Requests and other announcements: a state client serves nothing back.
                    _ => {}
                },
                Err(e) => break Some(e),
            },
            _ = tick.tick() => {
                let now = Instant::now();
                let late: Vec<u64> = waiting.iter().filter(|(_, w)| w.deadline <= now).map(|(id, _)| *id).collect();
                for id in late {
                    if let Some(w) = waiting.remove(&id) {
                        let _ = w.reply.send(Err(BackendError::Timeout(w.what)));
                    }
                }
            }
        }
    };
    shared.alive.store(false, Ordering::Relaxed);
    if let Some(e) = &ended {
        tracing::debug!(target: "snap::backend", error = %e, "backend session ended");
    }
    for (_, w) in waiting.drain() {
        let _ = w.reply.send(Err(BackendError::Closed));
    }
}

/// The request id a message's RLP list starts with.
fn request_id_of(data: &[u8]) -> Option<u64> {
    let mut p = data;
    alloy_rlp::Header::decode(&mut p).ok().filter(|h| h.list)?;
    u64::decode(&mut p).ok()
}

/// Hands an answer to the caller waiting for its request id, if it is the kind asked for.
fn deliver(waiting: &mut HashMap<u64, Waiting>, snap: bool, id: u8, data: Bytes) {
    let Some(request_id) = request_id_of(&data) else { return };
    if waiting.get(&request_id).is_some_and(|w| w.snap == snap && w.answer_id == id)
        && let Some(w) = waiting.remove(&request_id)
    {
        let _ = w.reply.send(Ok(data));
    }
}

/// One entry of a NewBlockHashes announcement.
#[derive(alloy_rlp::RlpDecodable)]
struct Announced {
    hash: B256,
    number: u64,
}

/// The highest-numbered entry of a NewBlockHashes announcement `[[hash, number], …]`.
fn newest_announced(data: &[u8]) -> Option<(B256, u64)> {
    let entries = <Vec<Announced> as Decodable>::decode(&mut &data[..]).ok()?;
    entries.into_iter().map(|a| (a.hash, a.number)).max_by_key(|(_, number)| *number)
}
