//! The binary in embedded mode: devnet chain, in-memory cache, REST API.

mod support;

use hypasis_chain::genesis::GenesisDoc;
use std::time::Duration;
use support::{Node, eventually};

fn head_number(node: &Node) -> Option<u64> {
    node.get_json("/api/v1/status")["head"]["number"].as_u64()
}

#[test]
fn embedded_node_serves_a_rising_devnet_head_and_its_genesis() {
    let node = Node::start(&["--devnet-block-time", "1"]);
    let first = eventually(Duration::from_secs(30), "a devnet head above 0", || head_number(&node).filter(|n| *n > 0));
    eventually(Duration::from_secs(30), "the head to keep rising", || head_number(&node).filter(|n| *n > first));

    let status = node.get_json("/api/v1/status");
    assert_eq!(status["chain"], "devnet");
    assert_eq!(status["chain_id"], 1337);
    assert_eq!(status["network_id"], 1337);
    for key in ["instance_id", "genesis_hash", "fork_id", "head", "enode", "peers", "sync"] {
        assert!(status.get(key).is_some(), "status lacks {key}: {status}");
    }
    for key in ["lowest", "highest", "percentage", "blocks_per_second", "eta_seconds"] {
        assert!(status["sync"].get(key).is_some(), "status.sync lacks {key}: {status}");
    }
    assert_eq!(status["sync"]["lowest"], 0);
    assert!(status["head"]["total_difficulty"].as_str().is_some_and(|td| td.parse::<u64>().is_ok_and(|td| td > 1)));
    assert!(status["fork_id"]["hash"].as_str().is_some_and(|h| h.len() == 10 && h.starts_with("0x")));

    let genesis = node.get_json("/api/v1/genesis");
    let doc = GenesisDoc::from_json(genesis).expect("served genesis is a geth-style genesis");
    assert_eq!(format!("{:#x}", doc.hash()), status["genesis_hash"].as_str().expect("genesis_hash"));

    let (code, metrics) = node.get("/metrics");
    assert_eq!(code, 200);
    assert!(metrics.contains("hypasis_build_info{"), "{metrics}");
    assert!(metrics.contains("hypasis_chain_head_block"), "{metrics}");
    assert_eq!(node.get("/health/ready").0, 200);
    assert_eq!(node.get("/health/live").0, 200);
    let (code, body) = node.get("/api/v1/nope");
    assert_eq!(code, 404);
    assert!(body.contains("\"error\""));

    let status = node.terminate(Duration::from_secs(15));
    assert!(status.success(), "exit status after SIGTERM: {status}");
}

#[test]
fn same_seed_same_chain_across_runs() {
    // A long block time keeps the head at the prefilled block 50 while we look.
    let a = Node::start(&["--devnet-prefill", "50", "--devnet-seed", "7", "--devnet-block-time", "3600"]);
    let b = Node::start(&["--devnet-prefill", "50", "--devnet-seed", "7", "--devnet-block-time", "3600"]);
    let c = Node::start(&["--devnet-prefill", "50", "--devnet-seed", "8", "--devnet-block-time", "3600"]);
    let at_50 = |n: &Node| {
        eventually(Duration::from_secs(30), "prefill", || head_number(n).filter(|h| *h == 50));
        let status = n.get_json("/api/v1/status");
        (status["genesis_hash"].clone(), status["head"]["hash"].clone())
    };
    assert_eq!(at_50(&a), at_50(&b));
    assert_ne!(at_50(&a), at_50(&c));
}

#[test]
fn the_open_files_limit_is_raised_to_the_hard_limit() {
    let hard = std::process::Command::new("sh").args(["-c", "ulimit -Hn"]).output().expect("sh");
    let hard = String::from_utf8_lossy(&hard.stdout).trim().to_owned();
    let hard: f64 = if hard == "unlimited" { f64::INFINITY } else { hard.parse().expect("a number") };
    // Started with a soft limit of 256, as a default shell often gives.
    let node = Node::start_wrapped(&["sh", "-c", "ulimit -Sn 256 && exec \"$0\" \"$@\""], &[]);
    let (_, metrics) = node.get("/metrics");
    let limit: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("hypasis_process_open_files_limit "))
        .and_then(|v| v.trim().parse().ok())
        .expect("the limit is exported");
    assert!(limit > 256.0, "raised from 256: {limit}");
    if hard.is_finite() {
        assert_eq!(limit, hard, "raised to the hard limit");
    }
}

#[test]
fn the_json_rpc_answers_from_the_embedded_chain_and_a_miss_is_null() {
    let node = Node::start(&["--devnet-prefill", "20", "--devnet-block-time", "3600"]);
    let call = |method: &str, params: serde_json::Value| {
        let answer = support::rpc(node.rpc, method, params).expect("JSON-RPC answers");
        assert!(answer.get("error").is_none(), "{method}: {answer}");
        answer["result"].clone()
    };
    assert_eq!(call("eth_blockNumber", serde_json::json!([])), "0x14");
    assert_eq!(call("eth_chainId", serde_json::json!([])), "0x539");
    assert!(call("web3_clientVersion", serde_json::json!([])).as_str().expect("text").starts_with("hypasis-sync/v"));
    let status = node.get_json("/api/v1/status");
    let latest = call("eth_getBlockByNumber", serde_json::json!(["latest", false]));
    assert_eq!(latest["hash"], status["head"]["hash"], "the REST API and the JSON-RPC serve one head");
    let five = call("eth_getBlockByNumber", serde_json::json!(["0x5", true]));
    assert_eq!(call("eth_getBlockByNumber", serde_json::json!(["0x6", false]))["parentHash"], five["hash"]);
    assert_eq!(
        call("eth_getBlockReceipts", serde_json::json!(["0x5"])).as_array().map(Vec::len),
        five["transactions"].as_array().map(Vec::len)
    );
    // No upstream to read through: a block beyond the head is null, as geth answers.
    assert_eq!(call("eth_getBlockByNumber", serde_json::json!(["0x15", false])), serde_json::Value::Null);
    let metrics = node.get("/metrics").1;
    assert!(metrics.contains("hypasis_rpc_requests_total{method=\"eth_getBlockByNumber\",result=\"ok\"}"), "counted");
}
