//! Every method over real HTTP against devnet blocks in the cache; the same blocks' answers
//! compared field for field with the Bor-shaped devnet JSON-RPC server's; the state-sync pseudo
//! transaction before and after Madhugiri; the JSON-RPC limits and error codes.

mod support;

use hypasis_chain::{Block, ChainSpec, bor, checkpoint};
use hypasis_devnet::{Devnet, DevnetConfig};
use hypasis_fake_upstream::{DevnetRpc, DevnetRpcConfig};
use hypasis_rpc::RpcConfig;
use hypasis_store::{BlockStore, ChainHead, MemoryStore, MemoryStoreLimits};
use serde_json::{Value, json};
use std::sync::Arc;
use support::{Edge, FixedView, diff};

const BLOCKS: u64 = 40;

/// The devnet's first `BLOCKS` blocks (genesis first), stored with the head at the last.
async fn cached(spec_edit: impl FnOnce(&mut ChainSpec)) -> (Vec<Block>, Arc<dyn BlockStore>, ChainSpec) {
    let mut devnet = Devnet::new(DevnetConfig::default());
    let mut blocks = vec![devnet.tip().clone()];
    blocks.extend(devnet.next_blocks(BLOCKS as usize));
    let store: Arc<dyn BlockStore> = Arc::new(MemoryStore::new(MemoryStoreLimits::default()));
    store.insert(blocks.clone()).await.expect("insert");
    store.advance_head(ChainHead::of(blocks.last().expect("blocks"))).await.expect("head");
    let mut spec = devnet.spec().clone();
    spec_edit(&mut spec);
    (blocks, store, spec)
}

fn hex(n: u64) -> Value {
    json!(format!("{n:#x}"))
}

#[tokio::test]
async fn every_method_answers_from_the_cache() {
    let (blocks, store, spec) = cached(|_| {}).await;
    let view = FixedView { safe: Some(32), finalized: Some(16) };
    let edge = Edge::start(spec.clone(), store, None, view).await;
    let block = |n: u64| &blocks[n as usize];

    assert_eq!(edge.call("eth_chainId", json!([])).await, hex(spec.chain_id));
    assert_eq!(edge.call("net_version", json!([])).await, json!(spec.chain_id.to_string()));
    assert_eq!(edge.call("web3_clientVersion", json!([])).await, json!("hypasis-sync/test"));
    assert_eq!(edge.call("eth_syncing", json!([])).await, json!(false));
    assert_eq!(edge.call("eth_blockNumber", json!([])).await, hex(BLOCKS));

    for (tag, number) in [("latest", BLOCKS), ("pending", BLOCKS), ("earliest", 0), ("safe", 32), ("finalized", 16), ("0x7", 7)] {
        let answer = edge.call("eth_getBlockByNumber", json!([tag, false])).await;
        assert_eq!(answer["hash"], json!(block(number).hash()), "{tag}");
        assert_eq!(answer["totalDifficulty"], json!(format!("{:#x}", block(number).total_difficulty)), "{tag}");
    }
    let seven = block(7);
    let by_hash = edge.call("eth_getBlockByHash", json!([seven.hash(), true])).await;
    assert_eq!(by_hash["number"], hex(7));
    assert_eq!(by_hash["transactions"].as_array().map(Vec::len), Some(seven.body.transactions.len()));
    assert!(!seven.body.transactions.is_empty(), "the devnet's blocks carry transactions");
    let header = edge.call("eth_getHeaderByNumber", json!(["0x7"])).await;
    assert_eq!(header, edge.call("eth_getHeaderByHash", json!([seven.hash()])).await);
    assert_eq!(header["hash"], json!(seven.hash()));
    assert!(header.get("transactions").is_none() && header.get("totalDifficulty").is_some(), "{header}");

    let receipts = edge.call("eth_getBlockReceipts", json!(["0x7"])).await;
    assert_eq!(receipts.as_array().map(Vec::len), Some(seven.body.transactions.len()));
    assert_eq!(receipts, edge.call("eth_getBlockReceipts", json!([seven.hash()])).await, "by hash");
    assert_eq!(receipts, edge.call("eth_getBlockReceipts", json!([{"blockHash": seven.hash()}])).await, "EIP-1898");

    let tx = edge.call("eth_getTransactionByBlockNumberAndIndex", json!(["0x7", "0x1"])).await;
    assert_eq!(tx, by_hash["transactions"][1]);
    assert_eq!(tx, edge.call("eth_getTransactionByBlockHashAndIndex", json!([seven.hash(), "0x1"])).await);
    assert_eq!(edge.call("eth_getTransactionByBlockNumberAndIndex", json!(["0x7", "0x63"])).await, Value::Null);
    let count = hex(seven.body.transactions.len() as u64);
    assert_eq!(edge.call("eth_getBlockTransactionCountByNumber", json!(["0x7"])).await, count);
    assert_eq!(edge.call("eth_getBlockTransactionCountByHash", json!([seven.hash()])).await, count);
    assert_eq!(edge.call("eth_getUncleCountByBlockNumber", json!(["0x7"])).await, hex(0));
    let td = json!(format!("{:#x}", seven.total_difficulty));
    assert_eq!(edge.call("eth_getTdByNumber", json!(["0x7"])).await, td);
    assert_eq!(edge.call("eth_getTdByHash", json!([seven.hash()])).await, td);

    for n in [1, 16, BLOCKS] {
        let signer = bor::recover_signer_with(&block(n).header, spec.bor.as_ref().expect("bor").seals_base_fee(n)).expect("signer");
        assert_eq!(edge.call("bor_getAuthor", json!([hex(n)])).await, json!(format!("{signer:#x}")), "block {n}");
    }
    let root = checkpoint::root((1..=32).map(|n| block(n).header.header())).expect("root");
    assert_eq!(edge.call("bor_getRootHash", json!([1, 32])).await, json!(alloy_primitives::hex::encode(root)));
    assert_eq!(edge.call("bor_getRootHash", json!(["0x1", "0x20"])).await, json!(alloy_primitives::hex::encode(root)));

    // Beyond the head, or unknown: null like geth (no upstream to read through).
    assert_eq!(edge.call("eth_getBlockByNumber", json!([hex(BLOCKS + 1), false])).await, Value::Null);
    assert_eq!(edge.call("eth_getBlockByHash", json!([alloy_primitives::B256::repeat_byte(7), false])).await, Value::Null);
    assert_eq!(edge.call("eth_getBlockReceipts", json!([hex(BLOCKS + 5)])).await, Value::Null);
}

