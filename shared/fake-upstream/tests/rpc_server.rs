//! The devnet JSON-RPC server over real HTTP on loopback: the JSON-RPC envelope, every method
//! against the devnet's own blocks, call counting, the fake RootChain and the lies.

use alloy_primitives::{Address, B256, U256, hex};
use hypasis_chain::{
    Block, BlockBody, Receipt, SealedHeader,
    block::BlockError,
    checkpoint,
    rpc_json::{RpcJsonError, block_from_rpc},
};
use hypasis_devnet::{Devnet, DevnetConfig};
use hypasis_fake_upstream::{
    DevnetRpc, DevnetRpcConfig, Lie, ROOTCHAIN_ADDRESS, RpcLimits,
    rootchain::{CURRENT_HEADER_BLOCK_SELECTOR, HEADER_BLOCKS_SELECTOR},
};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// A server and a client for it.
struct Fixture {
    server: DevnetRpc,
    client: reqwest::Client,
}

impl Fixture {
    async fn new(config: DevnetRpcConfig) -> Self {
        Self { server: DevnetRpc::spawn(config).await.expect("spawn"), client: reqwest::Client::new() }
    }

    /// A server with the total-difficulty methods too (go-ethereum's), no limits.
    async fn prefilled(prefill: u64) -> Self {
        Self::new(DevnetRpcConfig { prefill, td_methods: true, limits: unlimited(), ..Default::default() }).await
    }

    /// Posts `body` as is and returns the JSON answer.
    async fn post(&self, body: impl Into<reqwest::Body>) -> Value {
        let response =
            self.client.post(self.server.url()).header("content-type", "application/json").body(body).send().await.expect("send");
        assert!(response.status().is_success(), "HTTP {}", response.status());
        response.json().await.expect("JSON answer")
    }

    /// The whole answer to one call.
    async fn call(&self, method: &str, params: Value) -> Value {
        self.post(json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params }).to_string()).await
    }

    /// The result of one call, which must succeed.
    async fn result(&self, method: &str, params: Value) -> Value {
        let answer = self.call(method, params).await;
        assert!(answer.get("error").is_none(), "{method}: {answer}");
        answer["result"].clone()
    }

    /// The results of a batch, in request order.
    async fn batch(&self, calls: &[(&str, Value)]) -> Vec<Value> {
        let requests: Vec<Value> = calls
            .iter()
            .enumerate()
            .map(|(id, (method, params))| json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }))
            .collect();
        let Value::Array(mut answers) = self.post(Value::Array(requests).to_string()).await else { panic!("a batch answers an array") };
        answers.sort_by_key(|a| a["id"].as_u64());
        answers.into_iter().map(|a| a["result"].clone()).collect()
    }
}

fn devnet_blocks(count: usize) -> Vec<Block> {
    let mut devnet = Devnet::new(DevnetConfig::default());
    let mut blocks = vec![devnet.tip().clone()];
    blocks.extend(devnet.next_blocks(count));
    blocks
}

fn unlimited() -> RpcLimits {
    RpcLimits { batch_limit: 0, batch_response_max_size: 0, requests_per_second: None }
}

fn qty(n: u64) -> String {
    format!("{n:#x}")
}

fn bytes(value: &Value) -> Vec<u8> {
    hex::decode(value.as_str().expect("a hex string")).expect("hex")
}

fn error_code(answer: &Value) -> i64 {
    answer["error"]["code"].as_i64().unwrap_or_else(|| panic!("expected an error, got {answer}"))
}

