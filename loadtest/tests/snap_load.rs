//! `hypasis-snap-load` refuses a bad command line or chain with exit 64 and a reason, and an
//! unreachable node with exit 1 and the error in its JSON summary (the scenario itself, against
//! three instances and a real geth, is `loadtest/run snap-state`).

use std::process::Command;

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_hypasis-snap-load")).args(args).output().expect("run hypasis-snap-load");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn a_missing_genesis_is_refused_with_its_path() {
    let (code, _, err) = run(&["--enode", "enode://00@127.0.0.1:1", "--genesis", "/nonexistent/genesis.json"]);
    assert_eq!(code, 64, "{err}");
    assert!(err.contains("/nonexistent/genesis.json"), "{err}");
}

#[test]
fn an_unreachable_node_is_reported_in_the_summary() {
    let dir = tempfile::tempdir().expect("tempdir");
    let genesis = dir.path().join("genesis.json");
    let doc = r#"{"config":{"chainId":1337,"homesteadBlock":0,"eip150Block":0,"eip155Block":0,"eip158Block":0,"byzantiumBlock":0,"constantinopleBlock":0,"petersburgBlock":0,"istanbulBlock":0,"berlinBlock":0,"londonBlock":0},"difficulty":"0x1","gasLimit":"0x1c9c380","alloc":{}}"#;
    std::fs::write(&genesis, doc).expect("genesis");
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("port").port();
    let enode = format!("enode://{}@127.0.0.1:{port}", "ab".repeat(64));
    let (code, out, err) = run(&["--enode", &enode, "--genesis", genesis.to_str().expect("utf-8"), "--clients", "2", "--seconds", "5"]);
    assert_eq!(code, 1, "{out}{err}");
    let summary: serde_json::Value = serde_json::from_str(out.trim()).expect("a JSON summary");
    assert_eq!(summary["errors"].as_array().map(Vec::len), Some(2), "{summary}");
    assert_eq!(summary["pages"], 0);
}