#[tokio::test]
async fn answers_equal_the_bor_shaped_servers_field_for_field() {
    let (blocks, store, spec) = cached(|_| {}).await;
    let edge = Edge::start(spec, store, None, FixedView::default()).await;
    let server = DevnetRpc::spawn(DevnetRpcConfig { prefill: BLOCKS, ..DevnetRpcConfig::default() }).await.expect("devnet rpc");
    let client = reqwest::Client::new();
    let theirs = |method: &'static str, params: Value| {
        let (client, url) = (client.clone(), server.url());
        async move {
            let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
            let answer: Value = client.post(url).json(&body).send().await.expect("send").json().await.expect("json");
            answer["result"].clone()
        }
    };
    let mut differences = Vec::new();
    for block in &blocks {
        let n = hex(block.number());
        for full in [false, true] {
            let ours = edge.call("eth_getBlockByNumber", json!([n, full])).await;
            diff(
                &format!("block {} full={full}", block.number()),
                &ours,
                &theirs("eth_getBlockByNumber", json!([n, full])).await,
                &mut differences,
            );
        }
        let ours = edge.call("eth_getBlockReceipts", json!([n])).await;
        diff(&format!("receipts {}", block.number()), &ours, &theirs("eth_getBlockReceipts", json!([n])).await, &mut differences);
    }
    assert!(differences.is_empty(), "{} differences, first: {:#?}", differences.len(), &differences[..differences.len().min(20)]);
}

