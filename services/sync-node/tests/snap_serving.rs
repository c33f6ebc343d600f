//! snap/1 served by the node through a real geth state backend (go-ethereum v1.15.11 that
//! imported the test chain of go-ethereum's own snap suite; the node holds the same chain):
//! - go-ethereum's `devp2p rlpx snap-test` passes against our node: v1.15.11 (eth/68) and
//!   v1.16.7 (eth/69), each on its own chain;
//! - a backend that tampers with account ranges is caught: the node asks the honest one, and
//!   the client gets exactly what geth sent (the liar is a proxy in front of the same geth);
//! - without a healthy backend, snap/1 is not offered;
//! - real Bor v1.5.5 works as a backend too (a Bor validator our node follows by JSON-RPC).

mod lying_backend;
mod support;

use alloy_primitives::{B256, B512, U256};
use hypasis_chain::{ChainSpec, genesis::GenesisDoc};
use hypasis_eth_wire::eth::status::Status;
use hypasis_snap::{
    backend::{BackendError, BackendSession, BackendTarget},
    messages::{AccountRange, GetAccountRange},
};
use hypasis_test_support::{
    devp2p_tool,
    geth::{self, Geth},
};
use std::{process::Command, time::Duration};
use support::{Node, eventually};

const GETH_KEY: [u8; 32] = [0x43; 32];
/// The suites call the engine API only in tests not run here; they still want the flags.
const JWT: &str = "0x7365637265747365637265747365637265747365637265747365637265747365";

fn geth_enode(geth: &Geth) -> String {
    let key = k256::SecretKey::from_slice(&geth.node_key).expect("key");
    hypasis_p2p::identity::enode_url(&key, "127.0.0.1", geth.p2p.port())
}

/// Our node on the chain in `data`, with `backends` as its state backends.
fn node(data: &std::path::Path, backends: &[String]) -> Node {
    let (genesis, chain) = (data.join("genesis.json"), data.join("chain.rlp"));
    let mut args = vec!["--chain", genesis.to_str().expect("utf-8"), "--import", chain.to_str().expect("utf-8")];
    for backend in backends {
        args.extend(["--state-backend", backend.as_str()]);
    }
    Node::start(&args)
}

fn snap_test(node: &Node, version: &str) -> std::process::Output {
    let data = geth::ethtest_data_at(version);
    Command::new(devp2p_tool(version))
        .args(["rlpx", "snap-test", "--node", &node.enodes[0], "--chain", data.to_str().expect("utf-8")])
        .args(["--engineapi", "http://127.0.0.1:1", "--jwtsecret", JWT])
        .output()
        .expect("run devp2p rlpx snap-test")
}

/// go-ethereum `version`'s snap suite, on its own chain, against our node whose backend is a
/// geth that imported that chain.
fn suite_passes(version: &str) {
    let data = geth::ethtest_data_at(version);
    let geth = Geth::with_chain(&data, GETH_KEY);
    let node = node(&data, &[geth_enode(&geth)]);
    eventually(Duration::from_secs(20), "a healthy state backend", || {
        (node.metric_sum("hypasis_snap_backends_healthy", &[]) >= 1.0).then_some(())
    });
    let out = snap_test(&node, version);
    let report = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "devp2p rlpx snap-test {version} failed:\n{report}\ngeth's log:\n{}", geth.log());
    assert!(report.contains("5/5 tests passed"), "the whole suite ran: {report}");
    assert!(node.metric_sum("hypasis_snap_requests_total", &["result=\"served\""]) > 0.0);
}

#[test]
fn geths_snap_suite_v1_15_passes_with_a_geth_backend() {
    suite_passes(geth::VERSION);
}

/// The newest suite, which dials with eth/69 (its chain adds Prague; the backend is still geth
/// v1.15.11, which runs Prague).
#[test]
fn geths_snap_suite_v1_16_passes_over_eth69_with_a_geth_backend() {
    suite_passes("v1.16.7");
}