#[tokio::test]
async fn envelope_batches_errors_and_counting() {
    let rpc = Fixture::prefilled(5).await;
    let answers = rpc
        .post(
            json!([
                { "jsonrpc": "2.0", "id": "a", "method": "eth_chainId", "params": [] },
                { "jsonrpc": "2.0", "id": 7, "method": "eth_blockNumber" },
                { "jsonrpc": "2.0", "id": null, "method": "net_version", "params": [] },
                { "jsonrpc": "2.0", "id": 8, "method": "eth_sendRawTransaction", "params": ["0x00"] },
                { "jsonrpc": "2.0", "method": "eth_chainId", "params": [] },
                42
            ])
            .to_string(),
        )
        .await;
    let answers = answers.as_array().expect("array");
    assert_eq!(answers.len(), 5, "the notification gets no answer: {answers:?}");
    let by_id = |id: Value| answers.iter().find(|a| a["id"] == id).unwrap_or_else(|| panic!("no answer for {id}"));
    assert_eq!(by_id(json!("a"))["result"], "0x539");
    assert_eq!(by_id(json!(7))["result"], "0x5");
    assert_eq!(by_id(Value::Null)["result"], "1337");
    let unknown = by_id(json!(8));
    assert_eq!(error_code(unknown), -32601);
    assert_eq!(unknown["error"]["message"], "the method eth_sendRawTransaction does not exist/is not available");
    assert!(answers.iter().any(|a| a["error"]["code"] == -32600), "a non-object element is an invalid request");

    assert_eq!(error_code(&rpc.post("{\"jsonrpc\": \"2.0\", \"id\": 1, ").await), -32700);
    assert_eq!(error_code(&rpc.post(vec![0xff, 0xfe]).await), -32700);
    assert_eq!(error_code(&rpc.post("[]").await), -32600);
    assert_eq!(error_code(&rpc.call("eth_getBlockByNumber", json!(["twelve", true])).await), -32602);
    assert_eq!(error_code(&rpc.call("eth_getBlockByNumber", json!([])).await), -32602);
    assert_eq!(error_code(&rpc.call("eth_getBlockByHash", json!(["0x12", false])).await), -32602);
    assert_eq!(error_code(&rpc.call("eth_getBlockByNumber", json!({ "number": "0x1" })).await), -32602);
    assert_eq!(error_code(&rpc.call("eth_getBlockByNumber", json!(["0x1", "yes"])).await), -32602);
    assert_eq!(rpc.result("eth_getBlockByNumber", json!(["0x6", true])).await, Value::Null, "beyond the head");

    assert_eq!(rpc.server.calls("eth_chainId"), 2);
    assert_eq!(rpc.server.calls("eth_blockNumber"), 1);
    assert_eq!(rpc.server.calls("eth_sendRawTransaction"), 1);
    assert_eq!(rpc.server.calls("eth_getBlockByNumber"), 5);
    assert_eq!(rpc.server.total_calls(), 5 + 5 + 1, "malformed bodies and non-objects call nothing");
    assert_eq!(rpc.server.block_fetches(6), 0, "a block the chain lacks is not a fetch");
}

#[tokio::test]
async fn raw_methods_decode_to_the_devnet_blocks_and_count_fetches() {
    let rpc = Fixture::prefilled(20).await;
    let blocks = devnet_blocks(20);
    for block in &blocks {
        let n = qty(block.number());
        let header = SealedHeader::decode_exact(&bytes(&rpc.result("debug_getRawHeader", json!([n])).await)).expect("header");
        assert_eq!(header, block.header);

        let raw = bytes(&rpc.result("debug_getRawBlock", json!([n])).await);
        let mut payload = alloy_rlp::Header::decode_bytes(&mut raw.as_slice(), true).expect("block list");
        let header = <SealedHeader as alloy_rlp::Decodable>::decode(&mut payload).expect("block header");
        assert_eq!(header.hash(), block.hash());
        assert_eq!(BlockBody::decode_fields(payload).expect("body"), block.body);

        let receipts = rpc.result("debug_getRawReceipts", json!([n])).await;
        let receipts: Vec<Receipt> =
            receipts.as_array().unwrap().iter().map(|r| Receipt::decode_2718(&bytes(r)).expect("receipt")).collect();
        assert_eq!(Some(receipts), block.receipts);

        assert_eq!(rpc.result("eth_getTdByNumber", json!([n])).await, json!(block.total_difficulty));
        assert_eq!(rpc.server.block_fetches(block.number()), 3);
    }
    assert_eq!(rpc.result("debug_getRawHeader", json!(["latest"])).await, rpc.result("debug_getRawHeader", json!(["0x14"])).await);
    assert_eq!(rpc.result("debug_getRawHeader", json!(["0x15"])).await, Value::Null);
    assert_eq!(rpc.server.block_fetches(20), 5);

    let hidden = Fixture::new(DevnetRpcConfig { prefill: 2, raw_methods: false, ..Default::default() }).await;
    for method in ["debug_getRawHeader", "debug_getRawBlock", "debug_getRawReceipts"] {
        assert_eq!(error_code(&hidden.call(method, json!(["0x1"])).await), -32601, "{method}");
    }
    assert_eq!(hidden.server.block_fetches(1), 0);
}

