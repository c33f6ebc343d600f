//! The TCP listener and the way from a new connection to a session: banned addresses closed at
//! once, RLPx handshake and Hello (capped in flight by [`MAX_PENDING_HANDSHAKES`], and per remote
//! address by `pending_handshakes_per_ip`; the auth message must arrive within `auth_timeout`),
//! the per-address peer cap (`max_peers_per_ip`), [`admission`](crate::admission), Status
//! exchange, then the [`session`](crate::session) until it ends. Protocol breaches count toward
//! a temporary ban of the address ([`per_ip`](crate::per_ip)).

use crate::{
    NetworkConfig, PeerInfo,
    admission::admit,
    identity, metrics,
    peers::Registry,
    per_ip::{Bans, IpCounts, IpTicket, is_breach},
    session::session,
    status,
};
use hypasis_chain::ChainSpec;
use hypasis_eth_wire::{
    Capability, DisconnectReason, Hello, WireError,
    conn::P2pConn,
    eth::{self},
    p2p::P2P_VERSION,
};
use hypasis_rlpx::FrameCodec;
use hypasis_store::{BlockStore, ChainHead};
use k256::SecretKey;
use std::{
    net::{IpAddr, SocketAddr},
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
};
use tokio::{
    net::{TcpListener, TcpStream},
    sync::{OwnedSemaphorePermit, Semaphore, watch},
};
use tokio_util::{codec::Framed, sync::CancellationToken};

/// Most RLPx handshakes in flight at once; further connections are closed immediately.
pub const MAX_PENDING_HANDSHAKES: usize = 256;

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
    /// The peer cap (`max_peers`).
    pub fn max_peers(&self) -> usize {
        self.shared.config.max_peers
    }

    /// Connected peers now.
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

/// What the listener, admission and sessions share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: NetworkConfig,
    pub(crate) keys: Vec<SecretKey>,
    pub(crate) spec: Arc<ChainSpec>,
    pub(crate) store: Arc<dyn BlockStore>,
    pub(crate) heads: watch::Receiver<Option<ChainHead>>,
    pub(crate) slots: Arc<Semaphore>,
    pub(crate) queue: Arc<Semaphore>,
    pub(crate) handshakes: Arc<Semaphore>,
    /// Handshakes in flight per remote IP address.
    pub(crate) pending_by_ip: Arc<IpCounts>,
    /// Connected peers per remote IP address.
    pub(crate) peers_by_ip: Arc<IpCounts>,
    pub(crate) bans: Bans,
    pub(crate) registry: Registry,
    pub(crate) peak: AtomicUsize,
    pub(crate) cancel: CancellationToken,
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
    metrics::limits(&config, MAX_PENDING_HANDSHAKES);
    let shared = Arc::new(Shared {
        slots: Arc::new(Semaphore::new(config.max_peers)),
        queue: Arc::new(Semaphore::new(config.admission_queue)),
        handshakes: Arc::new(Semaphore::new(MAX_PENDING_HANDSHAKES)),
        pending_by_ip: IpCounts::new(config.pending_handshakes_per_ip),
        peers_by_ip: IpCounts::new(config.max_peers_per_ip),
        bans: Bans::new(config.bans),
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
        // One address gets at most its share of the pending slots, then the slots themselves.
        // Behind a trusted load balancer the address is the client's, known after its PROXY
        // header: counted then.
        let pending = if shared.config.trusted_proxies.contains(addr.ip()) {
            None
        } else {
            let Some(pending) = start_handshake(&shared, addr.ip()) else { continue };
            Some(pending)
        };
        let Ok(handshake_permit) = shared.handshakes.clone().try_acquire_owned() else {
            metrics::rejected("handshakes_full");
            continue;
        };
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        let span = tracing::debug_span!("p2p::session", %addr);
        tokio::spawn(tracing::Instrument::instrument(connection(stream, addr, shared, (handshake_permit, pending)), span));
    }
}

/// A handshake from `ip` counted against its share of the pending slots; `None` (counted) when
/// the address is banned or already has its share.
fn start_handshake(shared: &Shared, ip: IpAddr) -> Option<IpTicket> {
    if shared.bans.is_banned(ip) {
        metrics::rejected("banned");
        return None;
    }
    let pending = shared.pending_by_ip.take(ip);
    if pending.is_none() {
        metrics::rejected("handshakes_per_ip");
    }
    pending
}

