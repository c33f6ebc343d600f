//! `hypasis-loadtest`: many Bor-like peers against one node, each downloading a block range
//! (headers then bodies, verified); prints throughput. See `loadtest/README.md`.

use clap::Parser;
use hypasis_chain::SealedHeader;
use hypasis_eth_wire::eth::status::Status;
use hypasis_loadtest::{BorPeer, Target};
use std::time::{Duration, Instant};

/// Redials per peer before it counts as failed.
const DIAL_ATTEMPTS: u32 = 5;

/// Bor-like peers downloading from a Hypasis Sync node.
#[derive(Debug, Parser)]
#[command(name = "hypasis-loadtest", version, about)]
struct Args {
    /// The node's REST API (its Status fields and enode are read from `/api/v1/status`).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    api: String,
    /// Peers at once.
    #[arg(long, default_value_t = 50)]
    peers: usize,
    /// Blocks each peer downloads (from block 1, or spread over the chain with --spread).
    #[arg(long, default_value_t = 1_000)]
    blocks: u64,
    /// Give each peer a different range (peer i starts at i * blocks) instead of all from 1.
    #[arg(long)]
    spread: bool,
    /// eth version (68 or 69).
    #[arg(long, default_value_t = 69)]
    eth: u64,
    /// Dial every peer from 127.0.0.1 instead of its own loopback address (127.0.1.1, …): the
    /// node then caps them by --p2p-peers-per-ip.
    #[arg(long)]
    one_source: bool,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let (target, ours) = match node_status(&args.api, args.eth).await {
        Ok(v) => v,
        Err(e) => {
            eprintln!("hypasis-loadtest: {e}");
            std::process::exit(69);
        }
    };
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    let spread_sources = target.addr.is_ipv4() && target.addr.ip().is_loopback() && !args.one_source;
    for i in 0..args.peers {
        let (ours, blocks, spread) = (ours.clone(), args.blocks, args.spread);
        let source = spread_sources.then(|| hypasis_loadtest::bor_peer::loopback_source(i));
        tasks.spawn(async move {
            // Like a Bor node, redial with backoff when the node sheds the connection
            // (admission control under a burst of dials).
            let mut attempt = 0;
            let mut peer = loop {
                match BorPeer::connect_from(target, &ours, source).await {
                    Ok(peer) => break peer,
                    Err(e) if attempt >= DIAL_ATTEMPTS => return Err(e),
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
                        attempt += 1;
                    }
                }
            };
            let from = if spread { i as u64 * blocks } else { 0 };
            let parent: SealedHeader = peer
                .headers(from, 1)
                .await?
                .into_iter()
                .next()
                .ok_or_else(|| hypasis_loadtest::PeerError::BadData(format!("block {from} not served")))?;
            peer.sync(&parent, from + blocks).await
        });
    }
    let (mut ok, mut failed, mut blocks, mut requests, mut slowest) = (0, 0, 0, 0, Duration::ZERO);
    while let Some(result) = tasks.join_next().await {
        match result {
            Ok(Ok(report)) => {
                ok += 1;
                blocks += report.blocks;
                requests += report.requests;
                slowest = slowest.max(report.elapsed);
            }
            Ok(Err(e)) => {
                failed += 1;
                eprintln!("peer failed: {e}");
            }
            Err(e) => {
                failed += 1;
                eprintln!("peer task failed: {e}");
            }
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "peers: {ok} ok, {failed} failed; blocks: {blocks} in {secs:.2} s = {:.0} blocks/s (headers + bodies, verified); requests: {requests} ({:.0}/s); slowest peer {:.2} s",
        blocks as f64 / secs,
        requests as f64 / secs,
        slowest.as_secs_f64()
    );
    if failed > 0 {
        std::process::exit(1);
    }
}

/// The node's enode and a Status for its chain, from its REST status.
async fn node_status(api: &str, version: u64) -> Result<(Target, Status), String> {
    let url = format!("{}/api/v1/status", api.trim_end_matches('/'));
    let status: serde_json::Value =
        reqwest::get(&url).await.map_err(|e| format!("{url}: {e}"))?.json().await.map_err(|e| format!("{url}: {e}"))?;
    let target = Target::from_enode(status["enode"].as_str().ok_or("status has no enode")?)?;
    Ok((target, hypasis_loadtest::bor_peer::status_for(&status, version)?))
}