#[tokio::test]
async fn json_blocks_and_receipts_round_trip_through_block_from_rpc() {
    let rpc = Fixture::prefilled(100).await;
    let blocks = devnet_blocks(100);
    let calls: Vec<(&str, Value)> = blocks
        .iter()
        .flat_map(|b| [("eth_getBlockByNumber", json!([qty(b.number()), true])), ("eth_getBlockReceipts", json!([qty(b.number())]))])
        .collect();
    let answers = rpc.batch(&calls).await;
    let mut tx_types = std::collections::BTreeSet::new();
    for (block, pair) in blocks.iter().zip(answers.chunks(2)) {
        // Sprint-start blocks carry Bor's pseudo state-sync transaction and receipt in the JSON;
        // they are stripped from the consensus block and kept as its state-sync receipt.
        let got = hypasis_chain::rpc_json::block_from_rpc_polygon(&pair[0], &pair[1], None, None)
            .unwrap_or_else(|e| panic!("block {}: {e}", block.number()));
        let mut rebuilt = got.block;
        rebuilt.state_sync_receipt = got.state_sync_receipt.map(|r| hypasis_chain::receipt::state_sync_receipt(r.logs));
        assert_eq!(&rebuilt, block);
        let consensus_txs = block.body.transactions.len();
        assert_eq!(pair[0]["transactions"].as_array().unwrap().len(), consensus_txs + usize::from(block.state_sync_receipt.is_some()));
        for tx in pair[0]["transactions"].as_array().unwrap().iter().take(consensus_txs) {
            tx_types.insert(tx["type"].as_str().unwrap().to_owned());
            assert_eq!(tx["blockHash"], json!(block.hash()));
            assert!(tx["from"].is_string() && tx["r"].is_string() && tx["chainId"].is_string(), "{tx}");
        }
        for (i, receipt) in pair[1].as_array().unwrap().iter().take(consensus_txs).enumerate() {
            assert_eq!(receipt["transactionHash"], json!(block.body.transactions[i].hash()));
            assert_eq!(receipt["transactionIndex"], qty(i as u64));
            assert_eq!(receipt["contractAddress"], Value::Null);
            assert_eq!(receipt["status"], "0x1");
            assert!(receipt["from"].is_string() && receipt["effectiveGasPrice"].is_string() && receipt["gasUsed"].is_string());
        }
        assert_eq!(pair[0]["totalDifficulty"], json!(block.total_difficulty));
    }
    assert_eq!(tx_types.into_iter().collect::<Vec<_>>(), ["0x0", "0x1", "0x2"]);
    assert_eq!(rpc.server.calls("eth_getBlockByNumber"), 101);
    assert_eq!(rpc.server.calls("eth_getBlockReceipts"), 101);
    assert_eq!(rpc.server.block_fetches(50), 2);

    // by hash, with hashes only, and the log indices running across the block
    let block = &blocks[42];
    let by_hash = rpc.result("eth_getBlockByHash", json!([block.hash(), false])).await;
    let hashes: Vec<B256> = block.body.transactions.iter().map(|t| t.hash()).collect();
    assert_eq!(by_hash["transactions"], json!(hashes));
    assert_eq!(by_hash["hash"], json!(block.hash()));
    assert_eq!(rpc.result("eth_getTdByHash", json!([block.hash()])).await, json!(block.total_difficulty));
    assert_eq!(rpc.result("eth_getBlockByHash", json!([B256::repeat_byte(1), false])).await, Value::Null);
    let receipts = rpc.result("eth_getBlockReceipts", json!([block.hash()])).await;
    let log_indices: Vec<&Value> =
        receipts.as_array().unwrap().iter().flat_map(|r| r["logs"].as_array().unwrap()).map(|l| &l["logIndex"]).collect();
    let expected: Vec<Value> = (0..log_indices.len() as u64).map(|i| json!(qty(i))).collect();
    assert_eq!(log_indices, expected.iter().collect::<Vec<_>>());
    // Full block JSON once and receipts twice; block JSON with hashes only is a header read.
    assert_eq!(rpc.server.block_fetches(42), 3);
}

