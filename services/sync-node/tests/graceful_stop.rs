//! SIGTERM as a hand-over: the instance turns unready while still answering, its leadership goes
//! to another instance at once (a released-lease event, not the next election tick), its peers
//! get `Disconnect(ClientQuitting)`, it exits in time, and blocks it could not write to Redis
//! during an outage are written before it exits.

mod support;

use hypasis_eth_wire::{DisconnectReason, WireError};
use hypasis_rlpx::{NodeId, keys};
use hypasis_test_support::redis::RedisServer;
use std::{
    process::Command,
    time::{Duration, Instant},
};
use support::{Node, eventually};

fn is_leader(node: &Node) -> bool {
    node.get_json("/api/v1/cluster")["me"]["leader"] == true
}

fn head(node: &Node) -> u64 {
    node.get_json("/api/v1/status")["head"]["number"].as_u64().unwrap_or(0)
}

fn sigterm(node: &Node) {
    Command::new("kill").args(["-TERM", &node.child.id().to_string()]).status().expect("kill -TERM");
}

#[test]
fn a_leader_stopped_with_sigterm_hands_over_at_once_and_says_goodbye_to_its_peers() {
    let redis = RedisServer::start();
    let url = redis.url();
    // A 30 s lease: without the released-lease event a follower would wait for its next
    // election round (every 10 s) to notice.
    let start = |id: &str| {
        Node::start(&[
            "--redis-url",
            &url,
            "--instance-id",
            id,
            "--devnet-block-time",
            "1",
            "--leader-lease-ms",
            "30000",
            "--shutdown-drain",
            "2",
        ])
    };
    let mut nodes = vec![start("g1"), start("g2"), start("g3")];
    let index = eventually(Duration::from_secs(20), "a leader", || nodes.iter().position(is_leader));
    eventually(Duration::from_secs(20), "a head above 2", || (head(&nodes[index]) > 2).then_some(()));
    let mut leader = nodes.remove(index);

    // A devp2p peer of the leader.
    let status = leader.get_json("/api/v1/status");
    let enode = status["enode"].as_str().expect("enode").to_owned();
    let server_id = NodeId::from_slice(&hex::decode(enode.trim_start_matches("enode://").split('@').next().expect("id")).expect("hex"));
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let mut eth = runtime.block_on(async {
        let conn = hypasis_p2p::dial(leader.p2p, &keys::random_secret(), server_id, "bor/goodbye", &[69]).await.expect("dial");
        conn.exchange_status(&support::status_for(&status), true, |_| Ok(())).await.expect("status")
    });

    let stopped = Instant::now();
    sigterm(&leader);
    let took_over = eventually(Duration::from_secs(15), "a new leader", || nodes.iter().any(is_leader).then(|| stopped.elapsed()));
    eprintln!("new leader {took_over:?} after SIGTERM to the old one");
    assert!(took_over < Duration::from_secs(1), "hand-over took {took_over:?}");
    // Draining: unready, still answering, no longer leading.
    let (ready, _) = leader.get("/health/ready");
    assert_eq!(ready, 503, "unready while draining");
    assert_eq!(leader.get("/api/v1/status").0, 200, "still answering while draining");
    assert!(!is_leader(&leader), "the old leader no longer leads");
    // The followers' heads keep rising under the new leader.
    let before = nodes.iter().map(head).max().unwrap_or(0);
    for node in &nodes {
        eventually(Duration::from_secs(10), "the head to rise under the new leader", || (head(node) > before).then_some(()));
    }

    // After the drain the peer is told why, and the process exits cleanly.
    let goodbye = runtime.block_on(async {
        tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                match eth.recv().await {
                    Ok(_) => continue,
                    Err(e) => return e,
                }
            }
        })
        .await
        .expect("the session ends within the drain")
    });
    assert!(matches!(goodbye, WireError::Disconnected(DisconnectReason::ClientQuitting)), "{goodbye:?}");
    let exit = leader.wait_exit(Duration::from_secs(10));
    assert!(exit.success(), "{exit}");
    assert_eq!(nodes.iter().filter(|n| is_leader(n)).count(), 1, "one leader among the others");
}

#[test]
fn blocks_kept_during_a_redis_outage_are_in_redis_after_a_graceful_stop() {
    let mut redis = RedisServer::start();
    let url = redis.url();
    // No drain: everything but the exit flush stops at once, so only it can write the backlog.
    let mut node = Node::start(&["--redis-url", &url, "--devnet-block-time", "1", "--leader-lease-ms", "30000", "--shutdown-drain", "0"]);
    eventually(Duration::from_secs(20), "a head above 2", || (head(&node) > 2).then_some(()));
    // Redis gone: the block the leader makes next stays in the hot tier and the write backlog.
    redis.kill();
    let backlog = || {
        let (_, metrics) = node.get("/metrics");
        metrics
            .lines()
            .find(|l| l.starts_with("hypasis_store_tier_backlog_blocks "))
            .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    let waiting = eventually(Duration::from_secs(15), "a block in the write backlog", || Some(backlog()).filter(|b| *b >= 1.0));
    eprintln!("{waiting} blocks wait for Redis");
    let last = head(&node);
    sigterm(&node);
    // Redis comes back while the stopping node retries the backlog.
    std::thread::sleep(Duration::from_millis(1_500));
    assert!(node.child.try_wait().expect("wait").is_none(), "the node waits for Redis within its grace period");
    redis.restart();
    let exit = node.wait_exit(Duration::from_secs(20));
    assert!(exit.success(), "{exit}");
    // Redis holds every block from genesis to at least the head the node had when stopped.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let range = runtime.block_on(async {
        let store = hypasis_store::RedisStore::connect(hypasis_store::RedisStoreConfig {
            target: hypasis_store::RedisTarget::new(url.clone()),
            pool_size: 1,
            chain_id: 1337,
            command_timeout: Duration::from_secs(2),
        })
        .await
        .expect("connect");
        hypasis_store::BlockStore::range(&store).await.expect("range").expect("blocks")
    });
    // The head the node reported stayed at the last block Redis took before the outage (its
    // head writes failed); the backlog's blocks are above it.
    assert!(range.highest > last, "Redis holds up to {}, nothing of the backlog above {last}", range.highest);
    assert_eq!((range.lowest, range.count), (0, range.highest + 1), "no gap: {range:?}");
}