/// A Status on the test chain (head: genesis), for sessions we open ourselves.
fn chain_status(data: &std::path::Path) -> Status {
    let genesis = std::fs::read_to_string(data.join("genesis.json")).expect("the test chain's genesis");
    let spec = ChainSpec::from_genesis("ethtest", GenesisDoc::parse(&genesis).expect("genesis")).expect("chain spec");
    Status {
        version: 68,
        network_id: spec.network_id,
        total_difficulty: Some(U256::from(1)),
        genesis: spec.genesis_hash,
        fork_id: spec.latest_fork_id(),
        head: spec.genesis_hash,
        range: Some((0, 0)),
    }
}

/// Where an enode URL points.
fn target(enode: &str) -> BackendTarget {
    let rest = enode.strip_prefix("enode://").expect("enode URL");
    let (id, addr) = rest.split_once('@').expect("id@addr");
    BackendTarget { addr: addr.parse().expect("ip:port"), id: B512::from_slice(&hex::decode(id).expect("hex id")) }
}

async fn session(to: &BackendTarget, status: &Status) -> Result<BackendSession, BackendError> {
    BackendSession::connect(to, &hypasis_rlpx::keys::random_secret(), "hypasis-test-client", &[69, 68], status).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_account_range_is_caught_and_the_honest_backend_serves() {
    let data = geth::ethtest_data();
    let geth = tokio::task::spawn_blocking(|| Geth::with_ethtest_chain(GETH_KEY)).await.expect("geth");
    let honest = geth_enode(&geth);
    let status = chain_status(&data);
    let liar = lying_backend::start(target(&honest), status.clone()).await;
    // The liar is listed first, so it is asked first.
    let backends = [liar.enode.clone(), honest];
    let node = tokio::task::spawn_blocking(move || {
        let node = node(&data, &backends);
        eventually(Duration::from_secs(20), "both state backends healthy", || {
            (node.metric_sum("hypasis_snap_backends_healthy", &[]) >= 2.0).then_some(())
        });
        node
    })
    .await
    .expect("node");
    let client = session(&target(&node.enodes[0]), &status).await.expect("our node offers snap/1");
    let direct = session(&target(&geth_enode(&geth)), &status).await.expect("geth");
    let head = direct.head();
    let root = direct.header(head.hash).await.expect("GetBlockHeaders").expect("geth's head").header().state_root;
    for origin in [B256::ZERO, B256::repeat_byte(0x40), B256::repeat_byte(0x80)] {
        let request = GetAccountRange { request_id: client.next_request_id(), root, origin, limit: B256::repeat_byte(0xff), bytes: 4000 };
        let ours: AccountRange = client.snap(&request).await.expect("AccountRange from our node");
        let theirs: AccountRange =
            direct.snap(&GetAccountRange { request_id: direct.next_request_id(), ..request }).await.expect("AccountRange from geth");
        assert!(!ours.accounts.is_empty(), "served from {origin}");
        assert_eq!((&ours.accounts, &ours.proof), (&theirs.accounts, &theirs.proof), "exactly geth's answer from {origin}");
    }
    assert!(liar.lies.load(std::sync::atomic::Ordering::Relaxed) >= 1, "the liar was asked and lied");
    // The same request again comes from the cache, under its new request id.
    let asked_backends = node.metric_sum("hypasis_snap_backend_requests_total", &[]);
    let request =
        GetAccountRange { request_id: client.next_request_id(), root, origin: B256::ZERO, limit: B256::repeat_byte(0xff), bytes: 4000 };
    let again: AccountRange = client.snap(&request).await.expect("AccountRange again");
    assert_eq!(again.request_id, request.request_id);
    assert!(!again.accounts.is_empty());
    assert_eq!(node.metric_sum("hypasis_snap_backend_requests_total", &[]), asked_backends, "no backend asked");
    assert!(node.metric_sum("hypasis_snap_cache_total", &["tier=\"memory\"", "result=\"hit\""]) >= 1.0);
    let caught = node.metric_sum("hypasis_snap_backend_requests_total", &["result=\"bad_answer\""]);
    assert!(caught >= 1.0, "the lie was detected: {caught}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snap_is_not_offered_without_a_healthy_backend() {
    let data = geth::ethtest_data();
    let dead = format!("enode://{}@127.0.0.1:{}", "ab".repeat(64), hypasis_test_support::free_port());
    let status = chain_status(&data);
    let node = tokio::task::spawn_blocking(move || node(&data, &[dead])).await.expect("node");
    match session(&target(&node.enodes[0]), &status).await {
        Err(BackendError::NoSnap(client)) => assert!(client.starts_with("hypasis-sync"), "{client}"),
        other => panic!("snap/1 offered with no backend up: {:?}", other.map(|s| s.client_id)),
    }
}

/// Real Bor v1.5.5 as the state backend: a Bor validator without Heimdall on Bor's own test
/// genesis (`--dev` Bor does not listen for peers), which our node follows by JSON-RPC.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bor_backend_serves_snap_through_our_node() {
    use hypasis_snap::messages::{GetTrieNodes, TrieNodes};
    use hypasis_test_support::bor::{Bor, TEST_VALIDATOR_KEY, consensus_genesis};
    let (bor, genesis_dir, bor_enode) = tokio::task::spawn_blocking(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("genesis.json"), consensus_genesis().to_string()).expect("genesis.json");
        let bor = Bor::validator(&dir.path().join("genesis.json"), &TEST_VALIDATOR_KEY);
        let info = bor.rpc("admin_nodeInfo", serde_json::json!([]));
        let id = info["enode"].as_str().expect("enode").trim_start_matches("enode://").split('@').next().expect("id").to_owned();
        let enode = format!("enode://{id}@127.0.0.1:{}", bor.p2p_port);
        (bor, dir, enode)
    })
    .await
    .expect("Bor");
    let upstream = format!("http://{}", bor.http);
    let backend = bor_enode.clone();
    let genesis = genesis_dir.path().join("genesis.json");
    let node = tokio::task::spawn_blocking(move || {
        let node = Node::start(&[
            "--chain",
            genesis.to_str().expect("utf-8"),
            "--upstream",
            &upstream,
            "--upstream-rps",
            "100000",
            "--state-backend",
            &backend,
        ]);
        eventually(Duration::from_secs(90), "a healthy Bor backend and a head", || {
            let head = node.get_json("/api/v1/status")["head"]["number"].as_u64()?;
            (head >= 2 && node.metric_sum("hypasis_snap_backends_healthy", &[]) >= 1.0).then_some(())
        });
        node
    })
    .await
    .expect("node");
    let status = chain_status(genesis_dir.path());
    let client = session(&target(&node.enodes[0]), &status).await.expect("our node offers snap/1 with Bor behind it");
    let direct = session(&target(&bor_enode), &status).await.expect("Bor serves snap/1");
    assert!(direct.client_id.to_ascii_lowercase().starts_with("bor"), "{}", direct.client_id);
    // A root our node holds (its head) that Bor still has.
    let head = node.get_json("/api/v1/status")["head"]["number"].as_u64().expect("head");
    let block = bor.rpc("eth_getBlockByNumber", serde_json::json!([format!("{head:#x}"), false]));
    let root: B256 = block["stateRoot"].as_str().expect("stateRoot").parse().expect("root");
    let request =
        GetAccountRange { request_id: client.next_request_id(), root, origin: B256::ZERO, limit: B256::repeat_byte(0xff), bytes: 1 << 20 };
    let ours: AccountRange = client.snap(&request).await.expect("AccountRange from our node");
    let theirs: AccountRange = direct.snap(&GetAccountRange { request_id: direct.next_request_id(), ..request }).await.expect("from Bor");
    assert!(!ours.accounts.is_empty(), "Bor's genesis allocation (validator contracts and accounts)");
    assert_eq!((&ours.accounts, &ours.proof), (&theirs.accounts, &theirs.proof), "exactly Bor's answer");
    let nodes: TrieNodes = client
        .snap(&GetTrieNodes { request_id: client.next_request_id(), root, paths: vec![vec![vec![0u8].into()]], bytes: 1 << 20 })
        .await
        .expect("TrieNodes");
    assert_eq!(nodes.nodes.len(), 1);
    assert_eq!(alloy_primitives::keccak256(&nodes.nodes[0]), root, "the root node, proven");
}
