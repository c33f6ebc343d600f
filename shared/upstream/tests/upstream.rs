//! The upstream pool and fetcher against JSON-RPC servers on real sockets: the real Polygon
//! mainnet block 38,102,393 served exactly as recorded, failover, bans, the breaker and hedging.

mod fake_rpc;

use fake_rpc::{FakeRpc, Handler};
use hypasis_upstream::{BlockFetcher, PoolConfig, UpstreamError, UpstreamPool};
use serde_json::{Value, json};
use std::{sync::Arc, time::Duration};

fn mainnet_file() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../chain/testdata/polygon-mainnet/block-38102393.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("testdata")).expect("json")
}

/// Answers like a Polygon RPC without the debug namespace, from the recorded answers.
fn mainnet_handler() -> Handler {
    let file = mainnet_file();
    Arc::new(move |method, params| match method {
        "eth_blockNumber" => Ok(json!("0x2456579")),
        "eth_getBlockByNumber" if params[0] == "0x2456579" => Ok(file["eth_getBlockByNumber"].clone()),
        "eth_getBlockReceipts" if params[0] == "0x2456579" => Ok(file["eth_getBlockReceipts"].clone()),
        "eth_getBlockByNumber" | "eth_getBlockReceipts" => Ok(Value::Null),
        other => Err((-32601, format!("the method {other} does not exist/is not available"))),
    })
}

fn pool(urls: &[url::Url]) -> Arc<UpstreamPool> {
    let config = PoolConfig { backoff: Duration::from_millis(10), timeout: Duration::from_secs(2), ..PoolConfig::default() };
    Arc::new(UpstreamPool::new(urls, config).expect("pool"))
}

#[tokio::test]
async fn the_real_mainnet_block_is_ingested_from_json_and_reproduces_its_hash_and_roots() {
    let rpc = FakeRpc::start(Duration::ZERO, mainnet_handler()).await;
    let fetcher = BlockFetcher::new(pool(&[rpc.url()]), hypasis_chain::ChainSpec::polygon_mainnet().bor);
    let expected = &mainnet_file()["expected"];
    let fetched = fetcher.fetch(38_102_393, 38_102_393).await.expect("fetched and verified");
    let block = &fetched.blocks[0];
    assert_eq!(format!("{:#x}", block.hash()), expected["hash"].as_str().expect("hash"));
    assert_eq!(format!("{:#x}", block.header.transactions_root), expected["transactions_root"].as_str().expect("tx root"));
    assert_eq!(format!("{:#x}", block.header.receipts_root), expected["receipts_root"].as_str().expect("receipts root"));
    assert!(block.total_difficulty > alloy_primitives::U256::ZERO, "TD from the block JSON");
    // The endpoint has no debug_getRaw*: remembered after the first try.
    assert_eq!(fetcher.pool().endpoints()[0].raw_methods(), Some(false));
}

#[tokio::test]
async fn a_tampered_answer_bans_the_endpoint_and_the_next_one_answers() {
    let file = mainnet_file();
    let liar: Handler = Arc::new(move |method, params| {
        let mut answer = mainnet_handler()(method, params)?;
        if method == "eth_getBlockReceipts" && answer.is_array() {
            // Reordered receipts: the receipts root no longer matches.
            answer.as_array_mut().expect("list").swap(0, 1);
        }
        let _ = &file;
        Ok(answer)
    });
    let (bad, good) = (FakeRpc::start(Duration::ZERO, liar).await, FakeRpc::start(Duration::ZERO, mainnet_handler()).await);
    let fetcher = BlockFetcher::new(pool(&[bad.url(), good.url()]), hypasis_chain::ChainSpec::polygon_mainnet().bor);
    let fetched = fetcher.fetch(38_102_393, 38_102_393).await.expect("the honest endpoint answers");
    assert_eq!(fetched.upstream.name(), fetcher.pool().endpoints()[1].name());
    assert!(fetcher.pool().endpoints()[0].is_banned());
    let calls = bad.calls();
    fetcher.fetch(38_102_393, 38_102_393).await.expect("again");
    assert_eq!(bad.calls(), calls, "a banned endpoint is not asked again");
}

