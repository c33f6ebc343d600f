//! The operators admin API on one node (no Redis): an admin token is required; an operator
//! added, changed and removed over HTTP takes effect at once (its JSON-RPC calls limited, then
//! not); mistakes get 400/404/409 with a JSON error; per-operator stats count requests, refusals
//! and bytes; a devp2p operator's `max_peers` refuses its extra peer with `TooManyPeers` and its
//! `bytes_per_second` slows its answers.

mod support;

use hypasis_eth_wire::{
    DisconnectReason, WireError,
    eth::{
        id,
        messages::{BlockId, GetBlockHeaders},
    },
};
use hypasis_rlpx::{NodeId, keys};
use reqwest::Method;
use serde_json::json;
use std::time::{Duration, Instant};
use support::{Node, admin_call, admin_token};

const SECRET: &str = "operators-api-secret-0123456789abcdef";

async fn rpc(client: &reqwest::Client, url: &str, key: &str) -> u16 {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []});
    client.post(url).header("x-api-key", key).json(&body).send().await.expect("send").status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_are_managed_over_the_admin_api() {
    let node =
        tokio::task::spawn_blocking(|| Node::start(&["--jwt-secret", SECRET, "--devnet-prefill", "200", "--devnet-block-time", "3600"]))
            .await
            .expect("start");
    let token = admin_token(SECRET);
    let client = reqwest::Client::new();
    let api = format!("http://{}/api/v1/operators", node.api);
    let rpc_url = format!("http://{}/", node.rpc);

    let (status, body) = admin_call(&client, Method::GET, &api, None, None).await;
    assert_eq!(status, 401, "no token: {body}");
    let (status, body) = admin_call(&client, Method::GET, &api, Some(&token), None).await;
    assert_eq!((status, body["source"].as_str(), body["registry"]["operators"].as_array().map(Vec::len)), (200, Some("local"), Some(0)));

    // Added: 3 calls at once, then 429.
    let acme = json!({"limits": {"requests_per_second": 1, "burst": 3}, "api_keys": ["acme-key"]});
    let (status, body) = admin_call(&client, Method::PUT, &format!("{api}/acme"), Some(&token), Some(acme)).await;
    assert_eq!(status, 201, "{body}");
    let stored = body["operator"]["api_key_sha256"][0].as_str().expect("hash");
    assert_eq!(stored, hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b"acme-key")), "the key is stored hashed");
    assert!(!body.to_string().contains("acme-key"), "the clear key is not echoed: {body}");
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(rpc(&client, &rpc_url, "acme-key").await);
    }
    assert_eq!(&statuses[..3], &[200, 200, 200], "{statuses:?}");
    assert!(statuses[3..].contains(&429), "over the burst: {statuses:?}");

    // Changed: a generous budget applies at once.
    let generous = json!({"limits": {"requests_per_second": 1000}, "api_keys": ["acme-key"]});
    let (status, body) = admin_call(&client, Method::PUT, &format!("{api}/acme"), Some(&token), Some(generous)).await;
    assert_eq!(status, 200, "{body}");
    for _ in 0..20 {
        assert_eq!(rpc(&client, &rpc_url, "acme-key").await, 200);
    }
    let (status, body) = admin_call(&client, Method::GET, &format!("{api}/acme"), Some(&token), None).await;
    assert_eq!((status, body["limits"]["requests_per_second"].as_u64()), (200, Some(1000)), "{body}");
    let (status, body) = admin_call(&client, Method::GET, &format!("{api}/acme/stats"), Some(&token), None).await;
    assert_eq!(status, 200, "{body}");
    let http = &body["stats"]["http"];
    assert!(http["requests"].as_u64() >= Some(23) && http["limited"].as_u64() >= Some(1), "{body}");
    assert!(http["bytes"].as_u64() > Some(23 * 30), "answered bytes are counted: {body}");

    // Mistakes.
    let (status, body) = admin_call(&client, Method::PUT, &format!("{api}/bad"), Some(&token), Some(json!({"tier": "gold"}))).await;
    assert!(status == 400 && body["error"].as_str().expect("error").contains("unknown tier"), "{status} {body}");
    let (status, body) = admin_call(&client, Method::PUT, &format!("{api}/bad"), Some(&token), Some(json!({"limitz": {}}))).await;
    assert!(status == 400 && body["error"].as_str().expect("error").contains("limitz"), "{status} {body}");
    let (status, body) =
        admin_call(&client, Method::PUT, &format!("{api}/anonymous"), Some(&token), Some(json!({"limits": {"requests_per_second": 1}})))
            .await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = admin_call(&client, Method::POST, &format!("{api}/reload"), Some(&token), None).await;
    assert!(status == 409 && body["error"].as_str().expect("error").contains("--operators-file"), "{status} {body}");
    let (status, _) = admin_call(&client, Method::GET, &format!("{api}/nobody/stats"), Some(&token), None).await;
    assert_eq!(status, 404);

    // The whole registry replaced: no anonymous section means the file's default, not none.
    let (_, current) = admin_call(&client, Method::GET, &api, Some(&token), None).await;
    let mut whole = current["registry"].clone();
    whole.as_object_mut().expect("object").remove("anonymous");
    let (status, body) = admin_call(&client, Method::PUT, &api, Some(&token), Some(whole)).await;
    assert_eq!(status, 200, "{body}");
    let (_, after) = admin_call(&client, Method::GET, &api, Some(&token), None).await;
    assert_eq!(after["registry"]["anonymous"]["requests_per_second"], 20, "{after}");
    assert_eq!(after["registry"]["operators"][0]["name"], "acme", "{after}");

    // Removed: its key is anonymous again.
    let (status, body) = admin_call(&client, Method::DELETE, &format!("{api}/acme"), Some(&token), None).await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = admin_call(&client, Method::DELETE, &format!("{api}/acme"), Some(&token), None).await;
    assert_eq!(status, 404);

    // devp2p: operator p may have one peer and 64 KiB/s of answers.
    let (first, second) = (keys::random_secret(), keys::random_secret());
    let ids: Vec<String> = [&first, &second].iter().map(|k| hex::encode(keys::node_id(&k.public_key()).0)).collect();
    let p = json!({"limits": {"requests_per_second": 1000, "bytes_per_second": 65536, "max_peers": 1}, "node_ids": ids});
    let (status, body) = admin_call(&client, Method::PUT, &format!("{api}/p"), Some(&token), Some(p)).await;
    assert_eq!(status, 201, "{body}");
    let status_json = node.get_json("/api/v1/status");
    let enode = status_json["enode"].as_str().expect("enode").to_owned();
    let server_id = NodeId::from_slice(&hex::decode(enode.trim_start_matches("enode://").split('@').next().expect("id")).expect("hex"));
    let ours = support::status_for(&status_json);
    let conn = hypasis_p2p::dial(node.p2p, &first, server_id, "bor/one", &[69]).await.expect("dial");
    let mut eth = conn.exchange_status(&ours, true, |_| Ok(())).await.expect("status");
    let refused = match hypasis_p2p::dial(node.p2p, &second, server_id, "bor/two", &[69]).await {
        Ok(conn) => conn.exchange_status(&ours, true, |_| Ok(())).await.err(),
        Err(e) => Some(e),
    };
    assert!(matches!(refused, Some(WireError::Disconnected(DisconnectReason::TooManyPeers))), "the second peer: {refused:?}");
    // Headers back to back: the answers come at the bytes budget's pace, not at once.
    let started = Instant::now();
    let mut bytes = 0;
    for request_id in 0..8u64 {
        let req = GetBlockHeaders { request_id, start: BlockId::Number(0), limit: 64, skip: 0, reverse: false };
        eth.send(id::GET_BLOCK_HEADERS, &req.encode()).await.expect("send");
        bytes += eth.recv().await.expect("answer").data.len();
    }
    let took = started.elapsed().as_secs_f64();
    let rate = bytes as f64 / took;
    eprintln!("{bytes} bytes in {took:.2} s = {rate:.0} B/s for a budget of 65536 B/s");
    // A second's worth (the burst) at once, the rest at the budget's rate.
    let sustained = (bytes as f64 - 65536.0) / took;
    assert!(sustained <= 1.1 * 65536.0, "answers are held to the bytes budget: {sustained:.0} B/s after the burst");
    let (_, body) = admin_call(&client, Method::GET, &format!("{api}/p/stats"), Some(&token), None).await;
    assert_eq!(body["stats"]["peers"], 1, "{body}");
    assert!(body["stats"]["p2p"]["bytes"].as_u64() >= Some(bytes as u64 - 8 * 16), "{body}");
    drop(eth);
    // The place comes back when the session ends.
    support::eventually_async(Duration::from_secs(5), "p's peer place freed", || async {
        let (_, body) = admin_call(&client, Method::GET, &format!("{api}/p/stats"), Some(&token), None).await;
        (body["stats"]["peers"] == 0).then_some(())
    })
    .await;
    tokio::task::spawn_blocking(move || drop(node)).await.expect("stop");
}
