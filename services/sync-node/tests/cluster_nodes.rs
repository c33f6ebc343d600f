//! Three nodes on one real `redis-server`, and on a real three-master Redis Cluster: one leader,
//! shared blocks, hand-over on `kill -9` (with `eth_blockNumber` never going backwards across the
//! three instances' JSON-RPC), a 10 s Redis outage survived with no range lost.

mod support;

use hypasis_test_support::AnyRedis;
use std::time::Duration;
use support::{Node, eventually};

fn is_leader(node: &Node) -> bool {
    node.get_json("/api/v1/cluster")["me"]["leader"] == true
}

fn head(node: &Node) -> u64 {
    node.get_json("/api/v1/status")["head"]["number"].as_u64().unwrap_or(0)
}

fn leaders(nodes: &[&Node]) -> usize {
    nodes.iter().filter(|n| is_leader(n)).count()
}

#[test]
fn one_leader_followers_serve_its_blocks_and_a_killed_leader_is_replaced() {
    hand_over(AnyRedis::single());
}

#[test]
fn one_leader_and_hand_over_on_a_redis_cluster() {
    hand_over(AnyRedis::cluster());
}

fn hand_over(redis: AnyRedis) {
    let shared = tempfile::tempdir().expect("tempdir");
    let cluster_key = shared.path().join("cluster.key");
    let url = redis.url();
    let start = |id: &str| {
        Node::start(&[
            "--redis-url",
            &url,
            "--instance-id",
            id,
            "--devnet-block-time",
            "1",
            "--cluster-key-file",
            cluster_key.to_str().expect("utf-8"),
        ])
    };
    let mut nodes = vec![start("n1"), start("n2"), start("n3")];

    eventually(Duration::from_secs(20), "exactly one leader", || (leaders(&nodes.iter().collect::<Vec<_>>()) == 1).then_some(()));
    let cluster = nodes[0].get_json("/api/v1/cluster");
    eventually(Duration::from_secs(10), "three members", || {
        (nodes[0].get_json("/api/v1/cluster")["members"].as_array().map_or(0, Vec::len) == 3).then_some(())
    });
    assert_eq!(cluster["mode"], "cluster");

    // Every instance serves the leader's chain from Redis, and its head rises.
    for node in &nodes {
        let h = eventually(Duration::from_secs(20), "a head above 2", || Some(head(node)).filter(|h| *h > 2));
        eventually(Duration::from_secs(20), "the head to rise", || (head(node) > h).then_some(()));
    }
    let genesis: Vec<_> = nodes.iter().map(|n| n.get_json("/api/v1/status")["genesis_hash"].clone()).collect();
    assert!(genesis.windows(2).all(|w| w[0] == w[1]));

    // Bootnodes: the shared cluster enode first, then each instance's own. (Here every instance
    // listens on its own loopback port, so the cluster id appears once per port; behind the load
    // balancer they share one host:port and collapse to one entry.)
    let bootnodes: Vec<String> = nodes[1].get_json("/api/v1/bootnodes")["bootnodes"]
        .as_array()
        .expect("list")
        .iter()
        .map(|v| v.as_str().expect("str").to_owned())
        .collect();
    assert_eq!(bootnodes[0], nodes[1].enodes[0], "own cluster enode first");
    let id = |e: &str| e.trim_start_matches("enode://").split('@').next().unwrap_or_default().to_owned();
    for node in &nodes {
        assert_eq!(id(&node.enodes[0]), id(&bootnodes[0]), "one cluster identity");
        assert!(bootnodes.contains(&node.enodes[1]), "instance enode {} listed", node.enodes[1]);
    }

    // Never two leaders while we watch.
    for _ in 0..20 {
        assert!(leaders(&nodes.iter().collect::<Vec<_>>()) <= 1);
        std::thread::sleep(Duration::from_millis(50));
    }

    // A client asking the three instances in turn for eth_blockNumber, all through the hand-over.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let rpcs: Vec<std::net::SocketAddr> = nodes.iter().map(|n| n.rpc).collect();
    let watcher = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut seen: Vec<(usize, u64)> = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                for (i, addr) in rpcs.iter().enumerate() {
                    let answer = support::rpc(*addr, "eth_blockNumber", serde_json::json!([]));
                    let number = answer
                        .as_ref()
                        .and_then(|a| a["result"].as_str())
                        .and_then(|h| u64::from_str_radix(h.trim_start_matches("0x"), 16).ok());
                    if let Some(number) = number {
                        seen.push((i, number));
                    }
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            seen
        })
    };

    // kill -9 the leader: another takes over within the lease and the head keeps rising.
    std::thread::sleep(Duration::from_millis(500));
    let index = nodes.iter().position(is_leader).expect("a leader");
    let before = head(&nodes[index]);
    let mut killed = nodes.remove(index);
    killed.child.kill().expect("SIGKILL");
    let _ = killed.child.wait();
    let survivors: Vec<&Node> = nodes.iter().collect();
    eventually(Duration::from_secs(15), "a new leader", || (leaders(&survivors) == 1).then_some(()));
    for node in &survivors {
        eventually(Duration::from_secs(20), "the head to pass the old leader's", || (head(node) > before + 2).then_some(()));
    }
    // A few more rounds of the watcher, so its last answers were asked after the heads passed.
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let seen = watcher.join().expect("watcher");
    let backwards: Vec<_> = seen.windows(2).filter(|w| w[1].1 < w[0].1).collect();
    assert!(backwards.is_empty(), "eth_blockNumber went backwards across instances (instance, number): {backwards:?}");
    let instances: std::collections::BTreeSet<usize> = seen.iter().map(|(i, _)| *i).collect();
    assert_eq!(instances.len(), 3, "every instance answered");
    assert!(seen.last().map(|s| s.1) > Some(before + 2), "the answers rose past the old leader's head: {:?}", seen.last());
    drop(redis);
}

