//! Sync from a devnet JSON-RPC upstream over real HTTP: forward sync keeps up with a 1 s block
//! time, backward sync fills history (shared by two instances through Redis, no batch fetched
//! twice), a lying upstream is banned while an honest one takes over (checked through the P2P
//! side), and a restart resumes from the gap tracker.

mod support;

use hypasis_chain::{BlockBody, SealedHeader};
use hypasis_devnet::{Devnet, DevnetConfig};
use hypasis_eth_wire::eth::{
    id,
    messages::{self, BlockId, GetBlockHeaders, HashRequest},
};
use hypasis_fake_upstream::{DevnetRpc, DevnetRpcConfig, Lie};
use hypasis_rlpx::{NodeId, keys};
use hypasis_test_support::redis::RedisServer;
use std::time::{Duration, Instant};
use support::{Node, eventually};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime")
}

fn devnet() -> DevnetConfig {
    DevnetConfig { block_time: 1, ..DevnetConfig::default() }
}

fn upstream(rt: &tokio::runtime::Runtime, prefill: u64, produce: bool, lie: Lie) -> DevnetRpc {
    let config = DevnetRpcConfig { devnet: devnet(), prefill, produce, lie, lie_from: 1, ..DevnetRpcConfig::default() };
    rt.block_on(DevnetRpc::spawn(config)).expect("devnet rpc")
}

fn head(node: &Node) -> u64 {
    node.get_json("/api/v1/status")["head"]["number"].as_u64().unwrap_or(0)
}

/// Waits until the node holds every block from genesis to its head, and returns the head.
fn wait_complete(node: &Node, at_least: u64, within: Duration) -> u64 {
    eventually(within, "history complete", || {
        let gaps = node.get_json("/api/v1/gaps");
        let head = gaps["head"].as_u64()?;
        (head >= at_least && gaps["missing_blocks"] == 0 && gaps["held"][0][0] == 0).then_some(head)
    })
}

#[test]
fn forward_sync_keeps_up_with_a_one_second_block_time_and_history_is_filled() {
    let rt = runtime();
    let rpc = upstream(&rt, 300, true, Lie::None);
    // The devnet server also plays Ethereum L1 (its fake RootChain publishes devnet checkpoints).
    let node = Node::start(&["--devnet-block-time", "1", "--upstream", &rpc.url(), "--eth-l1-rpc-url", &rpc.url()]);
    eventually(Duration::from_secs(30), "the node reaches the upstream tip", || {
        (head(&node) + 1 >= rpc.head() && head(&node) >= 300).then_some(())
    });
    // Keeps up: over 6 s (6 new blocks) the node is never more than two blocks behind at a sample
    // (a block can land between reading the upstream head and the node head).
    let until = Instant::now() + Duration::from_secs(6);
    let start = rpc.head();
    while Instant::now() < until {
        let (theirs, ours) = (rpc.head(), head(&node));
        assert!(ours + 2 >= theirs, "node at {ours}, upstream at {theirs}");
        std::thread::sleep(Duration::from_millis(300));
    }
    assert!(rpc.head() >= start + 4, "the upstream kept producing");
    wait_complete(&node, 300, Duration::from_secs(60));
    let status = node.get_json("/api/v1/status");
    assert!(status["sync"]["percentage"].as_f64().is_some_and(|p| p >= 99.0), "{status}");
    let upstreams = node.get_json("/api/v1/upstreams");
    assert_eq!(upstreams["upstreams"][0]["state"], "ok", "{upstreams}");
    assert_eq!(upstreams["upstreams"][0]["raw_methods"], true, "{upstreams}");
    // State-sync receipts came through eth_getBorBlockReceipt and go out over eth/69 only.
    let status = node.get_json("/api/v1/status");
    let target = hypasis_loadtest::Target::from_enode(status["enode"].as_str().expect("enode")).expect("enode");
    let reference = {
        let mut devnet = Devnet::new(devnet());
        devnet.next_blocks(17).pop().expect("block 17")
    };
    let sprint_start = {
        let mut devnet = Devnet::new(devnet());
        devnet.next_blocks(16).pop().expect("block 16")
    };
    for version in [68, 69] {
        let ours = hypasis_loadtest::bor_peer::status_for(&status, version).expect("status");
        let receipts = rt.block_on(async {
            let mut peer = hypasis_loadtest::BorPeer::connect(target, &ours).await.expect("connect");
            peer.receipts(vec![sprint_start.hash(), reference.hash()]).await.expect("receipts")
        });
        let consensus = sprint_start.receipts.as_ref().expect("receipts").len();
        assert_eq!(receipts[0].len(), consensus + usize::from(version == 69), "eth/{version}");
        if version == 69 {
            assert_eq!(receipts[0].last(), sprint_start.state_sync_receipt.as_ref());
        }
        assert_eq!(receipts[1].len(), reference.receipts.as_ref().expect("receipts").len());
    }
    // Checkpoint 1 (blocks 1..=256) is read from L1 and verified against the stored headers.
    let checkpoints = eventually(Duration::from_secs(30), "a verified checkpoint", || {
        let c = node.get_json("/api/v1/checkpoints");
        (c["verified"].as_u64()? >= 1).then_some(c)
    });
    assert_eq!(checkpoints["source"], "rootchain");
    assert_eq!(checkpoints["evictions"], 0, "{checkpoints}");
    assert!(checkpoints["verified_through"].as_u64().is_some_and(|n| n >= 256), "{checkpoints}");
}

