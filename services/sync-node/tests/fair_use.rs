//! Fair use over real sockets: an operator at its limit passes; one flooding JSON-RPC at 10×
//! its limit gets 429s (Retry-After, JSON-RPC error) while a second operator's calls, made at
//! the same time, all succeed; a devp2p peer over its budget has its answers delayed, then is
//! disconnected (UselessPeer) when it keeps flooding, while another peer downloads unhindered;
//! a limit changed in the file applies on SIGHUP, without a restart.

mod support;

use hypasis_eth_wire::{
    DisconnectReason, WireError,
    eth::{
        id,
        messages::{BlockId, GetBlockHeaders},
    },
};
use hypasis_rlpx::{NodeId, keys};
use std::time::{Duration, Instant};
use support::Node;

/// SHA-256 of "key-a" and "key-b".
fn operators_file(a_rps: u32, peer: &NodeId) -> String {
    let sha = |s: &str| hex::encode(<sha2::Sha256 as sha2::Digest>::digest(s.as_bytes()));
    format!(
        "anonymous: {{requests_per_second: 1000, burst: 1000}}\noperators:\n  - {{name: a, limits: {{requests_per_second: {a_rps}, burst: {a_rps}}}, api_key_sha256: [{}]}}\n  - {{name: b, limits: {{requests_per_second: 10, burst: 10}}, api_key_sha256: [{}]}}\n  - {{name: p, limits: {{requests_per_second: 2, burst: 2}}, node_ids: [{}]}}\n",
        sha("key-a"),
        sha("key-b"),
        hex::encode(peer)
    )
}

