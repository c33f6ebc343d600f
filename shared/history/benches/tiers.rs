//! Blocks per second served by each tier, in one run, for the same blocks and request shape:
//!
//! ```sh
//! cargo bench -p hypasis-history --bench tiers
//! ```
//!
//! 2,048 devnet blocks shaped like Polygon mainnet's (150 transactions, ~115 KB bodies, with
//! receipts), sealed into two segments of 1,024, read in requests of 128 consecutive blocks with
//! every part (as a Bor peer's bodies and receipts requests):
//!
//! - memory: the in-memory store (the hot tier);
//! - segment cache: segments in the local-disk cache (decode and index check per block);
//! - bucket, local directory: every read a ranged read of the segment file, each block checked
//!   against its header's roots;
//! - bucket, S3 (SeaweedFS on loopback): the same over S3, when `weed` can be found or built.

use hypasis_chain::Block;
use hypasis_devnet::{Devnet, DevnetConfig};
use hypasis_history::{Bucket, HistoryStore, Sealer, SealerConfig, SegmentCache, Segments};
use hypasis_store::{BlockStore, ChainHead, MemoryStore, MemoryStoreLimits, Parts};
use hypasis_syncer::Claims;
use std::{sync::Arc, time::Instant};

const BLOCKS: u64 = 2_048;
const SPAN: u64 = 1_024;
const REQUEST: u64 = 128;
const ROUNDS: usize = 3;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    runtime.block_on(run());
}

async fn run() {
    let started = Instant::now();
    let mut devnet = Devnet::new(DevnetConfig { txs_per_block: 150, ..DevnetConfig::default() });
    let mut chain = vec![devnet.tip().clone()];
    chain.extend(devnet.next_blocks(BLOCKS as usize));
    let bytes: usize = chain.iter().map(|b| alloy_rlp::Encodable::length(&b.body)).sum();
    println!(
        "{} blocks made in {:.1?} (bodies {:.1} KB each on average)",
        chain.len(),
        started.elapsed(),
        bytes as f64 / chain.len() as f64 / 1e3
    );

    let memory = Arc::new(MemoryStore::new(MemoryStoreLimits::default()));
    memory.insert(chain.clone()).await.expect("insert");
    memory.advance_head(ChainHead::of(chain.last().expect("chain"))).await.expect("head");
    let memory_rate = rate(memory.as_ref()).await;

    let bucket_dir = tempfile::tempdir().expect("tempdir");
    let local = Bucket::open(&url::Url::from_directory_path(bucket_dir.path()).expect("path")).expect("bucket");
    seal(local.clone(), &chain).await;
    let (warm, _cache) = reader(local.clone(), 1 << 40).await;
    // Fill the local cache: one read per segment starts its download.
    warm.by_numbers(&[1, SPAN + 1], Parts::ALL).await.expect("warm up");
    while warm.segments().metas().iter().any(|_| std::fs::read_dir(_cache.path()).map(|d| d.count()).unwrap_or(0) < 2) {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let warm_rate = rate(warm.as_ref()).await;
    let (cold, _cache) = reader(local, 0).await;
    let cold_rate = rate(cold.as_ref()).await;

    let s3_rate = match std::panic::catch_unwind(|| hypasis_test_support::seaweedfs::SeaweedS3::start(&["bench"])) {
        Ok(server) => {
            let url = url::Url::parse("s3://bench/history").expect("url");
            let options = server.s3_options();
            let s3 = Bucket::open_with(&url, &options).expect("s3 bucket");
            seal(s3.clone(), &chain).await;
            let (cold_s3, _cache) = reader(s3, 0).await;
            Some(rate(cold_s3.as_ref()).await)
        }
        Err(_) => None,
    };

    println!("\nrequests of {REQUEST} consecutive blocks, every part, best of {ROUNDS} passes over {BLOCKS} blocks");
    println!("{:<34} {:>12} {:>10}", "tier", "blocks/s", "ratio");
    for (name, value) in [
        ("memory", Some(memory_rate)),
        ("segment cache (local disk)", Some(warm_rate)),
        ("bucket: local directory, ranged", Some(cold_rate)),
        ("bucket: S3 (SeaweedFS), ranged", s3_rate),
    ] {
        match value {
            Some(v) => println!("{name:<34} {v:>12.0} {:>10.3}", v / memory_rate),
            None => println!("{name:<34} {:>12} {:>10}", "n/a", "-"),
        }
    }
}

async fn seal(bucket: Bucket, chain: &[Block]) {
    let inner = Arc::new(MemoryStore::new(MemoryStoreLimits::default()));
    inner.insert(chain.to_vec()).await.expect("insert");
    let cache = tempfile::tempdir().expect("tempdir");
    let segments = Arc::new(Segments::new(bucket, Arc::new(SegmentCache::open(cache.path(), 0).expect("cache")), 64));
    let store = Arc::new(HistoryStore::new(inner, segments));
    let config = SealerConfig { span: SPAN, hot_window: u64::MAX, instance: "bench".into(), ..SealerConfig::default() };
    let report = Sealer::new(store, Claims::memory(), config).pass(BLOCKS).await.expect("seal");
    assert_eq!(report.sealed, (BLOCKS / SPAN) as usize);
}

/// A history store with an empty inner store (every read goes to the segments).
async fn reader(bucket: Bucket, cache_bytes: u64) -> (Arc<HistoryStore>, tempfile::TempDir) {
    let cache = tempfile::tempdir().expect("tempdir");
    let segments = Arc::new(Segments::new(bucket, Arc::new(SegmentCache::open(cache.path(), cache_bytes).expect("cache")), 64));
    segments.refresh().await.expect("manifest");
    let store = Arc::new(HistoryStore::new(Arc::new(MemoryStore::new(MemoryStoreLimits::default())), segments));
    store.set_floor(u64::MAX);
    (store, cache)
}

/// Best blocks/s over [`ROUNDS`] passes reading blocks `1..BLOCKS` in requests of [`REQUEST`].
async fn rate(store: &dyn BlockStore) -> f64 {
    let mut best: f64 = 0.0;
    for _ in 0..ROUNDS {
        let started = Instant::now();
        let mut served = 0u64;
        let mut start = 1;
        while start < BLOCKS {
            let numbers: Vec<u64> = (start..(start + REQUEST).min(BLOCKS)).collect();
            let read = store.by_numbers(&numbers, Parts::ALL).await.expect("read");
            assert!(read.iter().all(Option::is_some), "every block served");
            served += read.len() as u64;
            start += REQUEST;
        }
        best = best.max(served as f64 / started.elapsed().as_secs_f64());
    }
    best
}
