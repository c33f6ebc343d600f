//! Interoperability with an independent devp2p implementation: `@ethereumjs/devp2p` drives the
//! node through RLPx, Hello, eth/68 Status, headers genesis→head, bodies, receipts, unknown
//! hashes, p2p ping and a discv4 ping (`interop/ethereumjs/peer.mjs`). `scripts/test` installs the
//! npm packages (`npm ci` in `interop/ethereumjs`).

mod support;

use std::{path::PathBuf, process::Command, time::Duration};
use support::{Node, eventually};

fn driver_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../interop/ethereumjs")
}

fn run_driver(node: &Node, extra: &[&str]) -> serde_json::Value {
    let dir = driver_dir();
    assert!(
        dir.join("node_modules/@ethereumjs/devp2p").is_dir(),
        "npm packages missing: run scripts/test (it runs `npm ci` in {})",
        dir.display()
    );
    let api = format!("http://{}", node.api);
    let out = Command::new("node")
        .current_dir(&dir)
        .args(["peer.mjs", "--enode", &node.enodes[0], "--api", &api])
        .args(extra)
        .output()
        .expect("run node (Node.js) — is it installed?");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "ethereumjs driver failed ({}):\n{stdout}\n{stderr}", out.status);
    serde_json::from_str(stdout.lines().last().unwrap_or_default()).unwrap_or_else(|e| panic!("driver output is not JSON ({e}): {stdout}"))
}

#[test]
fn ethereumjs_syncs_from_the_node_over_eth68_and_pings_it_over_discv4() {
    let node = Node::start(&["--devnet-prefill", "200", "--devnet-block-time", "3600"]);
    eventually(Duration::from_secs(30), "prefill", || node.get_json("/api/v1/status")["head"]["number"].as_u64().filter(|n| *n == 200));
    let report = run_driver(&node, &["--eth", "68", "--discv4"]);
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["failed"], serde_json::json!([]), "{report}");
    let report = run_driver(&node, &["--eth", "68", "--status-as", "head", "--no-receipts"]);
    assert_eq!(report["ok"], true, "{report}");
}