#[test]
fn a_lying_upstream_is_banned_and_its_blocks_are_never_served() {
    // Every block from 1 on is a lie; the node starts at the liar's tip, so the forged head is
    // refused at once (a sprint-end list forged under validator keys is the next test's).
    for lie in [Lie::WrongTx, Lie::WrongParent, Lie::ReorderedReceipts, Lie::ForeignSeal, Lie::WrongDifficulty] {
        eprintln!("lie: {lie}");
        let rt = runtime();
        let (liar, honest) = (upstream(&rt, 200, false, lie), upstream(&rt, 200, false, Lie::None));
        // The liar is listed first, so it is asked first.
        let node = Node::start(&["--devnet-block-time", "1", "--upstream", &liar.url(), "--upstream", &honest.url()]);
        wait_complete(&node, 200, Duration::from_secs(60));
        let upstreams = node.get_json("/api/v1/upstreams");
        assert_eq!(upstreams["upstreams"][0]["state"], "banned", "{lie:?}: {upstreams}");
        assert_eq!(upstreams["upstreams"][1]["state"], "ok", "{lie:?}: {upstreams}");
        let (_, metrics) = node.get("/metrics");
        let rejected: f64 = metrics
            .lines()
            .filter(|l| l.starts_with("hypasis_blocks_rejected_total{source=\"upstream\""))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum();
        assert!(rejected >= 1.0, "{lie:?}: the lie is counted as rejected: {rejected:?}");

        // What a peer downloads is the honest chain, body for body.
        let served = rt.block_on(download(&node, 200));
        let mut reference = Devnet::new(devnet());
        let mut expected = vec![reference.tip().clone()];
        expected.extend(reference.next_blocks(200));
        assert_eq!(served.len(), expected.len());
        for ((header, body), block) in served.iter().zip(&expected) {
            assert_eq!(header.hash(), block.hash(), "{lie:?}: block {}", block.number());
            assert_eq!(body, &block.body, "{lie:?}: body {}", block.number());
        }
    }
}

#[test]
fn a_forged_validator_list_at_the_tip_is_refused_and_the_honest_chain_served() {
    // Both upstreams make the same devnet chain, a block a second from block 200; the liar
    // re-seals every block from 201 on with the true keys, the sprint-end lists altered.
    let rt = runtime();
    let spawn = |lie| {
        let config = DevnetRpcConfig { devnet: devnet(), prefill: 200, produce: true, lie, lie_from: 201, ..DevnetRpcConfig::default() };
        rt.block_on(DevnetRpc::spawn(config)).expect("devnet rpc")
    };
    let (liar, honest) = (spawn(Lie::AlteredValidators), spawn(Lie::None));
    let node = Node::start(&["--devnet-block-time", "1", "--upstream", &liar.url(), "--upstream", &honest.url()]);
    // Block 207 ends a sprint (sprints of 16): the first forged list.
    let head = wait_complete(&node, 212, Duration::from_secs(60));
    let upstreams = node.get_json("/api/v1/upstreams");
    assert_eq!(upstreams["upstreams"][0]["state"], "banned", "{upstreams}");
    assert!(upstreams["upstreams"][0]["ban_reason"].as_str().is_none_or(|r| r.contains("validator list")), "{upstreams}");
    let (_, metrics) = node.get("/metrics");
    assert!(
        metrics.lines().any(|l| l.starts_with("hypasis_blocks_rejected_total") && l.contains("reason=\"validator_list\"")),
        "counted by reason"
    );
    let served = rt.block_on(download(&node, head));
    let mut reference = Devnet::new(devnet());
    let mut expected = vec![reference.tip().clone()];
    expected.extend(reference.next_blocks(head as usize));
    for ((header, _), block) in served.iter().zip(&expected) {
        assert_eq!(header.hash(), block.hash(), "block {} is the honest one", block.number());
    }
    assert_eq!(served.len(), expected.len());
}