/// Decodes `headerBlocks` output: `(root, start, end, createdAt, proposer)`.
fn decode_header_block(out: &[u8]) -> (B256, u64, u64, u64, Address) {
    assert_eq!(out.len(), 5 * 32);
    let word = |i: usize| U256::from_be_slice(&out[i * 32..(i + 1) * 32]).to::<u64>();
    (B256::from_slice(&out[..32]), word(1), word(2), word(3), Address::from_slice(&out[4 * 32 + 12..]))
}

#[tokio::test]
async fn rootchain_publishes_checkpoints_after_the_delay() {
    let interval = 16;
    let rpc = Fixture::new(DevnetRpcConfig { prefill: 2 * interval + 16, checkpoint_interval: interval, ..Default::default() }).await;
    let proposer = Devnet::new(DevnetConfig::default()).validator_addresses()[0];
    let blocks = devnet_blocks(2 * interval as usize + 16);
    let eth_call = |data: Vec<u8>| {
        let rpc = &rpc;
        async move { rpc.call("eth_call", json!([{ "to": ROOTCHAIN_ADDRESS, "data": hex::encode_prefixed(data) }, "latest"])).await }
    };

    let current = bytes(&eth_call(CURRENT_HEADER_BLOCK_SELECTOR.to_vec()).await["result"]);
    assert_eq!(U256::from_be_slice(&current), U256::from(20_000));
    for k in 1..=2u64 {
        let data = [&HEADER_BLOCKS_SELECTOR[..], &U256::from(k * 10_000).to_be_bytes::<32>()].concat();
        let (root, start, end, created_at, who) = decode_header_block(&bytes(&eth_call(data).await["result"]));
        assert_eq!((start, end, who), ((k - 1) * interval + 1, k * interval, proposer));
        let headers = blocks[start as usize..=end as usize].iter().map(|b| b.header.header());
        assert_eq!(root, checkpoint::root(headers).unwrap(), "checkpoint {k}");
        assert_eq!(created_at, blocks[end as usize].header.timestamp);
    }
    let unknown = [&HEADER_BLOCKS_SELECTOR[..], &U256::from(30_000).to_be_bytes::<32>()].concat();
    assert_eq!(bytes(&eth_call(unknown).await["result"]), vec![0; 160]);
    assert_eq!(error_code(&eth_call(vec![0xde, 0xad, 0xbe, 0xef]).await), -32000);
    let elsewhere = rpc.call("eth_call", json!([{ "to": Address::repeat_byte(1), "data": "0xec7e4855" }, "latest"])).await;
    assert_eq!(elsewhere["result"], "0x");
    assert_eq!(error_code(&rpc.call("eth_call", json!([{ "to": "nowhere" }])).await), -32602);

    // one block short of the third checkpoint's delay
    let rpc = Fixture::new(DevnetRpcConfig { prefill: 3 * interval + 15, checkpoint_interval: interval, ..Default::default() }).await;
    let answer = rpc.call("eth_call", json!([{ "to": ROOTCHAIN_ADDRESS, "input": "0xec7e4855" }])).await;
    assert_eq!(U256::from_be_slice(&bytes(&answer["result"])), U256::from(20_000));
}

/// The served block `n` as raw encodings, assembled into a [`Block`].
async fn raw_block(rpc: &Fixture, n: u64) -> Block {
    let raw = bytes(&rpc.result("debug_getRawBlock", json!([qty(n)])).await);
    let mut payload = alloy_rlp::Header::decode_bytes(&mut raw.as_slice(), true).unwrap();
    let header = <SealedHeader as alloy_rlp::Decodable>::decode(&mut payload).unwrap();
    let body = BlockBody::decode_fields(payload).unwrap();
    let receipts = rpc.result("debug_getRawReceipts", json!([qty(n)])).await;
    let receipts = receipts.as_array().unwrap().iter().map(|r| Receipt::decode_2718(&bytes(r)).unwrap()).collect();
    let total_difficulty =
        serde_json::from_value(rpc.result("eth_getBlockByNumber", json!([qty(n), false])).await["totalDifficulty"].clone()).unwrap();
    Block { header, body, receipts: Some(receipts), total_difficulty, state_sync_receipt: None }
}

