//! Backfill through real upstream limits: the backward engine fills 5,000 blocks from the devnet
//! JSON-RPC server enforcing Bor's batch limit (100, answered as Bor answers it), a batch limit
//! of 10, and a response-size cap (go-ethereum's -32003), each over real HTTP. Every block
//! stored is the devnet's own, with its exact total difficulty, though the server has no
//! `eth_getTdByNumber` (as Bor has none).

use hypasis_chain::Block;
use hypasis_devnet::{Devnet, DevnetConfig};
use hypasis_fake_upstream::{DevnetRpc, DevnetRpcConfig, RpcLimits};
use hypasis_store::{BlockStore, ChainHead, MemoryStore, MemoryStoreLimits, Parts};
use hypasis_syncer::{BackwardConfig, Claims, HeadWriter, SyncContext, SyncProgress, backward};
use hypasis_upstream::{BlockFetcher, PoolConfig, UpstreamPool};
use std::{
    sync::Arc,
    time::{Duration, Instant},
};
use tokio_util::sync::CancellationToken;

const BLOCKS: u64 = 5_000;
/// Generous: each scenario takes seconds on two shared cores.
const DEADLINE: Duration = Duration::from_secs(240);

struct Outcome {
    batch_limit: usize,
    refused_batches: u64,
    http_calls: u64,
}

/// Backfills `0..BLOCKS` (the head stored first, as forward sync leaves it) from `server` with
/// `limits`, checks every block against `truth` and returns what the endpoint learned.
async fn backfill(server: &DevnetRpc, truth: &[Block], limits: RpcLimits) -> Outcome {
    server.set_limits(limits);
    let (refused_before, calls_before) = (server.refused_batches(), server.total_calls());
    let store = Arc::new(MemoryStore::new(MemoryStoreLimits::default()));
    let head = truth.last().expect("blocks").clone();
    store.insert(vec![head.clone()]).await.expect("insert head");
    store.advance_head(ChainHead::of(&head)).await.expect("head");

    // The client starts at 1,000 calls per batch, so it has to learn each server's limit.
    let config = PoolConfig { requests_per_second: 1_000_000, timeout: Duration::from_secs(10), max_batch: 1_000, ..PoolConfig::default() };
    let pool = Arc::new(UpstreamPool::new(&[server.url().parse().expect("url")], config).expect("pool"));
    let head = HeadWriter::new(store.clone(), Arc::new(SyncProgress::new(BLOCKS)), tokio::sync::watch::channel(None).0);
    let ctx = SyncContext::new(BlockFetcher::new(pool.clone(), None), head);
    let cancel = CancellationToken::new();
    let (_pause, paused) = tokio::sync::watch::channel(false);
    let config = BackwardConfig { blocks_per_second: 1_000_000, ..BackwardConfig::default() };
    let task = tokio::spawn(backward::backfill(ctx, config, Claims::memory(), paused, backward::Stop::at(cancel.clone())));

    let started = Instant::now();
    loop {
        let gaps = store.held().await.expect("held").gaps(0, BLOCKS);
        if gaps.is_empty() {
            break;
        }
        assert!(started.elapsed() < DEADLINE, "backfill with {limits:?} did not finish; still missing {gaps:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    cancel.cancel();
    task.await.expect("backfill task");

    let numbers: Vec<u64> = (0..=BLOCKS).collect();
    for chunk in numbers.chunks(1_000) {
        let stored = store.by_numbers(chunk, Parts::ALL).await.expect("read");
        for (n, block) in chunk.iter().zip(stored) {
            let block = block.unwrap_or_else(|| panic!("block {n} missing"));
            let expected = &truth[*n as usize];
            assert_eq!(block.header.hash(), expected.hash(), "block {n}");
            assert_eq!(block.total_difficulty, expected.total_difficulty, "total difficulty of block {n}");
            assert_eq!(block.receipts.as_deref(), expected.receipts.as_ref(), "receipts of block {n}");
        }
    }
    let endpoint = &pool.endpoints()[0];
    let status = endpoint.status();
    eprintln!(
        "{limits:?}: {:?} for {BLOCKS} blocks, batch limit learned {}, {} calls served",
        started.elapsed(),
        endpoint.batch_limit(),
        server.total_calls() - calls_before
    );
    assert_eq!((status.state, status.failed), ("ok", 0), "limits are not faults: {status:?}");
    Outcome {
        batch_limit: endpoint.batch_limit(),
        refused_batches: server.refused_batches() - refused_before,
        http_calls: server.total_calls() - calls_before,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_thousand_blocks_backfill_at_bor_limits_at_ten_and_under_a_response_cap() {
    let devnet = DevnetConfig::default();
    let server =
        DevnetRpc::spawn(DevnetRpcConfig { devnet: devnet.clone(), prefill: BLOCKS, ..DevnetRpcConfig::default() }).await.expect("server");
    let mut generator = Devnet::new(devnet);
    let mut truth = vec![generator.tip().clone()];
    truth.extend(generator.next_blocks(BLOCKS as usize));

    // Bor's default: batches over 100 are refused whole; the client learns 100 from the message.
    let bor = backfill(&server, &truth, RpcLimits::BOR).await;
    assert_eq!(bor.batch_limit, 100);
    assert!(bor.refused_batches >= 1, "the first 257-call batch is refused");
    assert_eq!(server.calls("eth_getTdByNumber"), 0, "total difficulty comes from block JSON and difficulty sums");

    let ten = backfill(&server, &truth, RpcLimits { batch_limit: 10, ..RpcLimits::BOR }).await;
    assert_eq!(ten.batch_limit, 10);

    let capped = backfill(&server, &truth, RpcLimits { batch_limit: 0, batch_response_max_size: 20_000, requests_per_second: None }).await;
    assert!(capped.batch_limit < 257, "the response cap lowers the batch size: {}", capped.batch_limit);
    assert_eq!(capped.refused_batches, 0);
    // Every call is asked again at most a few times: resent calls stay a fraction of the total.
    let minimum = 2 * BLOCKS;
    assert!(capped.http_calls < minimum * 2, "{} calls for {minimum} needed", capped.http_calls);
    server.stop().await;
}
