//! Admin endpoints over HTTP: a token minted by `hypasis-sync token` opens them; no token,
//! an expired, forged or wrong-role token, or a node without `--jwt-secret` is refused with
//! 401/403 and a JSON error, never a 500.

mod support;

use std::process::Command;
use support::Node;

const SECRET: &str = "test-secret-0123456789abcdef-0123456789";

fn mint(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_hypasis-sync")).arg("token").args(args).env("JWT_SECRET", SECRET).output().expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8").trim().to_owned()
}

/// `POST path` with an optional bearer token → (status, body).
fn post(node: &Node, path: &str, token: Option<&str>) -> (u16, serde_json::Value) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(node.api).expect("connect");
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    write!(stream, "POST {path} HTTP/1.0\r\nHost: x\r\n{auth}Content-Length: 0\r\n\r\n").expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let (head, body) = response.split_once("\r\n\r\n").expect("http");
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).expect("status");
    (status, serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}")))
}

#[test]
fn admin_endpoints_need_a_valid_admin_token() {
    // An upstream that answers nothing useful: enough for the sync endpoints to exist.
    let node = Node::start(&["--jwt-secret", SECRET, "--upstream", "http://127.0.0.1:9/", "--rpc-read-through-max-blocks", "0"]);
    let token = mint(&["--ttl", "10m", "--subject", "ci"]);
    for path in ["/api/v1/sync/pause", "/api/v1/sync/resume"] {
        let (status, body) = post(&node, path, None);
        assert_eq!(status, 401, "{path} without a token: {body}");
        assert!(body["error"].as_str().expect("error").contains("Authorization: Bearer"), "{body}");
        let (status, body) = post(&node, path, Some(&token));
        assert_eq!(status, 200, "{path} with a token: {body}");
    }
    assert_eq!(node.get_json("/api/v1/upstreams")["backfill_paused"], false, "resumed");

    let forged = {
        let other = Command::new(env!("CARGO_BIN_EXE_hypasis-sync"))
            .args(["token", "--jwt-secret", "another-secret-another-secret-another"])
            .output()
            .expect("run");
        String::from_utf8(other.stdout).expect("utf-8").trim().to_owned()
    };
    let (status, body) = post(&node, "/api/v1/sync/pause", Some(&forged));
    assert_eq!(status, 401, "forged: {body}");
    let (status, _) = post(&node, "/api/v1/sync/pause", Some("not-a-jwt"));
    assert_eq!(status, 401, "malformed");
    // Expired: a token whose lifetime has passed (1 s, then wait).
    let short = mint(&["--ttl", "1s"]);
    std::thread::sleep(std::time::Duration::from_millis(2_100));
    let (status, body) = post(&node, "/api/v1/sync/pause", Some(&short));
    assert_eq!(status, 401, "expired: {body}");
    assert!(body["error"].as_str().expect("error").contains("expired"), "{body}");
    // Wrong role: signed with the right key, role "reader".
    let reader = hypasis_sync::admin::TokenKey::new(SECRET).mint("x", "reader", std::time::Duration::from_secs(600)).expect("mint");
    let (status, body) = post(&node, "/api/v1/sync/pause", Some(&reader));
    assert_eq!(status, 403, "wrong role: {body}");
    let metrics = node.get("/metrics").1;
    for result in ["ok", "missing", "invalid", "expired", "wrong_role"] {
        assert!(metrics.contains(&format!("hypasis_api_admin_auth_total{{result=\"{result}\"}}")), "{result} counted");
    }
    assert!(!metrics.contains(SECRET) && !metrics.contains(&token), "no secret in metrics");
}

#[test]
fn without_a_secret_the_admin_api_is_off() {
    let node = Node::start(&["--upstream", "http://127.0.0.1:9/", "--rpc-read-through-max-blocks", "0"]);
    let (status, body) = post(&node, "/api/v1/sync/pause", Some(&mint(&[])));
    assert_eq!(status, 403, "{body}");
    assert!(body["error"].as_str().expect("error").contains("--jwt-secret"), "{body}");
}

#[test]
fn the_token_command_refuses_bad_input() {
    let run = |args: &[&str], env: Option<&str>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_hypasis-sync"));
        command.arg("token").args(args).env_remove("JWT_SECRET");
        if let Some(secret) = env {
            command.env("JWT_SECRET", secret);
        }
        let out = command.output().expect("run");
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (code, stderr) = run(&[], None);
    assert_eq!(code, Some(64), "{stderr}");
    assert!(stderr.contains("JWT_SECRET"));
    let (code, stderr) = run(&["--ttl", "1y"], Some(SECRET));
    assert_eq!(code, Some(64), "{stderr}");
    assert!(stderr.contains("--ttl") && !stderr.contains(SECRET), "{stderr}");
}
