//! `hypasis-loadtest`: many Bor-like peers against one node or a cluster behind nginx, each
//! downloading block ranges (headers, bodies and optionally receipts, verified), or holding idle
//! sessions; shows a live progress line and prints a JSON summary as its last line. See
//! `loadtest/README.md` and `loadtest/run` for the scenarios.

use clap::Parser;
use hypasis_chain::SealedHeader;
use hypasis_eth_wire::{WireError, eth::status::Status};
use hypasis_loadtest::{BorPeer, PeerError, Stats, Target, stats::process_usage};
use serde_json::json;
use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

/// Redials per peer before it counts as failed (backoff 0.2 s doubling, 3.2 s at most: about
/// 20 s in all, as a Bor node keeps redialling a static peer).
const DIAL_ATTEMPTS: u32 = 9;

/// Bor-like peers downloading from a Hypasis Sync node.
#[derive(Debug, Parser)]
#[command(name = "hypasis-loadtest", version, about)]
struct Args {
    /// The node's REST API (its Status fields and enode are read from `/api/v1/status`).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    api: String,
    /// Dial this enode instead of the one the API reports (a load balancer in front).
    #[arg(long)]
    enode: Option<String>,
    /// Peers at once.
    #[arg(long, default_value_t = 50)]
    peers: usize,
    /// Blocks each peer downloads per range (from block 1, or spread over the chain with
    /// --spread).
    #[arg(long, default_value_t = 1_000)]
    blocks: u64,
    /// Give each peer a different range (peer i starts at i * blocks) instead of all from 1.
    #[arg(long)]
    spread: bool,
    /// Fetch receipts too (verified against the headers' roots).
    #[arg(long)]
    receipts: bool,
    /// Keep going for this many seconds: each peer downloads ranges again and again (or, with
    /// --idle, holds its session). Without it each peer downloads its range once.
    #[arg(long)]
    duration: Option<u64>,
    /// Hold sessions idle (answering pings only) instead of downloading.
    #[arg(long)]
    idle: bool,
    /// Pause between one peer's ranges, in milliseconds (a per-peer pacing).
    #[arg(long, default_value_t = 0)]
    pace_ms: u64,
    /// New connections per second while peers start (0: all at once).
    #[arg(long, default_value_t = 0)]
    dial_rate: u64,
    /// eth version (68 or 69).
    #[arg(long, default_value_t = 69)]
    eth: u64,
    /// Dial every peer from 127.0.0.1 instead of its own loopback address (127.0.1.1, …): the
    /// node then caps them by --p2p-peers-per-ip.
    #[arg(long)]
    one_source: bool,
    /// Allow a target that is not on loopback (a real deployment: mind whose service it is).
    #[arg(long)]
    allow_remote: bool,
    /// PIDs of the node processes, whose CPU seconds and peak RSS go into the summary.
    #[arg(long, value_delimiter = ',')]
    node_pids: Vec<u32>,
    /// Also measure the limit: the answers' bytes through the frame codec alone (one core, same
    /// run), and the ratio of the download's bytes/s to it.
    #[arg(long)]
    codec_limit: bool,
    /// Also write the JSON summary to this file.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
    /// No live progress line on stderr.
    #[arg(long)]
    quiet: bool,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let (mut target, ours) = match node_status(&args.api, args.eth).await {
        Ok(v) => v,
        Err(e) => fail(&e),
    };
    if let Some(enode) = &args.enode {
        target = Target::from_enode(enode).unwrap_or_else(|e| fail(&e));
    }
    if !target.addr.ip().is_loopback() && !args.allow_remote {
        fail(&format!("{} is not a loopback address; pass --allow-remote to load a remote node", target.addr));
    }
    let baseline = process_usage(&args.node_pids);
    let stats = Arc::new(if args.codec_limit { Stats::sampling() } else { Stats::default() });
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let deadline = args.duration.map(|s| started + Duration::from_secs(s));
    let progress = (!args.quiet).then(|| tokio::spawn(progress(stats.clone(), args.peers, started)));
    let mut tasks = tokio::task::JoinSet::new();
    let spread_sources = target.addr.is_ipv4() && target.addr.ip().is_loopback() && !args.one_source;
    for i in 0..args.peers {
        if args.dial_rate > 0 {
            tokio::time::sleep_until((started + Duration::from_secs_f64(i as f64 / args.dial_rate as f64)).into()).await;
        }
        let plan = Plan {
            i,
            target,
            ours: ours.clone(),
            source: spread_sources.then(|| hypasis_loadtest::bor_peer::loopback_source(i)),
            from: if args.spread { i as u64 * args.blocks } else { 0 },
            blocks: args.blocks,
            receipts: args.receipts,
            idle: args.idle,
            pace: Duration::from_millis(args.pace_ms),
            deadline,
        };
        tasks.spawn(run_peer(plan, stats.clone(), stop.clone()));
    }
    // Whether a new peer is still served at the end of the load, the load's sessions still
    // open (the idle scenario's question).
    let fresh = match deadline {
        Some(deadline) => {
            tokio::time::sleep_until(deadline.into()).await;
            let fresh = fresh_peer(target, &ours).await;
            stop.store(true, Ordering::SeqCst);
            while tasks.join_next().await.is_some() {}
            fresh
        }
        None => {
            while tasks.join_next().await.is_some() {}
            fresh_peer(target, &ours).await
        }
    };
    let elapsed = started.elapsed();
    if let Some(progress) = progress {
        progress.abort();
        eprintln!();
    }
    let mut summary = stats.summary(elapsed);
    summary["peers"] = json!(args.peers);
    summary["new_peer_after_run_ms"] = json!(fresh.map(|d| d.as_secs_f64() * 1000.0));
    summary["node"] = json!({"before": baseline, "after": process_usage(&args.node_pids)});
    if let Some((rate, measured)) = stats.codec_limit().await {
        let ours = summary["bytes_per_s"].as_f64().unwrap_or(0.0);
        summary["limit"] = json!({
            "what": "the same answer bytes through the frame codec alone (snappy + AES-CTR + keccak MAC, both directions), one core, in memory",
            "bytes_measured": measured,
            "bytes_per_s": rate,
            "ratio": ours / rate,
        });
    }
    let line = summary.to_string();
    if let Some(path) = &args.json
        && let Err(e) = std::fs::write(path, serde_json::to_string_pretty(&summary).unwrap_or(line.clone()))
    {
        eprintln!("hypasis-loadtest: cannot write {}: {e}", path.display());
    }
    println!("{line}");
    let failed = stats.handshakes_failed.load(Ordering::Relaxed) + stats.requests_failed();
    if failed > 0 || fresh.is_none() {
        std::process::exit(1);
    }
}