#[tokio::test]
async fn sprint_starts_show_the_state_sync_pseudo_transaction_only_before_madhugiri() {
    for madhugiri in [None, Some(0)] {
        let (blocks, store, spec) = cached(|spec| spec.bor.as_mut().expect("bor").madhugiri_block = madhugiri).await;
        let edge = Edge::start(spec, store, None, FixedView::default()).await;
        let sprint_start = &blocks[16];
        assert!(sprint_start.state_sync_receipt.is_some(), "the devnet commits state syncs at sprint starts");
        let pseudo = hypasis_chain::rpc_json::state_sync_tx_hash(16, sprint_start.hash());
        let txs = sprint_start.body.transactions.len();
        let full = edge.call("eth_getBlockByNumber", json!(["0x10", true])).await;
        let hashes = edge.call("eth_getBlockByNumber", json!(["0x10", false])).await;
        let receipts = edge.call("eth_getBlockReceipts", json!(["0x10"])).await;
        let count = edge.call("eth_getBlockTransactionCountByNumber", json!(["0x10"])).await;
        let at_end = edge.call("eth_getTransactionByBlockNumberAndIndex", json!(["0x10", hex(txs as u64)])).await;
        match madhugiri {
            None => {
                let last = &full["transactions"][txs];
                assert_eq!(last["hash"], json!(pseudo));
                for (field, value) in [
                    ("from", json!(alloy_primitives::Address::ZERO)),
                    ("to", json!(alloy_primitives::Address::ZERO)),
                    ("gas", json!("0x0")),
                    ("input", json!("0x")),
                    ("v", json!("0x0")),
                    ("transactionIndex", hex(txs as u64)),
                ] {
                    assert_eq!(last[field], value, "pseudo transaction {field}");
                }
                assert!(last.get("chainId").is_none() && last.get("yParity").is_none(), "{last}");
                assert_eq!(hashes["transactions"][txs], json!(pseudo));
                let receipt = &receipts[txs];
                assert_eq!(receipt["transactionHash"], json!(pseudo));
                assert_eq!(
                    (&receipt["status"], &receipt["cumulativeGasUsed"], &receipt["gasUsed"]),
                    (&json!("0x1"), &json!("0x0"), &json!("0x0"))
                );
                let normal_logs: usize =
                    receipts.as_array().expect("list")[..txs].iter().map(|r| r["logs"].as_array().map_or(0, Vec::len)).sum();
                assert_eq!(receipt["logs"][0]["logIndex"], hex(normal_logs as u64), "log indices continue across the block");
                assert_eq!(count, hex(txs as u64 + 1));
                assert_eq!(at_end["hash"], json!(pseudo));
                let size = full["size"].clone();
                let next = edge.call("eth_getBlockByNumber", json!(["0x11", true])).await;
                assert!(
                    next["transactions"].as_array().expect("txs").iter().all(|t| t["hash"] != json!(pseudo)),
                    "only at the sprint start"
                );
                assert_eq!(
                    size,
                    hex({
                        let mut rlp = Vec::new();
                        hypasis_chain::block::encode_block(&sprint_start.header, &sprint_start.body, &mut rlp);
                        rlp.len() as u64
                    }),
                    "size leaves the pseudo transaction out"
                );
            }
            Some(_) => {
                assert_eq!(full["transactions"].as_array().map(Vec::len), Some(txs), "from Madhugiri, no pseudo transaction");
                assert_eq!(hashes["transactions"].as_array().map(Vec::len), Some(txs));
                assert_eq!(receipts.as_array().map(Vec::len), Some(txs));
                assert_eq!(count, hex(txs as u64));
                assert_eq!(at_end, Value::Null);
            }
        }
    }
}

