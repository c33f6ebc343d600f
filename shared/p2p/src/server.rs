//! The TCP listener, admission control and per-peer sessions.
//!
//! Admission: a connection first completes the RLPx handshake and Hello (so a refusal can be
//! sent encrypted, as `TooManyPeers`). Trusted peers are always admitted. Others take a free
//! slot; when there is none they wait, at most `admission_wait`, in a queue of at most
//! `admission_queue`; past either they are refused. Handshakes in flight are capped too.

use crate::{
    NetworkConfig, PeerInfo, identity, metrics,
    peers::{PeerStats, Registry},
    serve, status,
};
use hypasis_chain::ChainSpec;
use hypasis_eth_wire::{
    Capability, DisconnectReason, Hello, WireError,
    conn::{EthConn, Incoming, P2pConn},
    eth::{self, id, messages},
    p2p::P2P_VERSION,
};
use hypasis_rlpx::{FrameCodec, NodeId};
use hypasis_store::{BlockStore, ChainHead, Parts};
use k256::SecretKey;
use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Instant,
};
use tokio::{
    net::{TcpListener, TcpStream},
    sync::{OwnedSemaphorePermit, Semaphore, watch},
};
use tokio_util::{codec::Framed, sync::CancellationToken};

/// Most RLPx handshakes in flight at once; further connections are closed immediately.
pub const MAX_PENDING_HANDSHAKES: usize = 256;
/// Blocks the head must move before a new BlockRangeUpdate is sent (eth/69).
pub const RANGE_UPDATE_STEP: u64 = 32;

/// A cheap handle to the running server.
#[derive(Debug, Clone)]
pub struct NetworkHandle {
    /// Where it listens.
    pub local_addr: SocketAddr,
    /// enode URLs: the cluster key's first, then the instance key's.
    pub enodes: Vec<String>,
    shared: Arc<Shared>,
}

impl NetworkHandle {
    /// Peers connected now.
    pub fn peer_count(&self) -> usize {
        self.shared.registry.len()
    }

    /// The connected peers with their counters.
    pub fn peers(&self) -> Vec<PeerInfo> {
        self.shared.registry.snapshot()
    }

    /// Most peers connected at once since start.
    pub fn peak_peers(&self) -> usize {
        self.shared.peak.load(Ordering::Relaxed)
    }
}

#[derive(Debug)]
struct Shared {
    config: NetworkConfig,
    keys: Vec<SecretKey>,
    spec: Arc<ChainSpec>,
    store: Arc<dyn BlockStore>,
    heads: watch::Receiver<Option<ChainHead>>,
    slots: Arc<Semaphore>,
    queue: Arc<Semaphore>,
    handshakes: Arc<Semaphore>,
    registry: Registry,
    peak: AtomicUsize,
    cancel: CancellationToken,
}

