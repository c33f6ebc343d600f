//! Network limits and timeouts.

use hypasis_rlpx::NodeId;
use std::{collections::HashSet, net::SocketAddr, time::Duration};

/// Default peer cap per instance.
pub const DEFAULT_MAX_PEERS: usize = 500;
/// Default number of connections that may wait for a free slot.
pub const DEFAULT_ADMISSION_QUEUE: usize = 64;
/// Default time a connection waits for a free slot before `TooManyPeers`.
pub const DEFAULT_ADMISSION_WAIT: Duration = Duration::from_secs(5);
/// Default limit for the RLPx handshake plus Hello and Status.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Default time for a new connection's RLPx auth message to arrive and the encryption handshake
/// to finish (a real peer sends auth at once; an idle socket must not hold a slot for long).
pub const DEFAULT_AUTH_TIMEOUT: Duration = Duration::from_secs(3);
/// Default most handshakes in flight from one IP address, so one host cannot fill the
/// server-wide pending-handshake slots.
pub const DEFAULT_PENDING_HANDSHAKES_PER_IP: usize = 32;
/// Default most connected peers from one IP address (trusted peers not counted), so one host
/// cannot take the instance's places with many node keys.
pub const DEFAULT_MAX_PEERS_PER_IP: usize = 16;
/// Default protocol breaches (malformed or oversized messages, bad MACs) from one address within
/// [`DEFAULT_BAN_PERIOD`] that ban it for that long.
pub const DEFAULT_BAN_BREACHES: u32 = 10;
/// Default ban length, and the window its breaches are counted in.
pub const DEFAULT_BAN_PERIOD: Duration = Duration::from_secs(600);
/// Default interval after which an idle peer is pinged.
pub const DEFAULT_PING_INTERVAL: Duration = Duration::from_secs(15);
/// Default time a peer may stay silent (no message, no pong) before it is dropped.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(45);
/// A write to a peer that makes no progress for this long ends the session (the peer stopped
/// reading).
pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(20);
/// Default soft limit on a response's size (geth/Bor: 2 MiB).
pub const DEFAULT_SOFT_RESPONSE_LIMIT: usize = 2 * 1024 * 1024;
/// Default largest incoming frame.
pub const DEFAULT_MAX_INGRESS_FRAME: usize = hypasis_rlpx::codec::DEFAULT_MAX_INGRESS_FRAME;

/// Configuration of the devp2p server.
#[derive(Debug, Clone)]
pub struct NetworkConfig {
    /// TCP listen address.
    pub listen: SocketAddr,
    /// Host name or IP put in enode URLs.
    pub public_host: String,
    /// Port put in enode URLs (`None`: the listened port; behind a load balancer they can differ).
    pub public_port: Option<u16>,
    /// Most peers at once.
    pub max_peers: usize,
    /// Connections that may wait for a slot.
    pub admission_queue: usize,
    /// How long they wait.
    pub admission_wait: Duration,
    /// Handshake (RLPx + Hello + Status) deadline.
    pub handshake_timeout: Duration,
    /// Deadline for the RLPx auth message and encryption handshake (within `handshake_timeout`).
    pub auth_timeout: Duration,
    /// Most handshakes in flight from one IP address.
    pub pending_handshakes_per_ip: usize,
    /// Most connected peers from one IP address (trusted peers not counted).
    pub max_peers_per_ip: usize,
    /// Temporary bans of addresses that keep breaking the protocol.
    pub bans: crate::per_ip::BanPolicy,
    /// Ping idle peers after this long.
    pub ping_interval: Duration,
    /// Drop peers silent for this long.
    pub idle_timeout: Duration,
    /// Drop peers that read nothing of our writes for this long.
    pub write_timeout: Duration,
    /// Soft response size limit.
    pub soft_response_limit: usize,
    /// Largest incoming frame.
    pub max_ingress_frame: usize,
    /// Peers admitted even when full.
    pub trusted: HashSet<NodeId>,
    /// Fair use: delays or refuses requests over an operator's budget (`None`: no limits).
    pub request_gate: Option<std::sync::Arc<dyn crate::gate::RequestGate>>,
    /// snap/1 state served through backends (`None`: snap/1 is never offered).
    pub snap: Option<std::sync::Arc<dyn crate::snap_hook::SnapServer>>,
    /// Load balancers whose PROXY protocol headers name the real client (none: off).
    pub trusted_proxies: crate::proxy::TrustedProxies,
    /// How long a trusted proxy has to send its PROXY header.
    pub proxy_header_timeout: Duration,
    /// Client id sent in Hello.
    pub client_id: String,
}

impl NetworkConfig {
    /// Defaults, listening on `listen`.
    pub fn new(listen: SocketAddr) -> Self {
        Self {
            listen,
            public_host: listen.ip().to_string(),
            public_port: None,
            max_peers: DEFAULT_MAX_PEERS,
            admission_queue: DEFAULT_ADMISSION_QUEUE,
            admission_wait: DEFAULT_ADMISSION_WAIT,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            auth_timeout: DEFAULT_AUTH_TIMEOUT,
            pending_handshakes_per_ip: DEFAULT_PENDING_HANDSHAKES_PER_IP,
            max_peers_per_ip: DEFAULT_MAX_PEERS_PER_IP,
            bans: crate::per_ip::BanPolicy { breaches: DEFAULT_BAN_BREACHES, period: DEFAULT_BAN_PERIOD },
            ping_interval: DEFAULT_PING_INTERVAL,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            write_timeout: DEFAULT_WRITE_TIMEOUT,
            soft_response_limit: DEFAULT_SOFT_RESPONSE_LIMIT,
            max_ingress_frame: DEFAULT_MAX_INGRESS_FRAME,
            trusted: HashSet::new(),
            request_gate: None,
            snap: None,
            trusted_proxies: crate::proxy::TrustedProxies::default(),
            proxy_header_timeout: crate::proxy::DEFAULT_HEADER_TIMEOUT,
            client_id: format!("hypasis-sync/v{}", env!("CARGO_PKG_VERSION")),
        }
    }
}
