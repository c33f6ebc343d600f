//! An operator's quota holds cluster-wide: three instances on one real redis-server, the
//! operator's JSON-RPC calls spread over all three as fast as they answer, and the calls let
//! through stay within 1.1× of its quota (rate × time + burst), not three times it.

mod support;

use hypasis_test_support::redis::RedisServer;
use std::time::{Duration, Instant};
use support::{Node, eventually};

const RATE: u64 = 30;
const BURST: u64 = 30;

fn share_members(node: &Node) -> Option<f64> {
    let metrics = node.get("/metrics").1;
    metrics.lines().find(|l| l.starts_with("hypasis_limits_share_members "))?.rsplit(' ').next()?.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_spread_over_three_instances_gets_its_quota_once() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("operators.yaml");
    let hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b"key-a"));
    std::fs::write(
        &file,
        format!("operators:\n  - {{name: a, limits: {{requests_per_second: {RATE}, burst: {BURST}}}, api_key_sha256: [{hash}]}}\n"),
    )
    .expect("write");
    let (url, path) = (redis.url(), file.to_str().expect("utf-8").to_owned());
    let nodes = tokio::task::spawn_blocking(move || {
        let start =
            |id: &str| Node::start(&["--redis-url", &url, "--instance-id", id, "--devnet-block-time", "3600", "--operators-file", &path]);
        let nodes = vec![start("n1"), start("n2"), start("n3")];
        for node in &nodes {
            eventually(Duration::from_secs(30), "three members sharing the quota", || share_members(node).filter(|m| *m == 3.0));
        }
        nodes
    })
    .await
    .expect("start");

    let client = reqwest::Client::new();
    let body = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []});
    let started = Instant::now();
    let run = Duration::from_secs(4);
    let workers = nodes.iter().map(|node| {
        let (client, url, body) = (client.clone(), format!("http://{}/", node.rpc), body.clone());
        async move {
            let (mut allowed, mut limited) = (0u64, 0u64);
            while started.elapsed() < run {
                let response = client.post(&url).header("x-api-key", "key-a").json(&body).send().await.expect("send");
                match response.status().as_u16() {
                    200 => allowed += 1,
                    429 => limited += 1,
                    other => panic!("unexpected status {other}"),
                }
            }
            (allowed, limited)
        }
    });
    let counts = futures::future::join_all(workers).await;
    let elapsed = started.elapsed().as_secs_f64();
    let allowed: u64 = counts.iter().map(|c| c.0).sum();
    let limited: u64 = counts.iter().map(|c| c.1).sum();
    let quota = RATE as f64 * elapsed + BURST as f64;
    eprintln!("{allowed} allowed, {limited} limited in {elapsed:.2} s; quota {quota:.0}; per instance {counts:?}");
    assert!(limited > allowed, "the operator asked for far more than its quota: {counts:?}");
    assert!((allowed as f64) <= 1.1 * quota, "{allowed} calls let through, more than 1.1 × the quota {quota:.0}");
    assert!((allowed as f64) >= 0.6 * quota, "{allowed} calls let through: the operator should get most of its quota {quota:.0}");
    assert!(counts.iter().all(|c| c.0 > 0), "every instance served its share: {counts:?}");
    tokio::task::spawn_blocking(move || drop((nodes, redis))).await.expect("stop");
}