/// The served block `n` through `block_from_rpc`.
async fn json_block(rpc: &Fixture, n: u64) -> Result<Block, RpcJsonError> {
    let answers = rpc.batch(&[("eth_getBlockByNumber", json!([qty(n), true])), ("eth_getBlockReceipts", json!([qty(n)]))]).await;
    block_from_rpc(&answers[0], &answers[1], None)
}

#[tokio::test]
async fn lies_show_in_raw_and_json_answers_from_lie_from_on() {
    let blocks = devnet_blocks(12);
    for lie in [Lie::WrongTx, Lie::ReorderedReceipts, Lie::WrongParent] {
        let rpc = Fixture::new(DevnetRpcConfig { prefill: 12, lie, lie_from: 6, ..Default::default() }).await;
        for n in 4..=5 {
            assert_eq!(raw_block(&rpc, n).await, blocks[n as usize], "{lie}: block {n} is honest");
            assert_eq!(json_block(&rpc, n).await.unwrap(), blocks[n as usize]);
        }
        for n in 6..=9 {
            let raw = raw_block(&rpc, n).await;
            let truth = &blocks[n as usize];
            assert_eq!(raw.total_difficulty, truth.total_difficulty, "{lie}: the TD is never changed");
            let json = json_block(&rpc, n).await;
            match lie {
                Lie::WrongTx => {
                    assert_eq!(raw.header, truth.header);
                    assert!(matches!(raw.verify(), Err(BlockError::Body { .. })), "{lie} {n}");
                    assert!(matches!(json, Err(RpcJsonError::Mismatch(BlockError::Body { .. }))), "{lie} {n}: {json:?}");
                }
                Lie::ReorderedReceipts => {
                    assert_eq!(raw.header, truth.header);
                    assert!(matches!(raw.verify(), Err(BlockError::Receipts { .. })), "{lie} {n}");
                    assert!(matches!(json, Err(RpcJsonError::Mismatch(BlockError::Receipts { .. }))), "{lie} {n}: {json:?}");
                }
                _ => {
                    raw.verify().unwrap();
                    assert_ne!(raw.hash(), truth.hash());
                    let parent = raw_block(&rpc, n - 1).await;
                    if n == 6 {
                        assert_ne!(raw.header.parent_hash(), parent.hash(), "the fabricated chain does not link to block 5");
                    } else {
                        assert_eq!(raw.header.parent_hash(), parent.hash(), "the fabricated chain is linked");
                    }
                    assert_eq!(json.unwrap(), raw, "JSON tells the same lie");
                    let by_hash = rpc.result("eth_getBlockByHash", json!([raw.hash(), false])).await;
                    assert_eq!(by_hash["number"], qty(n));
                    assert_eq!(rpc.result("eth_getBlockByHash", json!([truth.hash(), false])).await, Value::Null);
                }
            }
        }
        rpc.server.stop().await;
    }
}

