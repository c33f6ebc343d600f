//! Readiness that means something: 503 with no head, 503 when the head is held back behind the
//! cluster's by more than `--ready-max-lag`, 200 (degraded) while Redis is down and the hot tier
//! serves, 503 during the drain after SIGTERM while the node still answers.

mod support;

use hypasis_store::{BlockStore, ChainHead, RedisStore, RedisStoreConfig, RedisTarget};
use hypasis_test_support::redis::RedisServer;
use std::time::Duration;
use support::{Node, eventually};

fn check<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["checks"].as_array().expect("checks").iter().find(|c| c["name"] == name).unwrap_or_else(|| panic!("no {name} check: {report}"))
}

#[test]
fn no_head_is_not_ready() {
    // Amoy without an upstream: no genesis bundled, so no head.
    let node = Node::start(&["--chain", "polygon-amoy"]);
    let (status, body) = node.get("/health/ready");
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("no head yet"), "{body}");
    let report = node.get_json("/api/v1/health");
    assert_eq!((report["status"].as_str(), check(&report, "head")["ok"].as_bool()), (Some("unready"), Some(false)), "{report}");
    let memory = check(&report, "memory");
    assert!(memory["ok"] == true && memory["detail"].as_str().is_some_and(|d| d.contains("MiB resident")), "{report}");
    assert_eq!(memory["critical"], false);
}

#[test]
fn a_head_held_back_behind_the_cluster_is_not_ready_and_a_redis_outage_is_only_degraded() {
    let mut redis = RedisServer::start();
    let node =
        Node::start(&["--redis-url", &redis.url(), "--devnet-prefill", "20", "--devnet-block-time", "3600", "--ready-max-lag", "10"]);
    eventually(Duration::from_secs(20), "ready", || (node.get("/health/ready").0 == 200).then_some(()));
    let report = node.get_json("/api/v1/health");
    assert_eq!(report["status"], "ok", "{report}");
    assert_eq!(check(&report, "redis")["ok"], true);

    // Redis down: the hot tier serves; ready, but the report says degraded.
    redis.kill();
    eventually(Duration::from_secs(10), "degraded", || (node.get_json("/api/v1/health")["status"] == "degraded").then_some(()));
    let (status, body) = node.get("/health/ready");
    assert_eq!(status, 200, "a Redis outage alone keeps serving: {body}");
    assert_eq!(check(&node.get_json("/api/v1/health"), "redis")["ok"], false);
    redis.restart();
    eventually(Duration::from_secs(20), "healthy again", || (node.get_json("/api/v1/health")["status"] == "ok").then_some(()));

    // The cluster's head (in Redis) moves 50 blocks past the one this instance advertises.
    let ours = node.get_json("/api/v1/status")["head"]["number"].as_u64().expect("head");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let config = RedisStoreConfig {
            target: RedisTarget::new(redis.url()),
            pool_size: 1,
            chain_id: 1337,
            command_timeout: Duration::from_secs(2),
        };
        let store = RedisStore::connect(config).await.expect("redis store");
        let ahead = ChainHead {
            number: ours + 50,
            hash: alloy_primitives::B256::repeat_byte(9),
            total_difficulty: alloy_primitives::U256::MAX,
            timestamp: 0,
        };
        store.advance_head(ahead).await.expect("head");
    });
    let (status, body) = eventually(Duration::from_secs(10), "unready", || Some(node.get("/health/ready")).filter(|(s, _)| *s == 503));
    assert!(body.contains("cluster_lag") && body.contains("50 blocks behind"), "{status}: {body}");
}

#[test]
fn draining_after_sigterm_is_not_ready_while_still_answering() {
    let node = Node::start(&["--devnet-prefill", "5", "--devnet-block-time", "3600", "--shutdown-drain", "3"]);
    assert_eq!(node.get("/health/ready").0, 200);
    let pid = node.child.id().to_string();
    std::process::Command::new("kill").args(["-TERM", &pid]).status().expect("kill");
    let (status, body) =
        eventually(Duration::from_secs(2), "503 while draining", || Some(node.get("/health/ready")).filter(|(s, _)| *s == 503));
    assert!(body.contains("draining"), "{status}: {body}");
    assert_eq!(node.get("/api/v1/status").0, 200, "everything else still answers during the drain");
    let exit = node.terminate(Duration::from_secs(20));
    assert!(exit.success(), "{exit:?}");
}
