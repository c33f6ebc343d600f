//! An operator's quota holds cluster-wide: three instances on one real redis-server, the
//! operator's JSON-RPC calls spread over all three as fast as they answer, and the calls let
//! through stay within 1.1× of its quota (rate × time + burst), not three times it.

mod support;

use hypasis_test_support::redis::RedisServer;
use std::time::{Duration, Instant};
use support::{Node, eventually};

const RATE: u64 = 30;
const BURST: u64 = 30;

fn share_members(node: &Node) -> Option<f64> {
    let metrics = node.get("/metrics").1;
    metrics.lines().find(|l| l.starts_with("hypasis_limits_share_members "))?.rsplit(' ').next()?.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_spread_over_three_instances_gets_its_quota_once() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("operators.yaml");
    let hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b"key-a"));
    std::fs::write(
        &file,
        format!("operators:\n  - {{name: a, limits: {{requests_per_second: {RATE}, burst: {BURST}}}, api_key_sha256: [{hash}]}}\n"),
    )
    .expect("write");
    let (url, path) = (redis.url(), file.to_str().expect("utf-8").to_owned());
    let nodes = tokio::task::spawn_blocking(move || {
        let start =
            |id: &str| Node::start(&["--redis-url", &url, "--instance-id", id, "--devnet-block-time", "3600", "--operators-file", &path]);
        let nodes = vec![start("n1"), start("n2"), start("n3")];
        for node in &nodes {
            eventually(Duration::from_secs(30), "three members sharing the quota", || share_members(node).filter(|m| *m == 3.0));
        }
        nodes
    })
    .await
    .expect("start");

    let client = reqwest::Client::new();
    let body = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []});
    let started = Instant::now();
    let run = Duration::from_secs(4);
    let workers = nodes.iter().map(|node| {
        let (client, url, body) = (client.clone(), format!("http://{}/", node.rpc), body.clone());
        async move {
            let (mut allowed, mut limited) = (0u64, 0u64);
            while started.elapsed() < run {
                let response = client.post(&url).header("x-api-key", "key-a").json(&body).send().await.expect("send");
                match response.status().as_u16() {
                    200 => allowed += 1,
                    429 => limited += 1,
                    other => panic!("unexpected status {other}"),
                }
            }
            (allowed, limited)
        }
    });
    let counts = futures::future::join_all(workers).await;
    let elapsed = started.elapsed().as_secs_f64();
    let allowed: u64 = counts.iter().map(|c| c.0).sum();
    let limited: u64 = counts.iter().map(|c| c.1).sum();
    let quota = RATE as f64 * elapsed + BURST as f64;
    eprintln!("{allowed} allowed, {limited} limited in {elapsed:.2} s; quota {quota:.0}; per instance {counts:?}");
    assert!(limited > allowed, "the operator asked for far more than its quota: {counts:?}");
    assert!((allowed as f64) <= 1.1 * quota, "{allowed} calls let through, more than 1.1 × the quota {quota:.0}");
    assert!((allowed as f64) >= 0.6 * quota, "{allowed} calls let through: the operator should get most of its quota {quota:.0}");
    assert!(counts.iter().all(|c| c.0 > 0), "every instance served its share: {counts:?}");
    tokio::task::spawn_blocking(move || drop((nodes, redis))).await.expect("stop");
}

/// `GET /api/v1/operators/NAME` on `node` → the requests per second in force there, if listed.
fn rate_on(node: &Node, token: &str, name: &str) -> Option<u64> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(node.api).ok()?;
    write!(stream, "GET /api/v1/operators/{name} HTTP/1.0\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let body: serde_json::Value = serde_json::from_str(response.split_once("\r\n\r\n")?.1).ok()?;
    body["limits"]["requests_per_second"].as_u64()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_limit_changed_on_one_instance_applies_on_all_three_within_five_seconds() {
    const SECRET: &str = "cluster-admin-secret-0123456789abcdef";
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("operators.yaml");
    std::fs::write(&file, "operators:\n  - {name: a, limits: {requests_per_second: 30}}\n").expect("write");
    let (url, path) = (redis.url(), file.to_str().expect("utf-8").to_owned());
    let token = support::admin_token(SECRET);
    let nodes = tokio::task::spawn_blocking(move || {
        let start = |id: &str| {
            Node::start(&[
                "--redis-url",
                &url,
                "--instance-id",
                id,
                "--devnet-block-time",
                "3600",
                "--operators-file",
                &path,
                "--jwt-secret",
                SECRET,
            ])
        };
        vec![start("n1"), start("n2"), start("n3")]
    })
    .await
    .expect("start");
    for node in &nodes {
        assert_eq!(rate_on(node, &token, "a"), Some(30), "the file seeded the shared registry");
    }

    // The admin API on n1.
    let client = reqwest::Client::new();
    let changed = serde_json::json!({"limits": {"requests_per_second": 3, "burst": 3}, "api_keys": ["key-c"]});
    let started = Instant::now();
    let (status, body) = support::admin_call(
        &client,
        reqwest::Method::PUT,
        &format!("http://{}/api/v1/operators/c", nodes[0].api),
        Some(&token),
        Some(changed),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (nodes, token) = tokio::task::spawn_blocking(move || {
        for node in &nodes {
            eventually(Duration::from_secs(5), "the new operator on every instance", || rate_on(node, &token, "c").filter(|r| *r == 3));
        }
        (nodes, token)
    })
    .await
    .expect("poll");
    eprintln!("admin API change seen on all three after {:?}", started.elapsed());
    // And it limits there: c's share on n3 is one call per second.
    let rpc = format!("http://{}/", nodes[2].rpc);
    let call = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []});
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(client.post(&rpc).header("x-api-key", "key-c").json(&call).send().await.expect("send").status().as_u16());
    }
    assert!(statuses.contains(&429), "c is limited on n3: {statuses:?}");

    // SIGHUP with the file unchanged (a TLS renewal, say) does not undo the admin edit.
    std::process::Command::new("kill").args(["-HUP", &nodes[2].child.id().to_string()]).status().expect("kill -HUP");
    let (nodes, token) = tokio::task::spawn_blocking(move || {
        std::thread::sleep(Duration::from_millis(500));
        for node in &nodes {
            assert_eq!(rate_on(node, &token, "c"), Some(3), "an unchanged file is not pushed again");
        }
        (nodes, token)
    })
    .await
    .expect("poll");

    // The file edited and SIGHUP sent to n2 only.
    std::fs::write(&file, "operators:\n  - {name: a, limits: {requests_per_second: 7}}\n").expect("write");
    let started = Instant::now();
    std::process::Command::new("kill").args(["-HUP", &nodes[1].child.id().to_string()]).status().expect("kill -HUP");
    let nodes = tokio::task::spawn_blocking(move || {
        for node in &nodes {
            eventually(Duration::from_secs(5), "the file's change on every instance", || rate_on(node, &token, "a").filter(|r| *r == 7));
            assert_eq!(rate_on(node, &token, "c"), None, "the file replaced the registry");
        }
        nodes
    })
    .await
    .expect("poll");
    eprintln!("file + SIGHUP change seen on all three after {:?}", started.elapsed());
    tokio::task::spawn_blocking(move || drop((nodes, redis))).await.expect("stop");
}