#[test]
fn two_instances_backfill_twenty_thousand_blocks_without_fetching_a_batch_twice() {
    const BLOCKS: u64 = 20_000;
    let redis = RedisServer::start();
    let rt = runtime();
    let rpc = upstream(&rt, BLOCKS, false, Lie::None);
    let start = |id: &str| {
        Node::start(&[
            "--devnet-block-time",
            "1",
            "--upstream",
            &rpc.url(),
            "--redis-url",
            &redis.url(),
            "--instance-id",
            id,
            "--backfill-rate",
            "100000",
            "--upstream-rps",
            "100000",
            // A memory tier a tenth of the window: progress must still measure the whole window.
            "--cache-max-blocks",
            "2000",
        ])
    };
    let (a, b) = (start("a"), start("b"));
    // While history is missing, sync.percentage stays below 100 (status read before gaps: the
    // missing count only falls, so blocks missing at the later read were missing at the earlier).
    let mut while_missing = Vec::new();
    eventually(Duration::from_secs(300), "history complete on a", || {
        let percentage = a.get_json("/api/v1/status")["sync"]["percentage"].as_f64().expect("percentage");
        let gaps = a.get_json("/api/v1/gaps");
        if gaps["missing_blocks"].as_u64() > Some(0) {
            while_missing.push(percentage);
        }
        (gaps["head"].as_u64() >= Some(BLOCKS) && gaps["missing_blocks"] == 0).then_some(())
    });
    assert!(!while_missing.is_empty() && while_missing.iter().all(|p| *p < 100.0), "percentage while filling: {while_missing:?}");
    wait_complete(&a, BLOCKS, Duration::from_secs(300));
    assert_eq!(a.get_json("/api/v1/status")["sync"]["percentage"], 100.0);
    wait_complete(&b, BLOCKS, Duration::from_secs(30));
    // Every block was fetched exactly once (raw block + raw receipts = 2 calls), by one of the two.
    let twice: Vec<u64> = (1..=BLOCKS).filter(|n| rpc.block_fetches(*n) != 2).take(10).collect();
    assert!(twice.is_empty(), "blocks fetched other than once: {:?}", twice.iter().map(|n| (n, rpc.block_fetches(*n))).collect::<Vec<_>>());
    assert_eq!(rpc.calls("debug_getRawBlock"), BLOCKS);
    // Both instances did part of the work.
    let filled = |node: &Node| {
        let (_, metrics) = node.get("/metrics");
        metrics
            .lines()
            .find(|l| l.starts_with("hypasis_sync_backfilled_blocks_total"))
            .and_then(|l| l.split_whitespace().last()?.parse::<f64>().ok())
            .unwrap_or(0.0) as u64
    };
    let (fa, fb) = (filled(&a), filled(&b));
    assert!(fa > 0 && fb > 0, "a filled {fa}, b filled {fb}");
    assert_eq!(fa + fb, BLOCKS - 1, "genesis is seeded and the tip comes from forward sync");

    // Either instance serves any block from the shared cache: no further upstream call.
    let calls = rpc.total_calls();
    for node in [&a, &b] {
        let served = rt.block_on(download(node, 1_000));
        assert_eq!(served.len(), 1_001);
    }
    assert_eq!(rpc.calls("debug_getRawBlock"), BLOCKS, "served from Redis, not refetched");
    assert!(rpc.total_calls() - calls < 200, "only head polls meanwhile: {}", rpc.total_calls() - calls);
}