/// Counts a protocol breach of kind `kind` by `ip` toward its ban (load balancers are never
/// banned: their address is not a client's).
fn breach(shared: &Shared, ip: IpAddr, kind: &'static str) {
    if is_breach(kind) && !shared.config.trusted_proxies.contains(ip) && shared.bans.breach(ip) {
        tracing::info!(target: "p2p::server", %ip, ban_secs = shared.config.bans.period.as_secs(), "address banned for repeated protocol breaches");
    }
}

async fn connection(
    mut stream: TcpStream,
    addr: SocketAddr,
    shared: Arc<Shared>,
    (permit, pending): (OwnedSemaphorePermit, Option<IpTicket>),
) {
    let config = &shared.config;
    let addr = match crate::proxy::client_addr(&mut stream, addr, &config.trusted_proxies, config.proxy_header_timeout, "p2p").await {
        Ok(client) => client,
        Err(e) => {
            tracing::debug!(target: "p2p::server", %addr, error = %e, "connection refused");
            return;
        }
    };
    let pending = match pending {
        Some(pending) => pending,
        None => match start_handshake(&shared, addr.ip()) {
            Some(pending) => pending,
            None => return,
        },
    };
    let handshake_permits = (permit, pending);
    let deadline = shared.config.handshake_timeout;
    let handshake = tokio::time::timeout(deadline, async {
        let auth = tokio::time::timeout(shared.config.auth_timeout, hypasis_rlpx::accept(&mut stream, &shared.keys)).await;
        let (secrets, key_index) = auth.map_err(|_| WireError::Timeout("the RLPx auth message"))??;
        let remote_id = secrets.remote_id;
        let stream = crate::deadline::PeerStream::new(stream, shared.config.write_timeout);
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
            breach(&shared, addr.ip(), e.kind());
            tracing::debug!(target: "p2p::server", %addr, error = %e, "handshake failed");
            return;
        }
        Err(_) => {
            metrics::handshake("timeout");
            return;
        }
    };
    drop(handshake_permits);
    // One address's share of the peers, whatever node keys it brings (trusted peers aside).
    let per_ip = if shared.config.trusted.contains(&remote_id) {
        None
    } else {
        let Some(ticket) = shared.peers_by_ip.take(addr.ip()) else {
            let _ = conn.refuse(DisconnectReason::TooManyPeers, "too many peers from this address").await;
            metrics::rejected("peers_per_ip");
            metrics::handshake("too_many_peers");
            return;
        };
        Some(ticket)
    };
    let Some(slot) = admit(&shared, &remote_id).await else {
        let _ = conn.refuse(DisconnectReason::TooManyPeers, "peer limit reached").await;
        metrics::handshake("too_many_peers");
        return;
    };
    // The operator's share of peer places (fair use), once the node id is known.
    let place = match shared.config.request_gate.as_ref().map(|gate| gate.join(&remote_id, addr.ip())) {
        Some(Err(detail)) => {
            tracing::debug!(target: "p2p::server", %addr, %detail, "operator peer cap");
            let _ = conn.refuse(DisconnectReason::TooManyPeers, &detail).await;
            metrics::rejected("operator_peers");
            metrics::handshake("too_many_peers");
            return;
        }
        Some(Ok(place)) => Some(place),
        None => None,
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
            breach(&shared, addr.ip(), e.kind());
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
    let reason = session(eth, &shared, &stats, head, (remote_id, addr.ip())).await;
    metrics::session_end(reason.label());
    breach(&shared, addr.ip(), reason.label());
    shared.registry.remove(key);
    let count = shared.registry.len();
    metrics::peers(count, shared.peak.load(Ordering::Relaxed));
    drop((slot, place, per_ip));
}

fn our_hello(shared: &Shared, key: &SecretKey) -> Hello {
    Hello {
        protocol_version: P2P_VERSION,
        client_id: shared.config.client_id.clone(),
        capabilities: capabilities(shared),
        listen_port: u64::from(shared.config.listen.port()),
        id: identity::node_id(key),
    }
}

/// eth's versions, and snap/1 while the snap backends can serve.
fn capabilities(shared: &Shared) -> Vec<Capability> {
    let mut caps: Vec<Capability> = eth::SUPPORTED_VERSIONS.iter().map(|v| Capability::new("eth", *v)).collect();
    if shared.config.snap.as_ref().is_some_and(|snap| snap.available()) {
        caps.push(Capability::new(hypasis_eth_wire::conn::SNAP, hypasis_eth_wire::conn::SNAP_VERSION));
    }
    caps
}

async fn current_head(shared: &Shared) -> ChainHead {
    match shared.store.head().await {
        Ok(Some(head)) => head,
        _ => status::genesis_head(&shared.spec),
    }
}