/// Binds the listener and starts serving. `keys` are the identities we answer to (cluster key
/// first); `heads` carries the served head as it moves.
///
/// # Errors
/// When the listen address cannot be bound.
pub async fn spawn(
    config: NetworkConfig,
    keys: Vec<SecretKey>,
    spec: Arc<ChainSpec>,
    store: Arc<dyn BlockStore>,
    heads: watch::Receiver<Option<ChainHead>>,
    cancel: CancellationToken,
) -> std::io::Result<(NetworkHandle, tokio::task::JoinHandle<()>)> {
    assert!(!keys.is_empty(), "the server needs at least one node key");
    let listener = TcpListener::bind(config.listen).await?;
    let local_addr = listener.local_addr()?;
    // With port 0 the OS picked one; Hello and enode URLs carry the real one.
    let mut config = config;
    config.listen = local_addr;
    let port = config.public_port.unwrap_or(local_addr.port());
    let enodes = keys.iter().map(|k| identity::enode_url(k, &config.public_host, port)).collect();
    let shared = Arc::new(Shared {
        slots: Arc::new(Semaphore::new(config.max_peers)),
        queue: Arc::new(Semaphore::new(config.admission_queue)),
        handshakes: Arc::new(Semaphore::new(MAX_PENDING_HANDSHAKES)),
        config,
        keys,
        spec,
        store,
        heads,
        registry: Registry::default(),
        peak: AtomicUsize::new(0),
        cancel,
    });
    let task = tokio::spawn(accept_loop(listener, shared.clone()));
    Ok((NetworkHandle { local_addr, enodes, shared }, task))
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let accepted = tokio::select! {
            () = shared.cancel.cancelled() => break,
            a = listener.accept() => a,
        };
        let (stream, addr) = match accepted {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(target: "p2p::server", error = %e, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(handshake_permit) = shared.handshakes.clone().try_acquire_owned() else {
            metrics::rejected("handshakes_full");
            continue;
        };
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        let span = tracing::debug_span!("p2p::session", %addr);
        tokio::spawn(tracing::Instrument::instrument(connection(stream, addr, shared, handshake_permit), span));
    }
}

async fn connection(mut stream: TcpStream, addr: SocketAddr, shared: Arc<Shared>, handshake_permit: OwnedSemaphorePermit) {
    let deadline = shared.config.handshake_timeout;
    let handshake = tokio::time::timeout(deadline, async {
        let (secrets, key_index) = hypasis_rlpx::accept(&mut stream, &shared.keys).await?;
        let remote_id = secrets.remote_id;
        let framed = Framed::new(stream, FrameCodec::new(secrets, shared.config.max_ingress_frame));
        // Hello must name the key the peer dialed: peers check it against the RLPx identity.
        let hello = our_hello(&shared, &shared.keys[key_index]);
        let conn = P2pConn::handshake(framed, &hello, remote_id).await?;
        Ok::<_, WireError>((conn, remote_id))
    })
    .await;
    let (mut conn, remote_id) = match handshake {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => {
            metrics::handshake(e.kind());
            tracing::debug!(target: "p2p::server", %addr, error = %e, "handshake failed");
            return;
        }
        Err(_) => {
            metrics::handshake("timeout");
            return;
        }
    };
    drop(handshake_permit);
    let Some(slot) = admit(&shared, &remote_id).await else {
        let _ = conn.refuse(DisconnectReason::TooManyPeers, "peer limit reached").await;
        metrics::handshake("too_many_peers");
        return;
    };
    let head = current_head(&shared).await;
    let range = shared.store.range().await.ok().flatten();
    let version = conn.eth_version;
    let ours = status::ours(&shared.spec, version, &head, range);
    let bor = shared.spec.bor.is_some();
    let spec = shared.spec.clone();
    let eth = match tokio::time::timeout(deadline, conn.exchange_status(&ours, bor, |theirs| status::check(&spec, &head, theirs))).await {
        Ok(Ok(eth)) => eth,
        Ok(Err(e)) => {
            metrics::handshake(e.kind());
            tracing::debug!(target: "p2p::server", %addr, error = %e, "status exchange failed");
            return;
        }
        Err(_) => {
            metrics::handshake("timeout");
            return;
        }
    };
    metrics::handshake("ok");
    let info = PeerInfo {
        id: remote_id,
        client: eth.remote_hello().client_id.clone(),
        addr,
        eth_version: version,
        trusted: slot.is_none(),
        connected_secs: 0,
        requests: 0,
        bytes_in: 0,
        bytes_out: 0,
    };
    let (key, stats) = shared.registry.add(info);
    let count = shared.registry.len();
    let peak = shared.peak.fetch_max(count, Ordering::Relaxed).max(count);
    metrics::peers(count, peak);
    tracing::debug!(target: "p2p::server", %addr, client = %eth.remote_hello().client_id, version, "peer connected");
    let reason = session(eth, &shared, &stats, head).await;
    metrics::session_end(reason);
    shared.registry.remove(key);
    let count = shared.registry.len();
    metrics::peers(count, shared.peak.load(Ordering::Relaxed));
    drop(slot);
}

fn our_hello(shared: &Shared, key: &SecretKey) -> Hello {
    Hello {
        protocol_version: P2P_VERSION,
        client_id: shared.config.client_id.clone(),
        capabilities: eth::SUPPORTED_VERSIONS.iter().map(|v| Capability::new("eth", *v)).collect(),
        listen_port: u64::from(shared.config.listen.port()),
        id: identity::node_id(key),
    }
}

/// A slot for the peer, or `None` when it must be refused. Trusted peers get a slot of their own.
async fn admit(shared: &Shared, remote: &NodeId) -> Option<Option<OwnedSemaphorePermit>> {
    if shared.config.trusted.contains(remote) {
        return Some(None);
    }
    if let Ok(slot) = shared.slots.clone().try_acquire_owned() {
        return Some(Some(slot));
    }
    let Ok(_queued) = shared.queue.clone().try_acquire_owned() else {
        metrics::rejected("queue_full");
        return None;
    };
    match tokio::time::timeout(shared.config.admission_wait, shared.slots.clone().acquire_owned()).await {
        Ok(Ok(slot)) => Some(Some(slot)),
        _ => {
            metrics::rejected("full");
            None
        }
    }
}

async fn current_head(shared: &Shared) -> ChainHead {
    match shared.store.head().await {
        Ok(Some(head)) => head,
        _ => status::genesis_head(&shared.spec),
    }
}

/// Serves a peer until it leaves, misbehaves, idles out or we shut down; returns why it ended.
async fn session(mut eth: EthConn<TcpStream>, shared: &Shared, stats: &PeerStats, head: ChainHead) -> &'static str {
    let mut heads = shared.heads.clone();
    heads.mark_unchanged();
    let bor_peer = eth.remote_hello().client_id.to_ascii_lowercase().starts_with("bor");
    let eth69 = eth.version() >= 69;
    let mut last_range_sent = head.number;
    let mut last_heard = Instant::now();
    let mut ping = tokio::time::interval(shared.config.ping_interval);
    ping.reset();
    loop {
        tokio::select! {
            () = shared.cancel.cancelled() => {
                let _ = eth.disconnect(DisconnectReason::ClientQuitting, "shutting down").await;
                return "shutdown";
            }
            _ = ping.tick() => {
                if last_heard.elapsed() >= shared.config.idle_timeout {
                    let _ = eth.disconnect(DisconnectReason::PingTimeout, "idle").await;
                    return "idle";
                }
                if eth.ping().await.is_err() {
                    return "io";
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
                        return "io";
                    }
                }
                if eth69 && head.number >= last_range_sent + RANGE_UPDATE_STEP {
                    let earliest = shared.store.range().await.ok().flatten().map_or(0, |r| r.lowest);
                    let data = messages::encode_block_range_update(earliest, head.number, head.hash);
                    metrics::message("BlockRangeUpdate", "out", data.len());
                    if eth.send(id::BLOCK_RANGE_UPDATE, &data).await.is_err() {
                        return "io";
                    }
                    last_range_sent = head.number;
                }
            }
            incoming = eth.next_message() => {
                last_heard = Instant::now();
                let result = match incoming {
                    Ok(Incoming::Ping) => eth.pong().await,
                    Ok(Incoming::Pong) => Ok(()),
                    Ok(Incoming::Eth(msg)) => handle(&mut eth, shared, stats, eth69, msg).await,
                    Err(e) => Err(e),
                };
                if let Err(e) = result {
                    tracing::debug!(target: "p2p::session", error = %e, "session ended");
                    if let Some(reason) = e.disconnect_reason() {
                        let _ = eth.disconnect(reason, &e.to_string()).await;
                    }
                    return e.kind();
                }
            }
        }
    }
}