#[tokio::test]
async fn a_dead_endpoint_fails_over_to_the_next() {
    let dead: url::Url = format!("http://127.0.0.1:{}/", hypasis_free_port()).parse().expect("url");
    let good = FakeRpc::start(Duration::ZERO, mainnet_handler()).await;
    let fetcher = BlockFetcher::new(pool(&[dead, good.url()]), hypasis_chain::ChainSpec::polygon_mainnet().bor);
    for _ in 0..3 {
        assert_eq!(fetcher.head().await.expect("failover"), 38_102_393);
    }
    let dead = fetcher.pool().endpoints()[0].status();
    assert_eq!(dead.failed, 1, "tried once, then ranked behind the healthy endpoint: {dead:?}");
    assert_eq!(good.calls(), 3);
}

#[tokio::test]
async fn consecutive_failures_open_the_breaker() {
    let dead: url::Url = format!("http://127.0.0.1:{}/", hypasis_free_port()).parse().expect("url");
    let config = PoolConfig { rounds: 1, ..PoolConfig::default() };
    let fetcher = BlockFetcher::new(Arc::new(UpstreamPool::new(&[dead], config).expect("pool")), None);
    for _ in 0..hypasis_upstream::endpoint::BREAKER_THRESHOLD {
        let err = fetcher.head().await.expect_err("dead");
        assert!(matches!(err, UpstreamError::Transport { .. }), "{err}");
    }
    assert_eq!(fetcher.pool().endpoints()[0].status().state, "open");
    let err = fetcher.head().await.expect_err("skipped while open");
    assert!(matches!(&err, UpstreamError::NoUpstream(why) if why.contains("open")), "{err}");
}

#[tokio::test]
async fn a_slow_endpoint_is_hedged() {
    let slow = FakeRpc::start(Duration::from_secs(3), mainnet_handler()).await;
    let fast = FakeRpc::start(Duration::ZERO, mainnet_handler()).await;
    let config = PoolConfig { hedge_min: Duration::from_millis(100), timeout: Duration::from_secs(5), ..PoolConfig::default() };
    let pool = Arc::new(UpstreamPool::new(&[slow.url(), fast.url()], config).expect("pool"));
    let started = std::time::Instant::now();
    let fetcher = BlockFetcher::new(pool, None);
    assert_eq!(fetcher.head().await.expect("hedged"), 38_102_393);
    assert!(started.elapsed() < Duration::from_secs(2), "the hedge answered first: {:?}", started.elapsed());
    assert_eq!(fast.calls(), 1);
}

#[tokio::test]
async fn a_block_not_yet_available_is_not_blamed_on_the_endpoint() {
    let rpc = FakeRpc::start(Duration::ZERO, mainnet_handler()).await;
    let config = PoolConfig { rounds: 1, ..PoolConfig::default() };
    let fetcher = BlockFetcher::new(Arc::new(UpstreamPool::new(&[rpc.url()], config).expect("pool")), None);
    let err = fetcher.fetch(99_999_999, 99_999_999).await.expect_err("not there");
    assert!(matches!(err, UpstreamError::NotAvailable { number: 99_999_999, .. }), "{err}");
    assert!(!fetcher.pool().endpoints()[0].is_banned());
    assert_eq!(fetcher.pool().endpoints()[0].status().state, "ok");
}

#[tokio::test]
async fn no_upstream_is_a_clear_error() {
    let fetcher = BlockFetcher::new(pool(&[]), None);
    let err = fetcher.head().await.expect_err("none");
    assert!(err.to_string().contains("--upstream"), "{err}");
}

fn hypasis_free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("port")
}