async fn call(client: &reqwest::Client, url: &str, key: &str) -> (u16, Option<String>, serde_json::Value) {
    let body = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []});
    let response = client.post(url).header("x-api-key", key).json(&body).send().await.expect("send");
    let status = response.status().as_u16();
    let retry = response.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_owned);
    (status, retry, response.json().await.expect("json"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_get_their_budget_and_no_more() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("operators.yaml");
    let peer_key = keys::random_secret();
    let peer_id = keys::node_id(&peer_key.public_key());
    std::fs::write(&file, operators_file(10, &peer_id)).expect("write");
    let path = file.to_str().expect("utf-8").to_owned();
    let node = tokio::task::spawn_blocking(move || {
        Node::start(&["--devnet-prefill", "300", "--devnet-block-time", "3600", "--operators-file", &path, "--p2p-flood-wait", "2"])
    })
    .await
    .expect("start");
    let url = format!("http://{}/", node.rpc);
    let client = reqwest::Client::new();

    // a floods at 10× (100 calls in about a second); b calls at its limit (10 in a second).
    let flood = async {
        let mut outcomes = Vec::new();
        for _ in 0..100 {
            outcomes.push(call(&client, &url, "key-a").await);
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        outcomes
    };
    let steady = async {
        let mut outcomes = Vec::new();
        for _ in 0..10 {
            let started = Instant::now();
            let outcome = call(&client, &url, "key-b").await;
            outcomes.push((outcome, started.elapsed()));
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        outcomes
    };
    let (flood, steady) = tokio::join!(flood, steady);
    let limited: Vec<_> = flood.iter().filter(|(status, ..)| *status == 429).collect();
    assert!(limited.len() >= 70, "most of a's flood is refused: {} of 100", limited.len());
    assert!(flood.iter().filter(|(status, ..)| *status == 200).count() >= 10, "a still gets its budget");
    let (_, retry, body) = limited[0];
    assert!(retry.as_deref().and_then(|r| r.parse::<u64>().ok()).is_some_and(|s| s >= 1), "Retry-After: {retry:?}");
    assert_eq!(body["error"]["code"], -32005, "{body}");
    assert!(body["error"]["message"].as_str().expect("message").contains('a'), "{body}");
    assert!(steady.iter().all(|((status, ..), _)| *status == 200), "b at its limit is never refused: {steady:?}");
    let slowest = steady.iter().map(|(_, took)| *took).max().expect("b's calls");
    eprintln!("b's slowest call while a flooded: {slowest:?}");

    // devp2p: peer p (2 requests/s) asks for headers back to back.
    let status = node.get_json("/api/v1/status");
    let enode = status["enode"].as_str().expect("enode").to_owned();
    let server_id = NodeId::from_slice(&hex::decode(enode.trim_start_matches("enode://").split('@').next().expect("id")).expect("hex"));
    let conn = hypasis_p2p::dial(node.p2p, &peer_key, server_id, "bor/test", &[69]).await.expect("dial");
    let mut eth = conn.exchange_status(&support::status_for(&status), true, |_| Ok(())).await.expect("status");
    let mut delays = Vec::new();
    let mut ended = None;
    for request_id in 0..40u64 {
        let started = Instant::now();
        let req = GetBlockHeaders { request_id, start: BlockId::Number(0), limit: 192, skip: 0, reverse: false };
        if let Err(e) = eth.send(id::GET_BLOCK_HEADERS, &req.encode()).await {
            ended = Some(e);
            break;
        }
        match eth.recv().await {
            Ok(_) => delays.push(started.elapsed()),
            Err(e) => {
                ended = Some(e);
                break;
            }
        }
    }
    assert!(delays.len() >= 2 && delays[..1].iter().all(|d| *d < Duration::from_millis(500)), "the budget is served at once: {delays:?}");
    assert!(delays.iter().any(|d| *d >= Duration::from_millis(400)), "then answers are delayed: {delays:?}");
    // Still asking while delayed for longer than --p2p-flood-wait (2 s): flooding.
    if ended.is_none() {
        for request_id in 100..130u64 {
            let req = GetBlockHeaders { request_id, start: BlockId::Number(0), limit: 192, skip: 0, reverse: false };
            if eth.send(id::GET_BLOCK_HEADERS, &req.encode()).await.is_err() {
                break;
            }
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            match tokio::time::timeout(Duration::from_secs(30), eth.recv()).await.expect("disconnected in time") {
                Ok(_) => {}
                Err(e) => {
                    ended = Some(e);
                    break;
                }
            }
        }
    }
    assert!(matches!(ended, Some(WireError::Disconnected(DisconnectReason::UselessPeer))), "flooding ends in UselessPeer: {ended:?}");

    // Meanwhile an anonymous peer downloads unhindered.
    let other = hypasis_p2p::dial(node.p2p, &keys::random_secret(), server_id, "bor/other", &[69]).await.expect("dial");
    let mut other = other.exchange_status(&support::status_for(&status), true, |_| Ok(())).await.expect("status");
    let started = Instant::now();
    for request_id in 0..20u64 {
        let req = GetBlockHeaders { request_id, start: BlockId::Number(0), limit: 192, skip: 0, reverse: false };
        other.send(id::GET_BLOCK_HEADERS, &req.encode()).await.expect("send");
        other.recv().await.expect("answered");
    }
    eprintln!("20 requests of another peer took {:?}", started.elapsed());

    // SIGHUP: a's limit raised to 1,000/s applies without a restart.
    std::fs::write(&file, operators_file(1_000, &peer_id)).expect("rewrite");
    std::process::Command::new("kill").args(["-HUP", &node.child.id().to_string()]).status().expect("kill -HUP");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut refused = 0;
    for _ in 0..100 {
        if call(&client, &url, "key-a").await.0 == 429 {
            refused += 1;
        }
    }
    assert_eq!(refused, 0, "the raised limit is in force");
    let metrics = node.get("/metrics").1;
    assert!(metrics.contains("hypasis_limits_requests_total{operator=\"a\",protocol=\"http\",result=\"limited\"}"), "counted per operator");
    assert!(metrics.contains("hypasis_limits_reloads_total 1"), "one reload");
    let node = tokio::task::spawn_blocking(move || node).await.expect("drop");
    drop(node);
}
