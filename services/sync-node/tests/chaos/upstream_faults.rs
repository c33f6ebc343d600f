//! (d) Upstream faults besides lies: an honest upstream that hangs (every call times out) and a
//! tip that the honest upstreams reorganise onto another branch.

use crate::{
    Cluster, api,
    clients::Clients,
    devnet,
    support::{self, eventually},
};
use alloy_primitives::B256;
use hypasis_devnet::Devnet;
use hypasis_fake_upstream::DevnetRpc;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// How long each call to the hanging upstream waits: longer than the node's upstream timeout
/// (10 s), so every call to it times out.
const STALL: Duration = Duration::from_secs(15);

/// Blocks the reorg replaces.
const REORG_DEPTH: u64 = 3;

/// One of the two honest upstreams hangs for `window`: the head must keep moving (calls go to
/// the other one) and the clients keep being served.
pub(crate) fn hanging_upstream(cluster: &Cluster, hanging: &DevnetRpc, window: Duration) -> Value {
    let before = cluster.head();
    let produced_before = hanging.head();
    hanging.set_stall(Some(STALL));
    std::thread::sleep(window);
    let during = cluster.head().saturating_sub(before);
    let produced = hanging.head() - produced_before;
    hanging.set_stall(None);
    assert!(during + 2 >= produced / 2, "the head kept moving while one upstream hung: {during} of {produced} blocks");
    json!({"window_s": window.as_secs(), "blocks_produced": produced, "head_advanced": during})
}

/// Both honest upstreams replace their last blocks by another branch (the same one, so they
/// agree again); the cluster must follow it, and the clients accept either branch's blocks.
pub(crate) fn reorg_tip(cluster: &Cluster, honest: [&DevnetRpc; 2], clients: &Clients) -> Value {
    // Every instance holds the blocks about to be replaced, so following is a reorg.
    let upstream_head = honest[0].head().min(honest[1].head());
    let held = eventually(Duration::from_secs(30), "every instance at the upstreams' head", || {
        let heads: Vec<u64> = cluster.running().filter_map(|(_, n)| api(n, "/api/v1/status")?["head"]["number"].as_u64()).collect();
        let lowest = heads.iter().copied().min()?;
        (heads.len() == cluster.running().count() && lowest >= upstream_head).then_some(lowest)
    });
    let fork = held.min(honest[0].head()).min(honest[1].head()) - REORG_DEPTH + 1;
    let reorgs_before = reorgs(cluster);
    let branch: Vec<B256> = {
        let mut devnet = Devnet::new(devnet());
        devnet.next_blocks(fork as usize - 1);
        devnet.set_branch(1);
        devnet.next_blocks(600).iter().map(|b| b.hash()).collect()
    };
    clients.accept_branch(fork, &branch);
    let started = Instant::now();
    for rpc in honest {
        rpc.reorg_from(fork, 1).expect("the honest upstream reorganises its tip");
    }
    let on_branch = |number: u64, hash: B256| number >= fork && branch.get((number - fork) as usize) == Some(&hash);
    let followed = eventually(Duration::from_secs(30), "every instance on the new branch", || {
        cluster
            .running()
            .all(|(_, node)| {
                api(node, "/api/v1/status").is_some_and(|s| {
                    let head = &s["head"];
                    let hash = head["hash"].as_str().and_then(|h| h.parse().ok()).unwrap_or_default();
                    head["number"].as_u64().is_some_and(|n| on_branch(n, hash))
                })
            })
            .then(|| started.elapsed())
    });
    let reorgs = reorgs(cluster) - reorgs_before;
    assert!(reorgs >= 1, "the cluster followed the new branch with a reorg (hypasis_sync_reorgs_total)");
    json!({"fork_block": fork, "depth": REORG_DEPTH, "followed_after_ms": followed.as_millis() as u64, "reorgs": reorgs})
}

/// `hypasis_sync_reorgs_total` summed over the running instances.
fn reorgs(cluster: &Cluster) -> u64 {
    cluster
        .running()
        .filter_map(|(_, node)| std::panic::catch_unwind(|| support::http(node.api, "GET", "/metrics")).ok())
        .flat_map(|(_, body)| {
            body.lines()
                .filter(|l| l.starts_with("hypasis_sync_reorgs_total"))
                .filter_map(|l| l.split_whitespace().last()?.parse::<f64>().ok())
                .collect::<Vec<_>>()
        })
        .sum::<f64>() as u64
}
