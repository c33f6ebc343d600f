//! The devp2p server (RLPx TCP) and discv4 (UDP, same port number), with the advertised
//! address resolved before anything is bound.

use super::NodeError;
use crate::config::Settings;
use hypasis_chain::ChainSpec;
use hypasis_discv4::{
    Discv4Handle,
    message::{Endpoint, NodeRecord},
};
use hypasis_p2p::{NetworkConfig, NetworkHandle};
use hypasis_store::{BlockStore, ChainHead};
use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    sync::Arc,
};
use tokio::{sync::watch, task::JoinSet};
use tokio_util::sync::CancellationToken;

/// The IPv4 address advertised in enode URLs and the ENR: `--public-host` itself when it is an
/// address, else its first IPv4 address from DNS; without `--public-host`, the `--bind` address
/// (loopback when that is unspecified).
pub(super) async fn resolve_public_host(host: &str) -> Result<Ipv4Addr, NodeError> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(match ip {
            IpAddr::V4(v4) if !v4.is_unspecified() => v4,
            _ => Ipv4Addr::LOCALHOST,
        });
    }
    let unresolved = |reason| NodeError::PublicHost { host: host.to_owned(), reason };
    let addresses = tokio::net::lookup_host((host, 0)).await.map_err(|e| unresolved(ResolveError::Lookup(e)))?;
    addresses
        .map(|a| a.ip())
        .find_map(|ip| match ip {
            IpAddr::V4(v4) => Some(v4),
            IpAddr::V6(_) => None,
        })
        .ok_or_else(|| unresolved(ResolveError::NoIpv4))
}

/// Why `--public-host` did not resolve.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// The lookup failed.
    #[error("{0}")]
    Lookup(std::io::Error),
    /// Only IPv6 addresses (discv4 endpoints here are IPv4).
    #[error("it has no IPv4 address")]
    NoIpv4,
}

/// What the network needs from the rest of the node.
pub(super) struct NetworkDeps {
    pub(super) keys: Vec<k256::SecretKey>,
    pub(super) public_ip: Ipv4Addr,
    pub(super) spec: ChainSpec,
    pub(super) store: Arc<dyn BlockStore>,
    pub(super) heads: watch::Receiver<Option<ChainHead>>,
    pub(super) gate: Option<Arc<dyn hypasis_p2p::gate::RequestGate>>,
    /// snap/1 through the state backends, when configured.
    pub(super) snap: Option<Arc<hypasis_snap::SnapService>>,
}

/// Starts the devp2p server and discv4 (answering for the first, cluster, identity).
pub(super) async fn start(
    settings: &Settings,
    deps: NetworkDeps,
    tasks: &mut JoinSet<()>,
    cancel: &CancellationToken,
) -> Result<(NetworkHandle, Discv4Handle), NodeError> {
    let p2p_addr = SocketAddr::new(settings.bind, settings.p2p_port);
    let mut p2p_config = NetworkConfig::new(p2p_addr);
    p2p_config.public_host = deps.public_ip.to_string();
    p2p_config.public_port = settings.public_port;
    p2p_config.max_peers = settings.max_peers;
    p2p_config.pending_handshakes_per_ip = settings.p2p_handshakes_per_ip;
    p2p_config.write_timeout = settings.p2p_write_timeout;
    p2p_config.max_peers_per_ip = settings.p2p_peers_per_ip;
    p2p_config.bans = settings.p2p_bans;
    p2p_config.trusted = settings.trusted_peers.iter().copied().collect();
    p2p_config.trusted_proxies = settings.proxy_protocol_from.clone();
    p2p_config.request_gate = deps.gate.clone();
    p2p_config.snap = deps.snap.clone().map(|s| s as Arc<dyn hypasis_p2p::snap_hook::SnapServer>);
    let discovery_key = deps.keys[0].clone();
    let (network, p2p_task) =
        hypasis_p2p::spawn(p2p_config, deps.keys, Arc::new(deps.spec.clone()), deps.store, deps.heads, cancel.child_token())
            .await
            .map_err(|source| NodeError::Bind { addr: p2p_addr, flag: "--p2p-port / --bind", source })?;
    tasks.spawn(async move {
        let _ = p2p_task.await;
    });
    let udp_addr = SocketAddr::new(settings.bind, network.local_addr.port());
    let bootnodes =
        settings.bootnodes.iter().map(|b| NodeRecord { id: b.id, endpoint: Endpoint { ip: b.ip, udp: b.udp, tcp: b.tcp } }).collect();
    let discv4_config = hypasis_discv4::Discv4Config {
        listen: udp_addr,
        public_ip: deps.public_ip,
        tcp_port: settings.public_port.unwrap_or(network.local_addr.port()),
        udp_port: settings.public_port,
        bootnodes,
        fork_id: deps.spec.latest_fork_id(),
        // A balancer relaying UDP sends every peer's packets from its own address.
        unlimited: settings.proxy_protocol_from.networks().to_vec(),
    };
    let (discovery, discv4_task) = hypasis_discv4::spawn(discv4_config, discovery_key, cancel.child_token())
        .await
        .map_err(|source| NodeError::Bind { addr: udp_addr, flag: "--p2p-port / --bind (UDP)", source })?;
    tasks.spawn(async move {
        let _ = discv4_task.await;
    });
    Ok((network, discovery))
}
