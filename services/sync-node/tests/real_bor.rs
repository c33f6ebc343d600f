//! Real Bor v1.5.5 (the Polygon PoS client, unmodified) in the loop. Test tooling only: the
//! product is Rust. The binary is built from the Go module proxy by `scripts/install-bor` and
//! cached under `.cache/tools/` (see `hypasis_test_support::bor`).
//!
//! A Bor in developer mode (`--dev`, clique) makes a chain with real transactions: legacy,
//! EIP-2930 and EIP-1559 transfers, and a contract deployed and called (it writes storage and
//! emits a log). Then:
//!
//! - (a) our node serves that chain from `--chain genesis.json --import chain.rlp`, and a fresh
//!   Bor whose only static + trusted peer is our node full-syncs it: every block executed,
//!   identical hashes, the contract's storage as written.
//! - (b) our node syncs the same chain from the dev Bor's JSON-RPC at Bor's default limits
//!   (`--rpc.batchlimit` 100, no `eth_getTdByNumber`), fills all history, a fresh Bor syncs from
//!   it and then follows new blocks announced by it, with identical hashes.
//! - (c) three of our nodes on one Redis behind nginx's TCP passthrough answer to the cluster's
//!   enode; the instance the fresh Bor is connected to is killed (`kill -9`) in the middle of its
//!   sync; Bor redials the same enode and completes from another instance.

mod support;

