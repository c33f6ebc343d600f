//! `--import` of sealed history segments (era1-style `.e2s` files, as a bucket holds them): the
//! blocks are linked from the genesis, checked and served with their receipts, which a
//! `chain.rlp` file cannot carry; a segment of another chain is refused with the reason.

mod support;

use hypasis_chain::Block;
use hypasis_devnet::{Devnet, DevnetConfig};
use hypasis_history::format::write_segment;
use serde_json::json;
use support::{Node, rpc, run_to_exit};

fn devnet(seed: u64, blocks: usize) -> (Devnet, Vec<Block>) {
    let mut devnet = Devnet::new(DevnetConfig { seed, ..DevnetConfig::default() });
    let mut chain = vec![devnet.tip().clone()];
    chain.extend(devnet.next_blocks(blocks));
    (devnet, chain)
}

fn write_segments(dir: &std::path::Path, chain: &[Block], span: usize) {
    for part in chain.chunks(span) {
        std::fs::write(dir.join(format!("{:012}.e2s", part[0].number())), write_segment(part)).expect("segment");
    }
}

fn genesis_file(dir: &std::path::Path, devnet: &Devnet) -> String {
    let path = dir.join("genesis.json");
    std::fs::write(&path, devnet.spec().genesis.as_ref().expect("genesis").json().to_string()).expect("genesis.json");
    path.display().to_string()
}

#[test]
fn sealed_segments_import_with_their_receipts() {
    let (devnet, chain) = devnet(0, 1_500);
    let dir = tempfile::tempdir().expect("tempdir");
    let segments = dir.path().join("segments");
    std::fs::create_dir(&segments).expect("dir");
    write_segments(&segments, &chain, 512);
    let genesis = genesis_file(dir.path(), &devnet);
    let node = Node::start(&["--chain", &genesis, "--import", segments.to_str().expect("utf-8")]);
    let status = node.get_json("/api/v1/status");
    assert_eq!(status["head"]["number"], json!(1_500));
    assert_eq!(status["head"]["hash"], json!(chain[1_500].hash()));
    let receipts = rpc(node.rpc, "eth_getBlockReceipts", json!(["0x3e8"])).expect("answer");
    let expected = chain[1_000].receipts.as_ref().expect("devnet receipts").len();
    assert_eq!(receipts["result"].as_array().map(Vec::len), Some(expected), "{receipts}");
}

#[test]
fn segments_of_another_chain_are_refused() {
    let (devnet, _) = devnet(0, 10);
    let (_, other) = devnet_other();
    let dir = tempfile::tempdir().expect("tempdir");
    write_segments(dir.path(), &other, 64);
    let genesis = genesis_file(dir.path(), &devnet);
    let key = dir.path().join("node.key");
    let (code, stderr) = run_to_exit(&[
        "--chain",
        &genesis,
        "--import",
        dir.path().to_str().expect("utf-8"),
        "--api-port",
        "0",
        "--rpc-port",
        "0",
        "--p2p-port",
        "0",
        "--node-key-file",
        key.to_str().expect("utf-8"),
        "--history-url",
        "off",
    ]);
    assert_ne!(code, 0, "{stderr}");
    assert!(stderr.contains("--import") && stderr.contains("is not this chain's"), "{stderr}");
}

fn devnet_other() -> (Devnet, Vec<Block>) {
    devnet(7, 100)
}
