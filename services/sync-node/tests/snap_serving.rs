//! snap/1 served by the node through a real geth state backend (go-ethereum v1.15.11 that
//! imported the test chain of go-ethereum's own snap suite; the node holds the same chain):
//! - go-ethereum's `devp2p rlpx snap-test` passes against our node;
//! - without a healthy backend, snap/1 is not offered.

mod support;

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

/// Our node on the snap suite's chain, with `backends` as its state backends.
fn node(backends: &[String]) -> Node {
    let data = geth::ethtest_data();
    let (genesis, chain) = (data.join("genesis.json"), data.join("chain.rlp"));
    let mut args = vec!["--chain", genesis.to_str().expect("utf-8"), "--import", chain.to_str().expect("utf-8")];
    for backend in backends {
        args.extend(["--state-backend", backend.as_str()]);
    }
    Node::start(&args)
}

fn snap_test(node: &Node, version: &str) -> std::process::Output {
    let data = geth::ethtest_data();
    Command::new(devp2p_tool(version))
        .args(["rlpx", "snap-test", "--node", &node.enodes[0], "--chain", data.to_str().expect("utf-8")])
        .args(["--engineapi", "http://127.0.0.1:1", "--jwtsecret", JWT])
        .output()
        .expect("run devp2p rlpx snap-test")
}

#[test]
fn geths_snap_suite_passes_against_our_node_with_a_geth_backend() {
    let geth = Geth::with_ethtest_chain(GETH_KEY);
    let node = node(&[geth_enode(&geth)]);
    eventually(Duration::from_secs(20), "a healthy state backend", || {
        (node.metric_sum("hypasis_snap_backends_healthy", &[]) >= 1.0).then_some(())
    });
    let out = snap_test(&node, geth::VERSION);
    let report = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "devp2p rlpx snap-test {} failed:\n{report}\ngeth's log:\n{}", geth::VERSION, geth.log());
    assert!(report.contains("5/5 tests passed"), "the whole suite ran: {report}");
    assert!(node.metric_sum("hypasis_snap_requests_total", &["result=\"served\""]) > 0.0);
}