#[tokio::test]
async fn limits_and_errors_use_the_json_rpc_codes() {
    let (_, store, spec) = cached(|_| {}).await;
    let config = RpcConfig { body_max_bytes: 64 * 1024, ..RpcConfig::default() };
    let edge = Edge::start_with(spec.clone(), store.clone(), None, FixedView::default(), config).await;

    let batch = |n: usize| Value::Array((0..n).map(|i| json!({"jsonrpc": "2.0", "id": i, "method": "eth_chainId"})).collect()).to_string();
    let (status, answer) = edge.post(&batch(1_000)).await;
    assert_eq!(status, 200);
    let answers = answer.as_array().expect("a batch answer");
    assert_eq!(answers.len(), 1_000);
    assert!(answers.iter().enumerate().all(|(i, a)| a["id"] == json!(i) && a["result"] == hex(spec.chain_id)));
    let (status, answer) = edge.post(&batch(1_001)).await;
    assert_eq!(status, 200);
    assert_eq!(answer.as_array().map(Vec::len), Some(1), "a list with one error, as geth: {answer}");
    assert_eq!((answer[0]["error"]["code"].clone(), answer[0]["id"].clone()), (json!(-32600), json!(0)), "{answer}");
    assert!(answer[0]["error"]["message"].as_str().expect("message").contains("batch too large"), "{answer}");

    let (_, answer) = edge.post("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":").await;
    assert_eq!((answer["error"]["code"].clone(), answer["id"].clone()), (json!(-32700), Value::Null), "{answer}");
    let (status, _) = edge.post(&"x".repeat(64 * 1024 + 1)).await;
    assert_eq!(status, 413, "oversized body");
    let (_, answer) = edge.post("[]").await;
    assert_eq!(answer["error"]["code"], json!(-32600), "empty batch: {answer}");
    let (status, answer) = edge.post(r#"{"jsonrpc":"2.0","method":"eth_chainId"}"#).await;
    assert_eq!((status, answer), (200, Value::Null), "a notification gets no answer");

    let answer = edge.answer("eth_getLogs", json!([{}])).await;
    assert_eq!(answer["error"]["code"], json!(-32601));
    assert!(answer["error"]["message"].as_str().expect("message").contains("eth_getLogs"), "names the method: {answer}");
    for (method, params) in [
        ("eth_getBlockByNumber", json!(["0x1"])),
        ("eth_getBlockByNumber", json!([7, false])),
        ("eth_getBlockByNumber", json!(["newest", false])),
        ("eth_getBlockByHash", json!(["0x12", false])),
        ("eth_getBlockByNumber", json!(["0x1", false, 3])),
        ("eth_getTransactionByBlockNumberAndIndex", json!(["0x1", "one"])),
        ("bor_getRootHash", json!(["x", 2])),
        ("eth_getBlockByNumber", json!({"block": "0x1"})),
    ] {
        assert_eq!(edge.error_code(method, params.clone()).await, -32602, "{method}({params})");
    }
    for (method, params) in [
        ("eth_getBlockByNumber", json!(["safe", false])),
        ("bor_getRootHash", json!([5, 1])),
        ("bor_getRootHash", json!([1, 100_000])),
        ("bor_getRootHash", json!([0, u64::MAX])),
    ] {
        assert_eq!(edge.error_code(method, params.clone()).await, -32000, "{method}({params})");
    }

    // gzip when asked for.
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "eth_getBlockByNumber", "params": ["0x10", true]}).to_string();
    let raw = reqwest::Client::builder().no_gzip().build().expect("client");
    let response = raw
        .post(&edge.url)
        .header("content-type", "application/json")
        .header("accept-encoding", "gzip")
        .body(body.clone())
        .send()
        .await
        .expect("send");
    assert_eq!(response.headers().get("content-encoding").map(|v| v.to_str().expect("ascii")), Some("gzip"));
    let plain = raw.post(&edge.url).header("content-type", "application/json").body(body).send().await.expect("send");
    assert!(plain.headers().get("content-encoding").is_none(), "no gzip unless accepted");

    // Answers past the response cap become -32003, as geth's.
    let small = RpcConfig { response_max_bytes: 20_000, ..RpcConfig::default() };
    let edge = Edge::start_with(spec, store, None, FixedView::default(), small).await;
    let calls: Vec<Value> =
        (1..=20).map(|n| json!({"jsonrpc": "2.0", "id": n, "method": "eth_getBlockByNumber", "params": [hex(n), true]})).collect();
    let (_, answer) = edge.post(&Value::Array(calls).to_string()).await;
    let answers = answer.as_array().expect("list");
    assert_eq!(answers.len(), 20);
    let cut = answers.iter().position(|a| a.get("error").is_some()).expect("some answers cut");
    assert!(cut > 0 && answers[cut..].iter().all(|a| a["error"]["code"] == json!(-32003)), "{cut}");
}
