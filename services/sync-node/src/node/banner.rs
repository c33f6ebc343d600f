//! What the node prints on start (tests and operators read the addresses from it).

use crate::config::Settings;
use hypasis_chain::ChainSpec;
use hypasis_discv4::Discv4Handle;
use hypasis_p2p::NetworkHandle;
use std::net::SocketAddr;

/// Logs the start and prints where everything listens.
pub(super) fn print(
    settings: &Settings,
    spec: &ChainSpec,
    [api_addr, rpc_addr]: [SocketAddr; 2],
    network: &NetworkHandle,
    discovery: &Discv4Handle,
    seals: &super::seals::SealStatus,
) {
    tracing::info!(
        instance = %settings.instance_id, chain = %spec.name, chain_id = spec.chain_id, genesis = %spec.genesis_hash,
        "hypasis-sync started"
    );
    println!("hypasis-sync {} serving chain {} (chain id {})", env!("CARGO_PKG_VERSION"), spec.name, spec.chain_id);
    let scheme = if settings.tls.is_some() { "https" } else { "http" };
    println!(
        "REST API listening on {scheme}://{api_addr} (status: {scheme}://{api_addr}/api/v1/status, metrics: {scheme}://{api_addr}/metrics)"
    );
    println!("JSON-RPC listening on {scheme}://{rpc_addr}");
    println!("devp2p (RLPx, eth/68 and eth/69) listening on {}", network.local_addr);
    for enode in &network.enodes {
        println!("enode: {enode}");
    }
    println!("discv4 listening on udp://{} ({})", discovery.local_addr, discovery.enr);
    if !settings.upstreams.is_empty() {
        println!("syncing from {} upstream endpoint(s)", settings.upstreams.len());
    }
    println!("seal checks: {} ({})", seals.mode, seals.anchor);
}