fn fail(message: &str) -> ! {
    eprintln!("hypasis-loadtest: {message}");
    std::process::exit(69);
}

/// What one peer does.
struct Plan {
    i: usize,
    target: Target,
    ours: Status,
    source: Option<std::net::IpAddr>,
    from: u64,
    blocks: u64,
    receipts: bool,
    idle: bool,
    pace: Duration,
    deadline: Option<Instant>,
}

async fn run_peer(plan: Plan, stats: Arc<Stats>, stop: Arc<AtomicBool>) {
    // Like a Bor node, redial with backoff when the node sheds the connection.
    let mut attempt = 0;
    let mut peer = loop {
        match BorPeer::connect_from(plan.target, &plan.ours, plan.source).await {
            Ok(peer) => break peer.with_stats(stats.clone()),
            Err(e) if attempt >= DIAL_ATTEMPTS => {
                stats.handshakes_failed.fetch_add(1, Ordering::Relaxed);
                stats.disconnected(format!("handshake: {}", reason(&e)));
                return;
            }
            Err(_) => {
                stats.redials.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(200 << attempt.min(4))).await;
                attempt += 1;
            }
        }
    };
    stats.handshakes_ok.fetch_add(1, Ordering::Relaxed);
    stats.session_started();
    let latest = peer.status().range.map_or(0, |r| r.1);
    let mut round = 0u64;
    let ended = loop {
        if plan.idle {
            // Held (answering pings) until the run stops it, so the sessions are still open
            // while the fresh peer is tried at the end.
            if stop.load(Ordering::SeqCst) || plan.deadline.is_none() {
                break None;
            }
            match peer.next_message(Duration::from_secs(1)).await {
                Ok(_) | Err(PeerError::Timeout(_)) => continue,
                Err(e) => break Some(e),
            }
        }
        let from = range_start(&plan, round, latest);
        let result = async {
            let parent: SealedHeader =
                peer.headers(from, 1).await?.into_iter().next().ok_or_else(|| PeerError::BadData(format!("block {from} not served")))?;
            peer.sync_with(&parent, (from + plan.blocks).min(latest.max(from + 1)), plan.receipts).await
        }
        .await;
        if let Err(e) = result {
            break Some(e);
        }
        round += 1;
        if plan.deadline.is_none() || stop.load(Ordering::SeqCst) {
            break None;
        }
        tokio::time::sleep(plan.pace).await;
    };
    stats.session_ended(ended.map_or_else(|| "expected: run ended".to_owned(), |e| reason(&e)));
}

