//! The history tier end to end, on a real Redis and a real S3 server (SeaweedFS): a devnet
//! chain sealed into segments in the bucket, Redis trimmed to the hot window, and then every
//! block served over devp2p and JSON-RPC equal to the original; three instances seal each
//! segment exactly once; an instance started later, with an empty local cache, serves old
//! ranges from the bucket.
//!
//! `HYPASIS_HISTORY_TEST_BLOCKS` sets the chain length and `HYPASIS_HISTORY_TEST_SEGMENT` the
//! segment size, the hot window being 1.25 segments (defaults 8,000 and 2,048: 3 segments sealed,
//! 2 trimmed; the production size, 100,000 and 8,192, gives 12 sealed, recorded in
//! docs/BENCHMARKS.md).

mod support;

use hypasis_chain::Block;
use hypasis_devnet::{Devnet, DevnetConfig};
use hypasis_loadtest::{BorPeer, Target, bor_peer::status_for};
use hypasis_store::{BlockStore, RedisStore, RedisStoreConfig, RedisTarget};
use hypasis_test_support::{redis::RedisServer, seaweedfs::SeaweedS3};
use serde_json::{Value, json};
use std::{io::Write as _, time::Duration};
use support::{Node, eventually};

/// Blocks below the head sealed without checkpoints (the node's `LOCAL_SEAL_DEPTH`).
const SEAL_DEPTH: u64 = 64;

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn blocks() -> u64 {
    setting("HYPASIS_HISTORY_TEST_BLOCKS", 8_000)
}

fn segment() -> u64 {
    setting("HYPASIS_HISTORY_TEST_SEGMENT", 2_048)
}

fn hot_window() -> u64 {
    segment() * 5 / 4
}

fn head(node: &Node) -> u64 {
    node.get_json("/api/v1/status")["head"]["number"].as_u64().unwrap_or(0)
}

struct Cluster {
    redis: RedisServer,
    s3: SeaweedS3,
    operators: tempfile::NamedTempFile,
}

impl Cluster {
    fn start_node(&self, id: &str, prefill: u64) -> Node {
        let wrapper = [
            "env",
            &format!("AWS_ENDPOINT={}", self.s3.endpoint),
            "AWS_ALLOW_HTTP=true",
            "AWS_REGION=us-east-1",
            "AWS_ACCESS_KEY_ID=test",
            "AWS_SECRET_ACCESS_KEY=test",
        ]
        .map(str::to_owned);
        let wrapper: Vec<&str> = wrapper.iter().map(String::as_str).collect();
        let url = self.redis.url();
        let (prefill, segment, window) = (prefill.to_string(), segment().to_string(), hot_window().to_string());
        let operators = self.operators.path().to_str().expect("utf-8").to_owned();
        Node::start_wrapped(
            &wrapper,
            &[
                "--redis-url",
                &url,
                "--instance-id",
                id,
                "--devnet-prefill",
                &prefill,
                "--devnet-block-time",
                "3600",
                "--history-url",
                "s3://history/it",
                "--history-segment-blocks",
                &segment,
                "--history-hot-window",
                &window,
                "--cache-max-blocks",
                "2000",
                "--operators-file",
                &operators,
            ],
        )
    }
}

fn devnet_chain(count: u64) -> Vec<Block> {
    let mut devnet = Devnet::new(DevnetConfig { block_time: 3600, ..DevnetConfig::default() });
    let mut chain = vec![devnet.tip().clone()];
    chain.extend(devnet.next_blocks(count as usize));
    chain
}

