//! The upstream client against the devnet JSON-RPC server behaving like Bor (batch limit 100
//! answered with one error object, no `eth_getTdByNumber`) and like a rate-limited provider
//! (429 with `Retry-After`), over real HTTP.

use hypasis_devnet::{Devnet, DevnetConfig};
use hypasis_fake_upstream::{DevnetRpc, DevnetRpcConfig, RpcLimits};
use hypasis_upstream::{BlockFetcher, Capability, PoolConfig, UpstreamPool};
use std::{
    num::NonZeroU32,
    sync::Arc,
    time::{Duration, Instant},
};

fn fetcher(server: &DevnetRpc, max_batch: usize) -> BlockFetcher {
    let config = PoolConfig { requests_per_second: 1_000_000, max_batch, ..PoolConfig::default() };
    BlockFetcher::new(Arc::new(UpstreamPool::new(&[server.url().parse().expect("url")], config).expect("pool")), None)
}

fn truth(count: usize) -> Vec<hypasis_chain::Block> {
    let mut devnet = Devnet::new(DevnetConfig::default());
    let mut blocks = vec![devnet.tip().clone()];
    blocks.extend(devnet.next_blocks(count));
    blocks
}

#[tokio::test]
async fn a_bor_like_upstream_keeps_the_raw_path_and_the_td_comes_from_block_json() {
    let server = DevnetRpc::spawn(DevnetRpcConfig { prefill: 300, ..Default::default() }).await.expect("server");
    let truth = truth(300);
    let fetcher = fetcher(&server, 1_000);
    let fetched = fetcher.fetch(1, 256).await.expect("fetched");
    assert_eq!(fetched.blocks.len(), 256);
    for block in &fetched.blocks {
        let expected = &truth[block.number() as usize];
        assert_eq!((block.hash(), block.total_difficulty), (expected.hash(), expected.total_difficulty), "block {}", block.number());
    }
    let endpoint = &fetcher.pool().endpoints()[0];
    // It has the raw methods but not eth_getTdByNumber: the raw path stays in use, TD is never
    // asked by a method it lacks.
    assert_eq!(endpoint.capability(Capability::RawBlocks), Some(true));
    assert_eq!(endpoint.capability(Capability::TdByNumber), None);
    assert_eq!(server.calls("eth_getTdByNumber"), 0);
    assert_eq!(server.calls("eth_getBlockReceipts"), 0, "no fallback to JSON blocks");
    // The 513-call batch was refused whole; the limit Bor named is remembered.
    assert_eq!(server.refused_batches(), 1);
    assert_eq!(endpoint.batch_limit(), 100);
    assert_eq!(endpoint.status().failed, 0);
    fetcher.fetch(257, 300).await.expect("second batch");
    assert_eq!(server.refused_batches(), 1, "not refused again");
}

#[tokio::test]
async fn without_the_debug_namespace_json_blocks_carry_the_td() {
    let server = DevnetRpc::spawn(DevnetRpcConfig { prefill: 120, raw_methods: false, ..Default::default() }).await.expect("server");
    let truth = truth(120);
    let fetcher = fetcher(&server, 100);
    let fetched = fetcher.fetch(1, 120).await.expect("fetched");
    assert!(fetched.blocks.iter().all(|b| b.total_difficulty == truth[b.number() as usize].total_difficulty));
    let endpoint = &fetcher.pool().endpoints()[0];
    assert_eq!(endpoint.capability(Capability::RawBlocks), Some(false));
    assert_eq!(endpoint.capability(Capability::TdByNumber), None);
    assert_eq!(server.refused_batches(), 0, "100 per batch from the start");
}

#[tokio::test]
async fn a_429_with_retry_after_slows_the_client_without_a_ban() {
    // 20 HTTP requests per second; 256 blocks at 10 calls per batch need ~52 requests.
    let limits = RpcLimits { batch_limit: 10, batch_response_max_size: 0, requests_per_second: NonZeroU32::new(20) };
    let server = DevnetRpc::spawn(DevnetRpcConfig { prefill: 256, limits, ..Default::default() }).await.expect("server");
    let truth = truth(256);
    let fetcher = fetcher(&server, 10);
    let started = Instant::now();
    let fetched = fetcher.fetch(1, 256).await.expect("fetched despite the rate limit");
    let elapsed = started.elapsed();
    assert!(fetched.blocks.iter().all(|b| b.hash() == truth[b.number() as usize].hash()));
    assert!(server.throttled() >= 1, "the server did rate-limit");
    assert!(elapsed >= Duration::from_secs(1), "Retry-After was honoured: {elapsed:?}");
    let status = fetcher.pool().endpoints()[0].status();
    assert_eq!((status.failed, status.ban_reason.as_deref()), (0, None), "backpressure is not a fault: {status:?}");
    assert_ne!(status.state, "banned");
    assert_ne!(status.state, "open");
}