#[test]
fn a_restart_mid_backfill_resumes_from_the_gap_tracker() {
    const BLOCKS: u64 = 3_000;
    let redis = RedisServer::start();
    let rt = runtime();
    let rpc = upstream(&rt, BLOCKS, false, Lie::None);
    let args = |rate: &str| {
        vec![
            "--devnet-block-time".to_owned(),
            "1".into(),
            "--upstream".into(),
            rpc.url(),
            "--redis-url".into(),
            redis.url(),
            "--backfill-rate".into(),
            rate.to_owned(),
            "--upstream-rps".into(),
            "100000".into(),
        ]
    };
    let slow = args("500");
    let mut first = Node::start(&slow.iter().map(String::as_str).collect::<Vec<_>>());
    eventually(Duration::from_secs(60), "some history", || (first.get_json("/api/v1/gaps")["held_blocks"].as_u64()? > 1_000).then_some(()));
    first.child.kill().expect("kill");
    let _ = first.child.wait();
    let held = first_held(&redis);
    let before: Vec<(u64, u64)> = held.iter().flat_map(|r| r.clone()).map(|n| (n, rpc.block_fetches(n))).collect();
    assert!(before.len() > 1_000);

    let fast = args("100000");
    let second = Node::start(&fast.iter().map(String::as_str).collect::<Vec<_>>());
    wait_complete(&second, BLOCKS, Duration::from_secs(120));
    let refetched: Vec<u64> = before.iter().filter(|(n, count)| rpc.block_fetches(*n) != *count).map(|(n, _)| *n).take(10).collect();
    assert!(refetched.is_empty(), "blocks held before the restart were fetched again: {refetched:?}");
}

fn first_held(redis: &RedisServer) -> Vec<std::ops::RangeInclusive<u64>> {
    let rt = runtime();
    rt.block_on(async {
        let store = hypasis_store::RedisStore::connect(hypasis_store::RedisStoreConfig {
            target: hypasis_store::RedisTarget::new(redis.url()),
            pool_size: 1,
            chain_id: devnet().chain_id,
            command_timeout: Duration::from_secs(2),
        })
        .await
        .expect("connect");
        hypasis_store::BlockStore::held(&store).await.expect("held").iter().collect()
    })
}

/// Headers and bodies of blocks `0..=to`, downloaded from the node over devp2p (eth/69).
async fn download(node: &Node, to: u64) -> Vec<(SealedHeader, BlockBody)> {
    let status = node.get_json("/api/v1/status");
    let enode = status["enode"].as_str().expect("enode").to_owned();
    let server_id = NodeId::from_slice(&hex::decode(enode.trim_start_matches("enode://").split('@').next().expect("id")).expect("hex"));
    let conn = hypasis_p2p::dial(node.p2p, &keys::random_secret(), server_id, "test", &[69]).await.expect("dial");
    let mut eth = conn.exchange_status(&support::status_for(&status), true, |_| Ok(())).await.expect("status");
    let req = GetBlockHeaders { request_id: 1, start: BlockId::Number(0), limit: to + 1, skip: 0, reverse: false };
    eth.send(id::GET_BLOCK_HEADERS, &req.encode()).await.expect("send");
    let answer = eth.recv().await.expect("headers");
    let (_, headers) =
        messages::decode_response(&answer.data, "BlockHeaders", <SealedHeader as alloy_rlp::Decodable>::decode).expect("decode");
    let req = HashRequest { request_id: 2, hashes: headers.iter().map(SealedHeader::hash).collect() };
    eth.send(id::GET_BLOCK_BODIES, &req.encode()).await.expect("send");
    let answer = eth.recv().await.expect("bodies");
    let (_, bodies) = messages::decode_response(&answer.data, "BlockBodies", <BlockBody as alloy_rlp::Decodable>::decode).expect("decode");
    headers.into_iter().zip(bodies).collect()
}

#[test]
fn alone_with_a_bounded_cache_history_is_filled_only_as_far_as_the_cache_keeps() {
    let rt = runtime();
    let rpc = upstream(&rt, 3_000, false, Lie::None);
    // 2,000 blocks of cache: backfill stops 1,024 below that (room for the tip) instead of
    // refetching blocks the cache keeps evicting.
    let node =
        Node::start(&["--devnet-block-time", "1", "--upstream", &rpc.url(), "--cache-max-blocks", "2000", "--upstream-rps", "100000"]);
    let gaps = eventually(Duration::from_secs(60), "the window filled", || {
        let gaps = node.get_json("/api/v1/gaps");
        (gaps["head"] == 3_000 && gaps["missing_blocks"] == 0).then_some(gaps)
    });
    assert_eq!(gaps["floor"], 3_000 - (2_000 - 1_024), "{gaps}");
    std::thread::sleep(Duration::from_secs(2));
    let fetched_twice = (1..=3_000).filter(|n| rpc.block_fetches(*n) > 2).count();
    assert_eq!(fetched_twice, 0, "no block refetched");
    assert_eq!(rpc.block_fetches(100), 0, "nothing below the window fetched");
}