use alloy_consensus::{SignableTransaction, TxEip1559, TxEip2930, TxEnvelope, TxLegacy};
use alloy_eips::{
    eip2718::Encodable2718,
    eip2930::{AccessList, AccessListItem},
};
use alloy_primitives::{Address, B256, Bytes, TxKind, U256, hex, keccak256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use hypasis_test_support::bor::{Bor, quantity};
use serde_json::json;
use std::{
    path::Path,
    time::{Duration, Instant},
};
use support::{Node, eventually};

/// Blocks the dev Bor makes before our node serves them.
const BLOCKS: u64 = 1_500;
/// Time a fresh Bor gets to reach a target head.
const SYNC_DEADLINE: Duration = Duration::from_secs(300);
/// Init code of the test contract: it returns the runtime below.
const CONTRACT_INIT: &str = "6014600c60003960146000f3";
/// Runtime of the test contract: `sstore(0, calldataload(0))`, then `log1` of that word with
/// topic 0x2a.
const CONTRACT_RUNTIME: &str = "600035600055600035600052602a60206000a100";
/// Gas price paid (Bor's txpool takes nothing under 25 gwei).
const GAS_PRICE: u128 = 30_000_000_000;

/// The dev Bor's developer account: a key this test holds.
fn developer_key() -> B256 {
    keccak256(b"hypasis real-bor test developer")
}

/// Signs and sends transactions from the developer account, one block each.
struct Wallet {
    key: PrivateKeySigner,
    nonce: u64,
    chain_id: u64,
    contract: Option<Address>,
    sent: u64,
    /// The last word written to the contract's slot 0.
    stored: B256,
}

impl Wallet {
    fn new(bor: &Bor) -> Self {
        let key = PrivateKeySigner::from_bytes(&developer_key()).expect("key");
        let chain_id = quantity(&bor.rpc("eth_chainId", json!([])));
        let nonce = quantity(&bor.rpc("eth_getTransactionCount", json!([key.address(), "latest"])));
        Self { key, nonce, chain_id, contract: None, sent: 0, stored: B256::ZERO }
    }

    /// Sends the next transaction of the rotation (contract deployed first; then legacy, EIP-2930
    /// and EIP-1559 transfers and contract calls in turn) and waits for its receipt.
    fn step(&mut self, bor: &Bor) {
        let recipient = Address::with_last_byte(0x77);
        let (to, input, value) = match (self.contract, self.sent % 4) {
            (None, _) => (TxKind::Create, Bytes::from(hex::decode(format!("{CONTRACT_INIT}{CONTRACT_RUNTIME}")).expect("hex")), U256::ZERO),
            (Some(contract), 3) => {
                self.stored = keccak256(self.sent.to_be_bytes());
                (TxKind::Call(contract), Bytes::copy_from_slice(self.stored.as_slice()), U256::ZERO)
            }
            _ => (TxKind::Call(recipient), Bytes::new(), U256::from(1_000 + self.sent)),
        };
        let is_transfer = input.is_empty();
        let gas_limit = if is_transfer { 30_000 } else { 200_000 };
        let envelope: TxEnvelope = match self.sent % 3 {
            0 => {
                let tx = TxLegacy { chain_id: Some(self.chain_id), nonce: self.nonce, gas_price: GAS_PRICE, gas_limit, to, value, input };
                let sig = self.key.sign_hash_sync(&tx.signature_hash()).expect("sign");
                tx.into_signed(sig).into()
            }
            1 => {
                let access_list = AccessList(vec![AccessListItem { address: recipient, storage_keys: vec![B256::with_last_byte(1)] }]);
                let tx = TxEip2930 {
                    chain_id: self.chain_id,
                    nonce: self.nonce,
                    gas_price: GAS_PRICE,
                    gas_limit: gas_limit + 5_000,
                    to,
                    value,
                    access_list,
                    input,
                };
                let sig = self.key.sign_hash_sync(&tx.signature_hash()).expect("sign");
                tx.into_signed(sig).into()
            }
            _ => {
                let tx = TxEip1559 {
                    chain_id: self.chain_id,
                    nonce: self.nonce,
                    gas_limit,
                    max_fee_per_gas: 2 * GAS_PRICE,
                    max_priority_fee_per_gas: GAS_PRICE,
                    to,
                    value,
                    access_list: AccessList::default(),
                    input,
                };
                let sig = self.key.sign_hash_sync(&tx.signature_hash()).expect("sign");
                tx.into_signed(sig).into()
            }
        };
        let raw = format!("0x{}", hex::encode(envelope.encoded_2718()));
        let hash = bor.rpc("eth_sendRawTransaction", json!([raw]));
        let started = Instant::now();
        let mut nudges = 0;
        let receipt = loop {
            // "transaction indexing is in progress" right after start: ask again.
            if let Some(receipt) = bor.try_rpc("eth_getTransactionReceipt", json!([hash])).ok().filter(|r| !r.is_null()) {
                break receipt;
            }
            assert!(started.elapsed() < Duration::from_secs(60), "no receipt for transaction {} within 60 s", self.nonce);
            // A period-0 dev Bor seals on a new-transaction event; one arriving while the
            // previous block is being committed can sit in the pool until the next event.
            if started.elapsed() > Duration::from_secs(3 * (nudges + 1)) {
                nudges += 1;
                self.nudge(bor, self.nonce + nudges);
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        self.nonce += nudges;
        assert_eq!(receipt["status"], "0x1", "transaction {} failed: {receipt}", self.sent);
        if to == TxKind::Create {
            self.contract = Some(receipt["contractAddress"].as_str().expect("contract address").parse().expect("address"));
        } else if is_transfer {
            self.sent += 1;
        } else {
            assert_eq!(receipt["logs"][0]["topics"][0], json!(B256::with_last_byte(0x2a)), "the call logs: {receipt}");
            self.sent += 1;
        }
        self.nonce += 1;
    }

    /// Sends a 1-wei legacy transfer with `nonce`, so the producer gets a new-transaction event.
    fn nudge(&self, bor: &Bor, nonce: u64) {
        let tx = TxLegacy {
            chain_id: Some(self.chain_id),
            nonce,
            gas_price: GAS_PRICE,
            gas_limit: 30_000,
            to: TxKind::Call(Address::with_last_byte(0x78)),
            value: U256::from(1),
            input: Bytes::new(),
        };
        let sig = self.key.sign_hash_sync(&tx.signature_hash()).expect("sign");
        let envelope: TxEnvelope = tx.into_signed(sig).into();
        eprintln!("transaction {} not sealed after 3 s: nudging the producer with transaction {nonce}", self.nonce);
        bor.rpc("eth_sendRawTransaction", json!([format!("0x{}", hex::encode(envelope.encoded_2718()))]));
    }

    /// Sends transactions until the chain reaches `head`.
    fn grow_to(&mut self, bor: &Bor, head: u64) {
        while bor.head() < head {
            self.step(bor);
        }
    }
}

/// A dev Bor with `BLOCKS` blocks of transactions, its genesis file and its chain.rlp.
struct DevChain {
    producer: Bor,
    wallet: Wallet,
    dir: tempfile::TempDir,
}

impl DevChain {
    fn make() -> Self {
        let producer = Bor::producer(&developer_key(), 0);
        let mut wallet = Wallet::new(&producer);
        let started = Instant::now();
        wallet.grow_to(&producer, BLOCKS);
        eprintln!("dev Bor made {} blocks with {} transactions in {:?}", producer.head(), wallet.nonce, started.elapsed());
        let dir = tempfile::tempdir().expect("tempdir");
        let genesis = producer.dev_genesis(wallet.key.address());
        std::fs::write(dir.path().join("genesis.json"), serde_json::to_string_pretty(&genesis).expect("json")).expect("genesis.json");
        Self { producer, wallet, dir }
    }

    fn genesis(&self) -> &Path {
        self.dir.path()
    }

    fn genesis_file(&self) -> String {
        self.dir.path().join("genesis.json").display().to_string()
    }
}

/// Waits until `bor` reaches `target`, then checks that blocks `0..=target` have the
/// producer's hashes and that the contract's storage is what the last call wrote (so the
/// blocks were executed, not only stored).
fn assert_synced(bor: &Bor, chain: &DevChain, target: u64, what: &str) {
    let started = Instant::now();
    loop {
        let head = bor.head();
        if head >= target {
            break;
        }
        assert!(
            started.elapsed() < SYNC_DEADLINE,
            "{what}: Bor stuck at {head} of {target} after {SYNC_DEADLINE:?}:\n{}",
            bor.log_tail(60)
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    eprintln!("{what}: Bor reached block {target} in {:?}", started.elapsed());
    let ours = bor.hashes(0, target);
    let theirs = chain.producer.hashes(0, target);
    let differing: Vec<u64> = (0..=target).filter(|n| ours[*n as usize] != theirs[*n as usize]).take(5).collect();
    assert!(differing.is_empty(), "{what}: hashes differ at {differing:?}");
    let contract = chain.wallet.contract.expect("deployed");
    let slot = bor.rpc("eth_getStorageAt", json!([contract, "0x0", format!("{target:#x}")]));
    let expected = chain.producer.rpc("eth_getStorageAt", json!([contract, "0x0", format!("{target:#x}")]));
    assert_eq!(slot, expected, "{what}: contract storage after executing the chain");
    assert_ne!(expected, json!(B256::ZERO), "the contract was written");
}

/// The node id part of an enode URL.
fn node_id(enode: &str) -> String {
    enode.trim_start_matches("enode://").split('@').next().expect("enode id").to_owned()
}

/// Whether `bor` lists a peer with the node id of `enode`.
fn has_peer(bor: &Bor, enode: &str) -> bool {
    let id = node_id(enode);
    bor.rpc("admin_peers", json!([]))
        .as_array()
        .is_some_and(|peers| peers.iter().any(|p| p["enode"].as_str().is_some_and(|e| e.contains(&id))))
}

#[test]
fn real_bor_syncs_from_us_and_we_sync_from_real_bor() {
    let mut chain = DevChain::make();
    imported_chain(&chain);
    synced_from_bor(&mut chain);
    through_the_cluster(&chain);
}

/// (a) An imported chain, served to a fresh Bor.
fn imported_chain(chain: &DevChain) {
    let genesis_hash = chain.producer.hashes(0, 0)[0].expect("genesis");
    let chain_rlp = chain.genesis().join("chain.rlp");
    std::fs::write(&chain_rlp, chain.producer.export_chain(BLOCKS)).expect("chain.rlp");
    let imported = Node::start(&["--chain", &chain.genesis_file(), "--import", chain_rlp.to_str().expect("utf-8")]);
    let status = imported.get_json("/api/v1/status");
    assert_eq!(status["genesis_hash"], json!(genesis_hash), "our node computes Bor's genesis hash: {status}");
    assert_eq!(status["head"]["number"], BLOCKS, "{status}");
    let follower = Bor::follower(&chain.genesis().join("genesis.json"), &imported.enodes[..1]);
    assert_synced(&follower, chain, BLOCKS, "(a) imported chain");
    assert!(has_peer(&follower, &imported.enodes[0]), "Bor's peer is our node");
}

/// (b) Our node syncs from the dev Bor's JSON-RPC at Bor's defaults, then serves a fresh Bor and
/// announces new blocks to it.
fn synced_from_bor(chain: &mut DevChain) {
    let upstream = format!("http://{}", chain.producer.http);
    // Batches of 500 at first: Bor refuses them, and the node must learn Bor's 100.
    let synced = Node::start(&[
        "--chain",
        &chain.genesis_file(),
        "--upstream",
        &upstream,
        "--upstream-rps",
        "100000",
        "--upstream-max-batch",
        "500",
    ]);
    let gaps = eventually(Duration::from_secs(120), "history filled from Bor's JSON-RPC", || {
        let gaps = synced.get_json("/api/v1/gaps");
        (gaps["head"].as_u64() >= Some(BLOCKS) && gaps["missing_blocks"] == 0).then_some(gaps)
    });
    eprintln!("(b) history from Bor: {gaps}");
    let upstreams = synced.get_json("/api/v1/upstreams");
    let bor_rpc = &upstreams["upstreams"][0];
    assert_eq!(bor_rpc["batch_limit"], 100, "learned from Bor's answer: {upstreams}");
    assert_eq!(bor_rpc["raw_methods"], true, "Bor has debug_getRawBlock: {upstreams}");
    assert_eq!(bor_rpc["td_method"], json!(null), "TD from block JSON, never eth_getTdByNumber: {upstreams}");
    assert_eq!((bor_rpc["failed"].as_u64(), bor_rpc["state"].as_str()), (Some(0), Some("ok")), "{upstreams}");
    let follower = Bor::follower(&chain.genesis().join("genesis.json"), &synced.enodes[..1]);
    assert_synced(&follower, chain, BLOCKS, "(b) from Bor's JSON-RPC");
    let target = BLOCKS + 40;
    chain.wallet.grow_to(&chain.producer, target);
    assert_synced(&follower, chain, target, "(b) following new blocks");
}

/// (c) Three instances on one Redis behind nginx's TCP passthrough, one cluster enode; the
/// instance Bor is connected to is killed mid-sync and Bor completes from another.
fn through_the_cluster(chain: &DevChain) {
    let target = chain.producer.head();
    let redis = hypasis_test_support::redis::RedisServer::start();
    let shared = tempfile::tempdir().expect("tempdir");
    let cluster_key = shared.path().join("cluster.key");
    let upstream = format!("http://{}", chain.producer.http);
    let genesis = chain.genesis_file();
    let start = |id: &str| {
        Node::start(&[
            "--chain",
            &genesis,
            "--upstream",
            &upstream,
            "--upstream-rps",
            "100000",
            "--redis-url",
            &redis.url(),
            "--instance-id",
            id,
            "--cluster-key-file",
            cluster_key.to_str().expect("utf-8"),
        ])
    };
    let mut nodes: Vec<Option<Node>> = vec![Some(start("c1")), Some(start("c2")), Some(start("c3"))];
    for node in nodes.iter().flatten() {
        eventually(Duration::from_secs(120), "every instance serves the whole chain from Redis", || {
            let gaps = node.get_json("/api/v1/gaps");
            (gaps["head"].as_u64() >= Some(target) && gaps["missing_blocks"] == 0).then_some(())
        });
    }
    let nginx = hypasis_test_support::nginx::Nginx::tcp_passthrough(&nodes.iter().flatten().map(|n| n.p2p).collect::<Vec<_>>());
    let cluster_enode = format!("enode://{}@{}", node_id(&nodes[0].as_ref().expect("node").enodes[0]), nginx.listen);
    let follower = Bor::follower(&chain.genesis().join("genesis.json"), &[cluster_enode]);

    // Find the instance Bor is connected to; Bor waits ~10 s for more peers before it syncs.
    // As soon as its log says the sync started, kill that instance.
    let victim = eventually(Duration::from_secs(60), "Bor connected to an instance", || {
        nodes.iter().position(|n| n.as_ref().is_some_and(|n| n.get_json("/api/v1/peers")["count"].as_u64() > Some(0)))
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    while !follower.log().contains("Block synchronisation started") {
        assert!(Instant::now() < deadline, "Bor did not start syncing:\n{}", follower.log_tail(30));
        std::thread::sleep(Duration::from_millis(5));
    }
    drop(nodes[victim].take()); // SIGKILL
    let head_at_kill = follower.head();
    assert!(head_at_kill < target, "the instance was killed before Bor finished (Bor at {head_at_kill} of {target})");
    eprintln!("(c) killed instance c{} in Bor's sync, Bor at block {head_at_kill} of {target}", victim + 1);
    assert_synced(&follower, chain, target, "(c) through nginx after kill -9");
    let served_by: Vec<usize> = nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| n.as_ref().is_some_and(|n| n.get_json("/api/v1/peers")["count"].as_u64() > Some(0)))
        .map(|(i, _)| i)
        .collect();
    assert!(!served_by.is_empty() && !served_by.contains(&victim), "Bor completed from another instance: {served_by:?}\n{}", nginx.log());
}
