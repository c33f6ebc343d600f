//! What a Bor node checks before and while it syncs from us, driven by our Bor-like initiator
//! (`hypasis-loadtest`): the exact total difficulty in Status and in NewBlock, the choice of the
//! highest-TD peer, the milestone header, a 10,000-block download while other peers download
//! too, and milestones from a Heimdall-shaped REST server (served headers; a conflicting
//! milestone holds the head back).

mod support;

use hypasis_chain::Block;
use hypasis_devnet::{Devnet, DevnetConfig};
use hypasis_eth_wire::eth::{id, messages};
use hypasis_fake_upstream::{DevnetRpc, DevnetRpcConfig};
use hypasis_loadtest::{BorPeer, PeerError, Target, bor_peer::status_for};
use std::time::Duration;
use support::{Node, eventually};

fn devnet_chain(config: DevnetConfig, blocks: usize) -> Vec<Block> {
    let mut devnet = Devnet::new(config);
    let mut chain = vec![devnet.tip().clone()];
    chain.extend(devnet.next_blocks(blocks));
    chain
}

fn target(node: &Node) -> (Target, serde_json::Value) {
    let status = node.get_json("/api/v1/status");
    (Target::from_enode(status["enode"].as_str().expect("enode")).expect("enode"), status)
}

fn head(node: &Node) -> u64 {
    node.get_json("/api/v1/status")["head"]["number"].as_u64().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bor_like_peer_picks_the_highest_td_checks_the_milestone_and_syncs_10000_blocks_while_others_download() {
    const BLOCKS: u64 = 10_000;
    // The nodes' chain: the default devnet with the block time they were given.
    let chain = tokio::task::spawn_blocking(|| devnet_chain(DevnetConfig { block_time: 3600, ..DevnetConfig::default() }, BLOCKS as usize));
    let (a, b) = tokio::task::spawn_blocking(|| {
        let a = Node::start(&["--devnet-prefill", "10000", "--devnet-block-time", "3600"]);
        let b = Node::start(&["--devnet-prefill", "3000", "--devnet-block-time", "3600"]);
        eventually(Duration::from_secs(120), "prefills", || (head(&a) == BLOCKS && head(&b) == 3_000).then_some(()));
        (a, b)
    })
    .await
    .expect("nodes");
    let chain = chain.await.expect("local chain");
    let ((ta, status), (tb, _)) = (target(&a), target(&b));
    let ours = status_for(&status, 69).expect("status");

    // Several other peers download from node a meanwhile.
    let mut others = tokio::task::JoinSet::new();
    for i in 0..4u64 {
        let ours = ours.clone();
        let parent = chain[(i * 2_000) as usize].header.clone();
        others.spawn(async move {
            let mut peer = BorPeer::connect(ta, &ours).await?;
            peer.sync(&parent, i * 2_000 + 2_000).await
        });
    }

    // Highest TD: both peers' Status carry the exact TD of their head; a is chosen.
    let peers = vec![BorPeer::connect(tb, &ours).await.expect("b"), BorPeer::connect(ta, &ours).await.expect("a")];
    assert_eq!(peers[0].total_difficulty(), chain[3_000].total_difficulty);
    assert_eq!(peers[1].total_difficulty(), chain[BLOCKS as usize].total_difficulty);
    let mut best = BorPeer::highest_td(peers).expect("a peer");
    assert_eq!(best.addr, ta.addr);

    // The whitelist check: the milestone's block is served with the milestone's hash; a wrong
    // hash is a mismatch.
    let milestone = &chain[9_984];
    best.check_milestone(9_984, milestone.hash(), 0, BLOCKS).await.expect("milestone header served");
    let wrong = best.check_milestone(9_984, chain[9_983].hash(), 0, BLOCKS).await;
    assert!(matches!(wrong, Err(PeerError::Mismatch { number: 9_984, .. })), "{wrong:?}");

    let report = best.sync(&chain[0].header, BLOCKS).await.expect("sync");
    assert_eq!(report.blocks, BLOCKS);
    assert_eq!(report.head, chain[BLOCKS as usize].hash());
    while let Some(other) = others.join_next().await {
        let other = other.expect("task").expect("another peer's download");
        assert_eq!(other.blocks, 2_000);
    }
    tokio::task::spawn_blocking(move || {
        let peers = a.get_json("/api/v1/status")["peers_peak"].as_u64().unwrap_or(0);
        assert!(peers >= 5, "node a served at least 5 peers at once: {peers}");
        drop(b);
    })
    .await
    .expect("join");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_and_new_block_carry_the_exact_total_difficulty() {
    let node = tokio::task::spawn_blocking(|| {
        let node = Node::start(&["--devnet-prefill", "20", "--devnet-block-time", "1"]);
        eventually(Duration::from_secs(30), "prefill", || (head(&node) >= 20).then_some(()));
        node
    })
    .await
    .expect("node");
    let chain = devnet_chain(DevnetConfig { block_time: 1, ..DevnetConfig::default() }, 200);
    let (target, status) = target(&node);
    for version in [68, 69] {
        let mut peer = BorPeer::connect(target, &status_for(&status, version).expect("status")).await.expect("connect");
        let head_hash = peer.status().head;
        let head = chain.iter().find(|b| b.hash() == head_hash).expect("the advertised head is a devnet block");
        assert_eq!(peer.total_difficulty(), head.total_difficulty, "eth/{version} Status TD");
        // The next head arrives as NewBlock with its exact TD (Bor moves our TD only on NewBlock).
        let announced = loop {
            let msg = peer.next_message(Duration::from_secs(10)).await.expect("an announcement");
            if msg.id == id::NEW_BLOCK {
                break messages::decode_new_block(&msg.data).expect("NewBlock");
            }
        };
        let (header, body, td) = announced;
        let block = &chain[header.number() as usize];
        assert_eq!(header.hash(), block.hash());
        assert_eq!(td, block.total_difficulty, "eth/{version} NewBlock TD");
        body.verify(&header).expect("the announced body matches its header");
    }
    drop(node);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn milestone_and_checkpoint_headers_are_served_and_a_conflicting_milestone_holds_the_head() {
    let config = DevnetConfig { block_time: 1, ..DevnetConfig::default() };
    let rpc_config =
        |wrong_milestone| DevnetRpcConfig { devnet: config.clone(), prefill: 600, wrong_milestone, ..DevnetRpcConfig::default() };
    let honest = DevnetRpc::spawn(rpc_config(false)).await.expect("honest devnet with Heimdall");
    let url = honest.url();
    // Backward sync is nearly off, so the milestone and checkpoint blocks are there only
    // because the head was not allowed past them without them.
    let node = tokio::task::spawn_blocking(move || {
        let node = Node::start(&[
            "--devnet-block-time",
            "1",
            "--upstream",
            &url,
            "--heimdall-url",
            &url,
            "--backfill-workers",
            "1",
            "--backfill-rate",
            "1",
        ]);
        eventually(Duration::from_secs(30), "the head", || (head(&node) >= 600).then_some(()));
        node
    })
    .await
    .expect("node");
    let (code, body) = support::http(honest.addr(), "GET", "/milestones/latest");
    assert_eq!(code, 200, "{body}");
    let heimdall: serde_json::Value = serde_json::from_str(&body).expect("json");
    let end: u64 = heimdall["milestone"]["end_block"].as_str().expect("end").parse().expect("number");
    let chain = devnet_chain(config.clone(), 600);
    let (target, status) = target(&node);
    let mut peer = BorPeer::connect(target, &status_for(&status, 69).expect("status")).await.expect("connect");
    peer.check_milestone(end, chain[end as usize].hash(), 0, 0).await.expect("milestone header served");
    // Checkpoint 2 ends at block 512 (checkpoints of 256 blocks).
    peer.check_milestone(512, chain[512].hash(), 0, 0).await.expect("checkpoint end header served");

    // A Heimdall whose milestone contradicts the chain: the node never advertises a head.
    let liar = DevnetRpc::spawn(rpc_config(true)).await.expect("devnet with a wrong milestone");
    let url = liar.url();
    tokio::task::spawn_blocking(move || {
        let node = Node::start(&["--devnet-block-time", "1", "--upstream", &url, "--heimdall-url", &url]);
        eventually(Duration::from_secs(30), "the conflict reported", || {
            let c = node.get_json("/api/v1/checkpoints");
            c["heimdall"]["conflict"].as_str().map(str::to_owned)
        });
        std::thread::sleep(Duration::from_secs(3));
        let status = node.get_json("/api/v1/status");
        assert!(status["head"].is_null() || status["head"]["number"] == 0, "no head advertised: {status}");
        let (_, metrics) = node.get("/metrics");
        assert!(metrics.contains("hypasis_milestone_conflicts_total 1"), "conflict counted");
    })
    .await
    .expect("join");
}

/// Mainnet-sized blocks (150 transactions, ~115 KB bodies): 128 bodies do not fit the node's
/// 2 MiB answer limit, so a Bor-like peer gets short answers and asks again for the rest, with
/// headers, bodies and receipts requested together; every body and receipt list verifies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mainnet_sized_blocks_download_in_short_answers_with_receipts() {
    const BLOCKS: u64 = 300;
    let node = tokio::task::spawn_blocking(|| {
        let node = Node::start(&["--devnet-prefill", "300", "--devnet-block-time", "3600", "--devnet-txs-per-block", "150"]);
        eventually(Duration::from_secs(120), "prefill", || (head(&node) == BLOCKS).then_some(()));
        node
    })
    .await
    .expect("node");
    let (target, status) = target(&node);
    let stats = std::sync::Arc::new(hypasis_loadtest::Stats::default());
    let mut peer = BorPeer::connect(target, &status_for(&status, 69).expect("status")).await.expect("connect").with_stats(stats.clone());
    let genesis = peer.headers(0, 1).await.expect("genesis").remove(0);
    let report = peer.sync_with(&genesis, BLOCKS, true).await.expect("sync with receipts");
    assert_eq!(report.blocks, BLOCKS);
    let summary = stats.summary(Duration::from_secs(1));
    let bodies = &summary["requests"]["GetBlockBodies"];
    assert!(bodies["ok"].as_u64().expect("bodies") > 3, "more body requests than 128-block chunks (short answers): {summary}");
    assert!(bodies["bytes"].as_u64().expect("bytes") > 300 * 90_000, "mainnet-sized bodies: {summary}");
    assert_eq!(summary["requests"]["GetReceipts"]["failed"], 0, "{summary}");
}
