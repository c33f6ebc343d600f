//! No secret reaches a log line, a metric or an API answer: a node on a password-protected
//! Redis with an admin JWT secret, an operator added with a clear API key that is then used, a
//! bad token tried, debug logging on; then a start with a wrong Redis password. Every byte the
//! node wrote is searched for each secret.

mod support;

use hypasis_test_support::redis::RedisServer;
use reqwest::Method;
use serde_json::json;
use std::time::Duration;
use support::{Node, admin_call, admin_token, run_to_exit};

const JWT_SECRET: &str = "jwt-secret-never-logged-0123456789abcdef";
const REDIS_PASSWORD: &str = "redis-password-never-logged-5f3a";
const API_KEY: &str = "operator-api-key-never-logged-9c1e";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_never_reach_logs_metrics_or_answers() {
    let redis = RedisServer::start_with(vec!["--requirepass".into(), REDIS_PASSWORD.into()]);
    let logs = tempfile::tempdir().expect("tempdir");
    let log = logs.path().join("node.log");
    let redis_url = format!("redis://:{REDIS_PASSWORD}@127.0.0.1:{}", redis.port());
    let (log_arg, url) = (log.display().to_string(), redis_url.clone());
    // Debug logging, every line kept: the wrapper sends stderr to the file.
    let node = tokio::task::spawn_blocking(move || {
        let script = format!("RUST_LOG=debug exec \"$0\" \"$@\" 2>>'{log_arg}'");
        Node::start_wrapped(
            &["sh", "-c", &script],
            &["--redis-url", &url, "--jwt-secret", JWT_SECRET, "--devnet-prefill", "20", "--devnet-block-time", "3600"],
        )
    })
    .await
    .expect("start");
    let token = admin_token(JWT_SECRET);
    let client = reqwest::Client::new();
    let api = format!("http://{}", node.api);
    let mut answers = String::new();

    let acme = json!({"limits": {"requests_per_second": 100}, "api_keys": [API_KEY]});
    let (status, body) = admin_call(&client, Method::PUT, &format!("{api}/api/v1/operators/acme"), Some(&token), Some(acme)).await;
    assert_eq!(status, 201, "{body}");
    answers.push_str(&body.to_string());
    let call = json!({"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []});
    for key in [API_KEY, "not-a-key"] {
        let response = client.post(format!("http://{}/", node.rpc)).header("x-api-key", key).json(&call).send().await.expect("rpc");
        answers.push_str(&response.text().await.expect("body"));
    }
    let forged = format!("{token}x");
    let (status, body) = admin_call(&client, Method::GET, &format!("{api}/api/v1/operators"), Some(&forged), None).await;
    assert_eq!(status, 401, "{body}");
    answers.push_str(&body.to_string());
    for path in ["/api/v1/status", "/api/v1/cluster", "/api/v1/operators", "/metrics", "/health/ready"] {
        let response = client.get(format!("{api}{path}")).bearer_auth(&token).send().await.expect("get");
        answers.push_str(&response.text().await.expect("body"));
    }
    let node = tokio::task::spawn_blocking(move || {
        let exit = node.terminate(Duration::from_secs(30));
        assert!(exit.success(), "{exit}");
    })
    .await;
    node.expect("stop");

    // A start that fails on a wrong password says why without the password it used.
    let wrong = format!("redis://:wrong-{REDIS_PASSWORD}@127.0.0.1:{}", redis.port());
    let (code, stderr) = tokio::task::spawn_blocking(move || {
        run_to_exit(&["--redis-url", &wrong, "--redis-start-timeout", "1", "--api-port", "0", "--rpc-port", "0", "--p2p-port", "0"])
    })
    .await
    .expect("run");
    assert_ne!(code, 0, "a wrong Redis password fails the start: {stderr}");

    let written = std::fs::read_to_string(&log).expect("log file");
    assert!(written.lines().count() > 20, "debug logging was on ({} lines)", written.lines().count());
    for (what, text) in [("the node's log", &written), ("the API answers", &answers), ("the failed start's message", &stderr)] {
        for secret in [JWT_SECRET, REDIS_PASSWORD, API_KEY, token.as_str()] {
            assert!(!text.contains(secret), "{what} contains a secret ({}…)", &secret[..12]);
        }
    }
}