/// Where round `round` of a peer starts: its own range first, then a different one each round.
fn range_start(plan: &Plan, round: u64, latest: u64) -> u64 {
    let span = latest.saturating_sub(plan.blocks).max(1);
    if round == 0 { plan.from.min(span) } else { (plan.from + round * 7_919 * (plan.i as u64 + 1)) % span }
}

/// A short, stable name for why a session ended.
fn reason(e: &PeerError) -> String {
    match e {
        PeerError::Wire(WireError::Disconnected(reason)) => format!("disconnected: {reason:?}"),
        PeerError::Wire(WireError::Rlpx(_)) => "transport".into(),
        PeerError::Wire(other) => format!("wire: {}", other.to_string().split(':').next().unwrap_or("error")),
        PeerError::Timeout(what) => format!("timeout: {what}"),
        PeerError::BadData(_) => "bad data".into(),
        PeerError::NoRemote(_) | PeerError::Mismatch { .. } => "milestone check".into(),
    }
}

/// How long a new peer, from an address no load peer used, takes to complete a handshake and
/// get headers after the run (still holding the idle sessions); `None` when it is not served.
async fn fresh_peer(target: Target, ours: &Status) -> Option<Duration> {
    let source = target.addr.ip().is_loopback().then(|| "127.0.99.99".parse().expect("an address"));
    let started = Instant::now();
    let attempt = async {
        let mut peer = BorPeer::connect_from(target, ours, source).await.ok()?;
        (!peer.headers(1, 16).await.ok()?.is_empty()).then_some(())
    };
    tokio::time::timeout(Duration::from_secs(20), attempt).await.ok().flatten().map(|()| started.elapsed())
}

/// A live line on stderr: peers connected, requests/s, errors, blocks/s.
async fn progress(stats: Arc<Stats>, peers: usize, started: Instant) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let (mut last_requests, mut last_blocks) = (0, 0);
    loop {
        tick.tick().await;
        let (requests, blocks) = (stats.requests_ok(), stats.blocks.load(Ordering::Relaxed));
        eprint!(
            "\r[{:>4}s] peers {}/{peers}  {:>7} req/s  {:>8} blocks/s  errors {}   ",
            started.elapsed().as_secs(),
            stats.connected(),
            requests - last_requests,
            blocks - last_blocks,
            stats.requests_failed() + stats.handshakes_failed.load(Ordering::Relaxed),
        );
        (last_requests, last_blocks) = (requests, blocks);
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