#[tokio::test]
async fn produces_blocks_and_stops() {
    let mut config = DevnetRpcConfig { prefill: 1, produce: true, ..Default::default() };
    config.devnet.block_time = 1;
    let rpc = Fixture::new(config).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while rpc.server.head() < 2 {
        assert!(Instant::now() < deadline, "no block produced in 5 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let head = rpc.result("eth_blockNumber", json!([])).await;
    assert!(head == "0x2" || head == "0x3", "{head}");
    let tip = rpc.result("eth_getBlockByNumber", json!(["latest", false])).await;
    assert!(tip["number"] == "0x2" || tip["number"] == "0x3", "{tip}");
    let url = rpc.server.url();
    rpc.server.stop().await;
    assert!(rpc.client.post(url).body("{}").send().await.is_err(), "the server is gone after stop");

    let mut bad = DevnetRpcConfig { produce: true, ..Default::default() };
    bad.devnet.block_time = 0;
    assert_eq!(DevnetRpc::spawn(bad).await.unwrap_err().kind(), std::io::ErrorKind::InvalidInput);
}

#[tokio::test]
async fn bor_defaults_refuse_big_batches_as_bor_does_and_lack_the_td_methods() {
    let rpc = Fixture::new(DevnetRpcConfig { prefill: 3, ..Default::default() }).await;
    let batch = |count: usize| {
        let calls: Vec<Value> = (0..count).map(|id| json!({ "jsonrpc": "2.0", "id": id, "method": "eth_blockNumber" })).collect();
        Value::Array(calls).to_string()
    };
    // Bor's rpc/server.go: one error object, id null, code -32000, for the whole batch.
    let refused = rpc.post(batch(150)).await;
    assert_eq!(
        refused,
        json!({ "jsonrpc": "2.0", "id": null, "error": { "code": -32000, "message": "batch limit 100 exceeded: 150 requests given" } })
    );
    assert_eq!(rpc.server.refused_batches(), 1);
    assert_eq!(rpc.server.calls("eth_blockNumber"), 0, "a refused batch runs nothing");
    assert_eq!(rpc.post(batch(100)).await.as_array().map(Vec::len), Some(100));
    assert_eq!(error_code(&rpc.call("eth_getTdByNumber", json!(["0x1"])).await), -32601);
    assert_eq!(error_code(&rpc.call("eth_getTdByHash", json!([B256::ZERO])).await), -32601);
    let block = rpc.result("eth_getBlockByNumber", json!(["0x2", false])).await;
    assert!(block["totalDifficulty"].is_string(), "Bor puts the TD in block JSON: {block}");
}

#[tokio::test]
async fn a_response_size_cap_answers_the_rest_with_response_too_large() {
    let limits = RpcLimits { batch_response_max_size: 10_000, ..unlimited() };
    let rpc = Fixture::new(DevnetRpcConfig { prefill: 40, limits, ..Default::default() }).await;
    let calls: Vec<(&str, Value)> = (1..=40u64).map(|n| ("debug_getRawBlock", json!([qty(n)]))).collect();
    let requests: Vec<Value> =
        calls.iter().enumerate().map(|(id, (m, p))| json!({ "jsonrpc": "2.0", "id": id, "method": m, "params": p })).collect();
    let answers = rpc.post(Value::Array(requests).to_string()).await;
    let answers = answers.as_array().expect("array");
    assert_eq!(answers.len(), 40, "every call is answered");
    let answered = answers.iter().take_while(|a| a.get("result").is_some()).count();
    let sizes: usize = answers[..answered].iter().map(|a| a["result"].to_string().len()).sum();
    assert!((1..40).contains(&answered), "cut after the cap: {answered} answered");
    assert!(sizes > 10_000 && sizes - answers[answered - 1]["result"].to_string().len() <= 10_000, "go-ethereum stops once past the cap");
    assert!(answers[answered..].iter().all(|a| a["error"]["code"] == -32003 && a["error"]["message"] == "response too large"));
}

#[tokio::test]
async fn the_rate_limit_answers_429_with_retry_after() {
    let limits = RpcLimits { requests_per_second: std::num::NonZeroU32::new(2), ..unlimited() };
    let rpc = Fixture::new(DevnetRpcConfig { prefill: 1, limits, ..Default::default() }).await;
    let body = json!({ "jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber" }).to_string();
    let mut statuses = Vec::new();
    let mut retry_after = None;
    for _ in 0..5 {
        let response =
            rpc.client.post(rpc.server.url()).header("content-type", "application/json").body(body.clone()).send().await.expect("send");
        statuses.push(response.status().as_u16());
        if response.status() == 429 {
            retry_after = response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
        }
    }
    assert_eq!(statuses[..2], [200, 200], "the burst goes through: {statuses:?}");
    assert!(statuses[2..].contains(&429), "then 429: {statuses:?}");
    assert_eq!(retry_after.as_deref(), Some("1"));
    assert!(rpc.server.throttled() >= 1);
}