/// Every block of `chain` over JSON-RPC, in batches: hash and roots equal to the original's.
async fn check_rpc(node: &Node, chain: &[Block]) {
    let client = reqwest::Client::new();
    let url = format!("http://{}", node.rpc);
    for batch in chain.chunks(1_000) {
        let calls: Vec<Value> = batch
            .iter()
            .map(|b| json!({"jsonrpc": "2.0", "id": b.number(), "method": "eth_getBlockByNumber", "params": [format!("{:#x}", b.number()), false]}))
            .collect();
        let answers: Vec<Value> = client.post(&url).json(&calls).send().await.expect("rpc").json().await.expect("json");
        assert_eq!(answers.len(), batch.len());
        for answer in answers {
            let n = answer["id"].as_u64().expect("id");
            let block = &answer["result"];
            let original = &chain[n as usize];
            assert_eq!(block["hash"], json!(original.hash()), "block {n}: {answer}");
            assert_eq!(block["transactionsRoot"], json!(original.header.transactions_root), "block {n}");
            assert_eq!(block["receiptsRoot"], json!(original.header.receipts_root), "block {n}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sealed_history_in_s3_is_served_after_redis_is_trimmed_and_sealed_once_across_three_instances() {
    let (total, segment) = (blocks(), segment());
    let sealable = (total - SEAL_DEPTH + 1) / segment;
    let original = tokio::task::spawn_blocking(move || devnet_chain(total));
    let mut operators = tempfile::NamedTempFile::new().expect("tempfile");
    writeln!(operators, "anonymous: {{requests_per_second: 1000000, burst: 1000000}}").expect("write");
    let cluster = Cluster { redis: RedisServer::start(), s3: SeaweedS3::start(&["history"]), operators };
    let cluster = std::sync::Arc::new(cluster);

    // Three instances on one Redis and one bucket; the leader makes the chain.
    let c = cluster.clone();
    let nodes = tokio::task::spawn_blocking(move || {
        let a = c.start_node("a", total);
        let b = c.start_node("b", total);
        let d = c.start_node("c", total);
        eventually(Duration::from_secs(900), "every segment sealed", || {
            let sealed: f64 = [&a, &b, &d].iter().map(|n| n.metric_sum("hypasis_history_segments_sealed_total", &[])).sum();
            let trimmed = [&a, &b, &d].iter().any(|n| n.metric_sum("hypasis_history_trimmed_blocks_total", &[]) > 0.0);
            (head(&a) == total && sealed as u64 >= sealable && trimmed).then_some(())
        });
        [a, b, d]
    })
    .await
    .expect("nodes");
    let original = original.await.expect("original chain");

    // Each segment sealed exactly once, cluster-wide.
    let sealed: f64 = nodes.iter().map(|n| n.metric_sum("hypasis_history_segments_sealed_total", &[])).sum();
    assert_eq!(sealed as u64, sealable, "segments sealed across the instances");
    // Followers reload the manifest every 10 s.
    let follower = &nodes[2];
    tokio::task::block_in_place(|| {
        eventually(Duration::from_secs(30), "the manifest seen by a follower", || {
            (follower.metric_sum("hypasis_history_segments", &[]) as u64 == sealable).then_some(())
        });
    });

    // Redis holds the hot window (and genesis) only.
    let redis = RedisStore::connect(RedisStoreConfig {
        target: RedisTarget::new(cluster.redis.url()),
        pool_size: 1,
        chain_id: 1337,
        command_timeout: Duration::from_secs(5),
    })
    .await
    .expect("redis");
    let held = redis.held().await.expect("held");
    // Segment k is trimmed once its last block, (k+1)·segment − 1, is below head − hot window;
    // genesis stays (every handshake names it).
    let trimmed = sealable.min((total - hot_window()) / segment);
    assert!(trimmed >= 1, "the chain is long enough to trim something");
    assert_eq!(held.count(), total + 1 - (trimmed * segment - 1), "Redis holds the hot window: {held:?}");
    assert!(held.contains(0) && !held.contains(1) && held.contains(trimmed * segment), "{held:?}");

    // Every block over devp2p from a follower: linked from genesis, bodies and receipts matching
    // their roots, ending at the original head.
    let status = nodes[1].get_json("/api/v1/status");
    let target = Target::from_enode(status["enode"].as_str().expect("enode")).expect("enode");
    let ours = status_for(&status, 69).expect("status");
    let mut peer = BorPeer::connect(target, &ours).await.expect("connect");
    let report = peer.sync_with(&original[0].header, total, true).await.expect("sync");
    assert_eq!((report.blocks, report.head), (total, original[total as usize].hash()));
    let from_segments = nodes[1].metric_sum("hypasis_store_tier_reads_total", &["object_store"])
        + nodes[1].metric_sum("hypasis_store_tier_reads_total", &["segment_cache"]);
    assert!(from_segments >= (sealable * segment / 2) as f64, "blocks read from segments: {from_segments}");

    // Every block over JSON-RPC from another instance.
    check_rpc(&nodes[2], &original).await;

    // A new instance with an empty local cache serves old ranges from the bucket.
    let c = cluster.clone();
    let late = tokio::task::spawn_blocking(move || c.start_node("late", 0)).await.expect("late node");
    let status = late.get_json("/api/v1/status");
    let target = Target::from_enode(status["enode"].as_str().expect("enode")).expect("enode");
    let mut peer = BorPeer::connect(target, &status_for(&status, 69).expect("status")).await.expect("connect");
    let old = (trimmed * segment - 1).min(3_000);
    let report = peer.sync_with(&original[0].header, old, true).await.expect("old range");
    assert_eq!(report.head, original[old as usize].hash());
    assert!(late.metric_sum("hypasis_store_tier_reads_total", &["object_store"]) > 0.0, "read from the bucket");
    assert_eq!(late.metric_sum("hypasis_history_corrupt_total", &[]), 0.0);
}
