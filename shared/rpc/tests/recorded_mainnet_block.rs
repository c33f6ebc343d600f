//! The real Polygon mainnet block 38,102,393, served by a Bor-shaped JSON-RPC server exactly as
//! recorded, is fetched on a miss (verified against a Heimdall milestone naming its hash) and
//! then answered by our `eth_getBlockByNumber` (both forms) and `eth_getBlockReceipts` equal to
//! the recorded answers, field for field.
//!
//! The one documented difference: the recording predates Bor's go-ethereum 1.14 base, whose
//! `newRPCTransaction` adds `chainId` to EIP-155 legacy transactions and `yParity` to typed ones
//! (Bor v1.5.5, which we answer like). Those two fields are checked for their values instead.

mod support;

use axum::{Json, Router, extract::State, routing::post};
use hypasis_chain::ChainSpec;
use hypasis_store::{BlockStore, MemoryStore, MemoryStoreLimits};
use hypasis_syncer::{Claims, HeadWriter, MilestoneGuard, ReadThrough, ReadThroughConfig, SyncContext, SyncProgress};
use hypasis_upstream::{BlockFetcher, Milestone, PoolConfig, UpstreamPool};
use serde_json::{Value, json};
use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};
use support::{Edge, FixedView, diff};

const NUMBER: u64 = 38_102_393;

fn recorded() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../chain/testdata/polygon-mainnet/block-38102393.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("testdata")).expect("json")
}

/// A Polygon RPC answering from the recording (`null` for other blocks, -32601 for other
/// methods, batches as Bor does: each element answered, more than its limit refused), counting
/// block fetches.
#[derive(Clone)]
struct Recorded {
    file: Arc<Value>,
    fetches: Arc<AtomicU64>,
}

fn answer(state: &Recorded, request: &Value) -> Value {
    let (method, params) = (request["method"].as_str().unwrap_or_default(), &request["params"]);
    let number = format!("{NUMBER:#x}");
    let result = match method {
        "eth_blockNumber" => Ok(json!(number)),
        "eth_getBlockByNumber" if params[0] == json!(number) => {
            // A fetch is the block with its transactions; hashes only is a header read.
            if params[1] == json!(true) {
                state.fetches.fetch_add(1, Ordering::SeqCst);
            }
            Ok(state.file["eth_getBlockByNumber"].clone())
        }
        "eth_getBlockReceipts" if params[0] == json!(number) => Ok(state.file["eth_getBlockReceipts"].clone()),
        "eth_getBlockByNumber" | "eth_getBlockReceipts" => Ok(Value::Null),
        other => Err(json!({"code": -32601, "message": format!("the method {other} does not exist/is not available")})),
    };
    match result {
        Ok(result) => json!({"jsonrpc": "2.0", "id": request["id"], "result": result}),
        Err(error) => json!({"jsonrpc": "2.0", "id": request["id"], "error": error}),
    }
}

async fn serve_recorded(State(state): State<Recorded>, Json(body): Json<Value>) -> Json<Value> {
    Json(match &body {
        Value::Array(items) if items.len() > hypasis_fake_upstream::BOR_BATCH_LIMIT => {
            json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32600, "message": "batch too large"}})
        }
        Value::Array(items) => Value::Array(items.iter().map(|r| answer(&state, r)).collect()),
        single => answer(&state, single),
    })
}

#[tokio::test]
async fn the_recorded_block_is_read_through_and_answered_field_for_field() {
    let file = recorded();
    let upstream = Recorded { file: Arc::new(file.clone()), fetches: Arc::default() };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let upstream_url: url::Url = format!("http://{}/", listener.local_addr().expect("addr")).parse().expect("url");
    tokio::spawn(axum::serve(listener, Router::new().route("/", post(serve_recorded)).with_state(upstream.clone())).into_future());

    let spec = ChainSpec::polygon_mainnet();
    let store: Arc<dyn BlockStore> = Arc::new(MemoryStore::new(MemoryStoreLimits::default()));
    let pool = Arc::new(UpstreamPool::new(&[upstream_url], PoolConfig::default()).expect("pool"));
    let head = HeadWriter::new(store.clone(), Arc::new(SyncProgress::new(1_000)), tokio::sync::watch::channel(None).0);
    // Heimdall's latest milestone ends at the block and names its hash: the trusted anchor.
    let guard = Arc::new(MilestoneGuard::default());
    let hash = file["expected"]["hash"].as_str().expect("hash").parse().expect("hash");
    guard.update(Some(Milestone { start: NUMBER - 15, end: NUMBER, hash }), None);
    let ctx = SyncContext::new(BlockFetcher::new(pool, spec.bor.clone()), head).with_milestones(Some(guard));
    let read_through = Arc::new(ReadThrough::new(ctx, Claims::memory(), ReadThroughConfig::default()));
    let edge = Edge::start(spec, store.clone(), Some(read_through), FixedView::default()).await;

    assert_eq!(store.held().await.expect("held").count(), 0, "nothing cached before the call");
    let full = edge.call("eth_getBlockByNumber", json!([format!("{NUMBER:#x}"), true])).await;
    assert_eq!(upstream.fetches.load(Ordering::SeqCst), 1, "fetched once, on the miss");
    assert!(store.held().await.expect("held").contains(NUMBER), "stored after verification");

    let expected = &file["eth_getBlockByNumber"];
    let mut differences = Vec::new();
    diff("block", &full, expected, &mut differences);
    let explained = |line: &String| {
        line.contains(".chainId: ours \"0x89\" vs absent") && line.starts_with("block.transactions[") || line.contains(".yParity: ours")
    };
    let unexplained: Vec<&String> = differences.iter().filter(|l| !explained(l)).collect();
    assert!(unexplained.is_empty(), "eth_getBlockByNumber(full) differs from the recording:\n{unexplained:#?}");
    for (ours, theirs) in full["transactions"].as_array().expect("txs").iter().zip(expected["transactions"].as_array().expect("txs")) {
        match theirs["type"].as_str() {
            Some("0x0") => assert_eq!(ours["chainId"], json!("0x89"), "EIP-155 legacy: chain id from v = {}", theirs["v"]),
            _ => assert_eq!(ours["yParity"], theirs["v"], "typed: yParity equals v"),
        }
    }
    assert!(differences.iter().any(|l| l.contains("yParity")) && differences.iter().any(|l| l.contains("chainId")), "both kinds seen");

    let hashes = edge.call("eth_getBlockByNumber", json!([format!("{NUMBER:#x}"), false])).await;
    let mut expected_hashes = expected.clone();
    expected_hashes["transactions"] =
        Value::Array(expected["transactions"].as_array().expect("txs").iter().map(|t| t["hash"].clone()).collect());
    assert_eq!(hashes, expected_hashes, "eth_getBlockByNumber(hashes) equals the recording");

    let receipts = edge.call("eth_getBlockReceipts", json!([format!("{NUMBER:#x}")])).await;
    let mut differences = Vec::new();
    diff("receipts", &receipts, &file["eth_getBlockReceipts"], &mut differences);
    assert!(differences.is_empty(), "eth_getBlockReceipts differs from the recording:\n{differences:#?}");

    let author = edge.call("bor_getAuthor", json!([format!("{NUMBER:#x}")])).await;
    assert_eq!(author, file["expected"]["signer"], "the signer recovered from the seal");
    assert_eq!(upstream.fetches.load(Ordering::SeqCst), 1, "everything after the miss came from the cache");
}