#[test]
fn redis_stopped_for_ten_seconds_every_node_keeps_serving_and_nothing_is_lost() {
    outage(AnyRedis::single());
}

#[test]
fn a_redis_cluster_stopped_for_ten_seconds_loses_nothing() {
    outage(AnyRedis::cluster());
}

fn outage(mut redis: AnyRedis) {
    let url = redis.url();
    let start = |id: &str| Node::start(&["--redis-url", &url, "--instance-id", id, "--devnet-block-time", "1"]);
    let nodes = [start("r1"), start("r2"), start("r3")];
    for node in &nodes {
        eventually(Duration::from_secs(30), "a head above 3", || Some(head(node)).filter(|h| *h > 3));
    }

    // Followers pick up the leader's head every 500 ms, so their in-memory tip may lag by a block.
    let floors: Vec<u64> = nodes.iter().map(|n| head(n).saturating_sub(2)).collect();
    redis.kill();
    let down = std::time::Instant::now();
    while down.elapsed() < Duration::from_secs(10) {
        // Every node keeps answering with the tip it holds in memory.
        for (node, floor) in nodes.iter().zip(&floors) {
            let status = node.get_json("/api/v1/status");
            assert!(status["head"]["number"].as_u64().is_some_and(|h| h >= *floor), "floor {floor}: {status}");
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let before = nodes.iter().map(head).max().unwrap_or(0);
    redis.restart();

    // They reconnect by themselves, elect a leader and the head moves on.
    eventually(Duration::from_secs(30), "one leader again", || (leaders(&nodes.iter().collect::<Vec<_>>()) == 1).then_some(()));
    for node in &nodes {
        eventually(Duration::from_secs(30), "the head to rise after the outage", || (head(node) > before + 2).then_some(()));
    }
    // No block lost or duplicated: Redis holds exactly every number from genesis to its highest.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let range = runtime.block_on(async {
        let store = hypasis_store::RedisStore::connect(hypasis_store::RedisStoreConfig {
            target: hypasis_store::RedisTarget::new(redis.url()),
            pool_size: 1,
            chain_id: 1337,
            command_timeout: Duration::from_secs(2),
        })
        .await
        .expect("connect");
        hypasis_store::BlockStore::range(&store).await.expect("range").expect("blocks")
    });
    assert_eq!((range.lowest, range.count), (0, range.highest + 1), "{range:?}");
    // The gap tracker, as every instance reports it: one range from genesis, no gap below the head.
    for node in &nodes {
        let gaps = node.get_json("/api/v1/gaps");
        assert_eq!(gaps["held"].as_array().map(Vec::len), Some(1), "{gaps}");
        assert_eq!(gaps["held"][0][0], 0, "{gaps}");
        assert_eq!((gaps["gap_count"].as_u64(), gaps["missing_blocks"].as_u64()), (Some(0), Some(0)), "{gaps}");
    }
}

#[test]
fn redis_down_at_start_is_retried_then_named_in_the_exit_message() {
    let port = hypasis_test_support::free_port();
    let url = format!("redis://user:secret@127.0.0.1:{port}");
    let dir = tempfile::tempdir().expect("tempdir");
    let key = dir.path().join("node.key");
    let started = std::time::Instant::now();
    let (code, stderr) = support::run_to_exit(&[
        "--redis-url",
        &url,
        "--redis-start-timeout",
        "2",
        "--api-port",
        "0",
        "--rpc-port",
        "0",
        "--p2p-port",
        "0",
        "--node-key-file",
        key.to_str().expect("utf-8"),
    ]);
    let took = started.elapsed();
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains(&format!("cannot reach Redis at redis://user:***@127.0.0.1:{port}")), "{stderr}");
    assert!(stderr.contains("--redis-start-timeout") && !stderr.contains("secret"), "{stderr}");
    assert!(stderr.matches("Redis not reachable yet").count() >= 2, "retried: {stderr}");
    assert!(took >= Duration::from_millis(1_500), "gave up after {took:?}");
}

#[test]
fn redis_that_comes_up_after_the_node_is_waited_for() {
    let mut redis = hypasis_test_support::redis::RedisServer::start();
    redis.kill();
    let url = redis.url();
    let node = std::thread::spawn(move || Node::start(&["--redis-url", &url, "--redis-start-timeout", "20"]));
    std::thread::sleep(Duration::from_secs(2));
    redis.restart();
    let node = node.join().expect("the node started once Redis was up");
    eventually(Duration::from_secs(20), "leading and serving", || (is_leader(&node) && head(&node) > 0).then_some(()));
}
