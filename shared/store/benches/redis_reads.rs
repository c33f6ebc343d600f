//! Store reads from Redis against Redis's own limit, in one run:
//!
//! ```sh
//! cargo bench -p hypasis-store --bench redis_reads            # 16 clients, 5 s each side
//! cargo bench -p hypasis-store --bench redis_reads -- 32 10   # clients, seconds
//! ```
//!
//! Starts a real `redis-server` on a free port, stores 1,024 devnet blocks with `RedisStore`, then
//! (1) `clients` tasks read the range of 192 headers a GetBlockHeaders asks for through
//! `RedisStore::by_numbers` (one MGET in one round trip, headers decoded and hashed) for `seconds`,
//! and (2) `redis-benchmark` with as many clients sends `MGET` of the same 192 header keys, Redis's
//! fastest way to fetch them, with nothing decoded. The ratio of the two is what our store read
//! gets of what Redis can hand out. Both share the machine's cores with redis-server.

use hypasis_devnet::{Devnet, DevnetConfig};
use hypasis_store::{BlockStore, Parts, RedisStore, RedisStoreConfig, RedisTarget};
use hypasis_test_support::redis::RedisServer;
use std::{
    process::Command,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

const BLOCKS: u64 = 1024;
const RANGE: u64 = 192;
const CHAIN_ID: u64 = 1337;

fn main() {
    let args: Vec<u64> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let clients = args.first().copied().unwrap_or(16).max(1);
    let seconds = args.get(1).copied().unwrap_or(5).max(1);
    let redis = RedisServer::start();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let ours = runtime.block_on(store_reads(&redis, clients, Duration::from_secs(seconds)));
    let limit = redis_benchmark(&redis, clients, seconds);
    println!("clients {clients}, {seconds} s each, ranges of {RANGE} headers (devnet, ~600 bytes each)");
    println!("RedisStore::by_numbers (MGET per hash tag, decoded):{ours:>9.0} ranges/s = {:>10.0} headers/s", ours * RANGE as f64);
    println!("redis-benchmark MGET of the same keys:             {limit:>9.0} ranges/s = {:>10.0} headers/s", limit * RANGE as f64);
    println!("ratio store / redis-benchmark: {:.2}", ours / limit);
}

async fn store_reads(redis: &RedisServer, clients: u64, run: Duration) -> f64 {
    let store = RedisStore::connect(RedisStoreConfig {
        target: RedisTarget::new(redis.url()),
        pool_size: 4,
        chain_id: CHAIN_ID,
        command_timeout: Duration::from_secs(5),
    })
    .await
    .expect("connect to redis-server");
    let mut devnet = Devnet::new(DevnetConfig::default());
    let blocks: Vec<_> = (0..BLOCKS).map(|_| devnet.next_block()).collect();
    store.insert(blocks).await.expect("insert");
    let numbers: Arc<Vec<u64>> = Arc::new((1..=RANGE).collect());
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let (store, numbers, done) = (store.clone(), numbers.clone(), done.clone());
            tokio::spawn(async move {
                while started.elapsed() < run {
                    let read = store.by_numbers(&numbers, Parts::HEADER).await.expect("read");
                    assert!(read.iter().all(Option::is_some), "every header is stored");
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("reader");
    }
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

/// `redis-benchmark`'s requests per second for MGET of the header keys of blocks 1..=192, run for
/// about `seconds` (the request count is sized from a short first run).
fn redis_benchmark(redis: &RedisServer, clients: u64, seconds: u64) -> f64 {
    // The store's key layout (`hs:v1:{c<chain>:<bucket>}:h:<number>`, see `redis/keys.rs`).
    let keys: Vec<String> = (1..=RANGE).map(|n| format!("hs:v1:{{c{CHAIN_ID}:{}}}:h:{n}", n / 1024)).collect();
    let run = |requests: u64| -> f64 {
        let out = Command::new("redis-benchmark")
            .args(["-p", &redis.port().to_string(), "-c", &clients.to_string(), "-n", &requests.to_string(), "--csv", "MGET"])
            .args(&keys)
            .output()
            .expect("run redis-benchmark (Debian package redis-tools)");
        let text = String::from_utf8_lossy(&out.stdout);
        // CSV: a header line, then "MGET ...","<requests per second>",...
        let line = text.lines().nth(1).unwrap_or_else(|| panic!("redis-benchmark printed: {text}"));
        line.split(',').nth(1).and_then(|v| v.trim_matches('"').parse().ok()).unwrap_or_else(|| panic!("redis-benchmark line: {line}"))
    };
    let probe = run(2_000);
    run(((probe * seconds as f64) as u64).max(2_000))
}