async fn handle(
    eth: &mut EthConn<TcpStream>,
    shared: &Shared,
    stats: &PeerStats,
    eth69: bool,
    msg: hypasis_eth_wire::conn::EthMessage,
) -> Result<(), WireError> {
    let store = &*shared.store;
    let limit = shared.config.soft_response_limit;
    let started = Instant::now();
    // The store failing is our problem, not the peer's: answer with an empty list (as for
    // blocks we do not have) and count it, instead of ending the session.
    let store_err = |e: hypasis_store::StoreError| {
        metrics::store_error();
        tracing::warn!(target: "p2p::session", error = %e, "store read failed; answering empty");
    };
    let (kind, reply_id, reply) = match msg.id {
        id::GET_BLOCK_HEADERS => {
            metrics::message("GetBlockHeaders", "in", msg.data.len());
            let req = messages::GetBlockHeaders::decode(&msg.data)?;
            let data = serve::headers(store, &req, limit).await.map(|(data, _)| data).unwrap_or_else(|e| {
                store_err(e);
                messages::with_request_id(req.request_id, &[0xc0])
            });
            ("BlockHeaders", id::BLOCK_HEADERS, data)
        }
        id::GET_BLOCK_BODIES => {
            metrics::message("GetBlockBodies", "in", msg.data.len());
            let req = messages::HashRequest::decode(&msg.data, "GetBlockBodies")?;
            let data = serve::bodies(store, &req, limit).await.map(|(data, _)| data).unwrap_or_else(|e| {
                store_err(e);
                messages::with_request_id(req.request_id, &[0xc0])
            });
            ("BlockBodies", id::BLOCK_BODIES, data)
        }
        id::GET_RECEIPTS => {
            metrics::message("GetReceipts", "in", msg.data.len());
            let req = messages::HashRequest::decode(&msg.data, "GetReceipts")?;
            let data = serve::receipts(store, &req, eth69, limit).await.map(|(data, _)| data).unwrap_or_else(|e| {
                store_err(e);
                messages::with_request_id(req.request_id, &[0xc0])
            });
            ("Receipts", id::RECEIPTS, data)
        }
        id::GET_POOLED_TRANSACTIONS => {
            metrics::message("GetPooledTransactions", "in", msg.data.len());
            // No transaction pool: answer with an empty list.
            let req = messages::HashRequest::decode(&msg.data, "GetPooledTransactions")?;
            ("PooledTransactions", id::POOLED_TRANSACTIONS, messages::with_request_id(req.request_id, &[0xc0]))
        }
        id::STATUS => return Err(WireError::Breach("second Status".into())),
        id::BLOCK_RANGE_UPDATE => {
            metrics::message("BlockRangeUpdate", "in", msg.data.len());
            messages::decode_block_range_update(&msg.data)?;
            return Ok(());
        }
        other => {
            // Announcements, transactions and unsolicited responses: nothing to do.
            metrics::message("other", "in", msg.data.len());
            let _ = other;
            return Ok(());
        }
    };
    metrics::serve_latency(kind, started.elapsed());
    metrics::message(kind, "out", reply.len());
    stats.served(msg.data.len(), reply.len());
    eth.send(reply_id, &reply).await
}
