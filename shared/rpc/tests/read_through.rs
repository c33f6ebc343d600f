//! Read-through against the devnet served over real JSON-RPC (Bor's limits): a 100-way
//! concurrent miss of one block makes one upstream fetch; a lying upstream's block is never
//! answered, and the liar is banned; a miss too far below the cached chain is refused with a
//! reason; two instances on one Redis share one fetch.

mod support;

use hypasis_chain::Block;
use hypasis_devnet::{Devnet, DevnetConfig};
use hypasis_fake_upstream::{DevnetRpc, DevnetRpcConfig, Lie};
use hypasis_store::{BlockStore, ChainHead, MemoryStore, MemoryStoreLimits};
use hypasis_syncer::{Claims, HeadWriter, ReadThrough, ReadThroughConfig, SyncContext, SyncProgress};
use hypasis_upstream::{BlockFetcher, PoolConfig, UpstreamPool};
use serde_json::{Value, json};
use std::sync::Arc;
use support::{Edge, FixedView};

const CHAIN: u64 = 300;
/// The cache holds `CACHED_FROM..=CHAIN`, as forward sync leaves it before backfill.
const CACHED_FROM: u64 = 200;

struct Setup {
    truth: Vec<Block>,
    store: Arc<dyn BlockStore>,
    pool: Arc<UpstreamPool>,
    edge: Edge,
    server: DevnetRpc,
}

async fn setup(lie: Lie, config: ReadThroughConfig) -> Setup {
    let mut devnet = Devnet::new(DevnetConfig::default());
    let mut truth = vec![devnet.tip().clone()];
    truth.extend(devnet.next_blocks(CHAIN as usize));
    let server = DevnetRpc::spawn(DevnetRpcConfig { prefill: CHAIN, lie, lie_from: 100, ..DevnetRpcConfig::default() }).await.expect("rpc");
    let store: Arc<dyn BlockStore> = Arc::new(MemoryStore::new(MemoryStoreLimits::default()));
    store.insert(truth[CACHED_FROM as usize..].to_vec()).await.expect("insert");
    store.advance_head(ChainHead::of(&truth[CHAIN as usize])).await.expect("head");
    let pool = Arc::new(UpstreamPool::new(&[server.url().parse().expect("url")], PoolConfig::default()).expect("pool"));
    let spec = devnet.spec().clone();
    let head = HeadWriter::new(store.clone(), Arc::new(SyncProgress::new(CHAIN)), tokio::sync::watch::channel(None).0);
    let ctx = SyncContext::new(BlockFetcher::new(pool.clone(), spec.bor.clone()), head);
    let read_through = Arc::new(ReadThrough::new(ctx, Claims::memory(), config));
    let edge = Edge::start(spec, store.clone(), Some(read_through), FixedView::default()).await;
    Setup { truth, store, pool, edge, server }
}

#[tokio::test]
async fn a_hundred_concurrent_misses_of_one_block_make_one_upstream_fetch() {
    let s = setup(Lie::None, ReadThroughConfig::default()).await;
    let wanted = 150u64;
    let calls = (0..100).map(|i| {
        let (client, url) = (s.edge.client.clone(), s.edge.url.clone());
        async move {
            let body = json!({"jsonrpc": "2.0", "id": i, "method": "eth_getBlockByNumber", "params": [format!("{wanted:#x}"), i % 2 == 0]});
            let answer: Value = client.post(url).json(&body).send().await.expect("send").json().await.expect("json");
            answer
        }
    });
    let answers = futures::future::join_all(calls).await;
    for answer in &answers {
        assert_eq!(answer["result"]["hash"], json!(s.truth[wanted as usize].hash()), "{answer}");
    }
    // One fetch: the block's raw body and its raw receipts, asked once each.
    assert_eq!(s.server.block_fetches(wanted), 2, "one upstream fetch for 100 concurrent misses");
    assert_eq!(s.server.calls("debug_getRawBlock"), CACHED_FROM - wanted, "each block of the run asked for once");
    // The run between the miss and the cached chain was verified and stored with it.
    let held = s.store.held().await.expect("held");
    assert!((wanted..CACHED_FROM).all(|n| held.contains(n)), "{held:?}");
    assert!(!held.contains(wanted - 1));
    let before = s.server.total_calls();
    s.edge.call("eth_getBlockReceipts", json!([format!("{:#x}", wanted + 1)])).await;
    assert_eq!(s.server.total_calls(), before, "a block of the run is now a cache hit");
}

#[tokio::test]
async fn a_lying_upstreams_blocks_are_never_answered() {
    for lie in [Lie::WrongParent, Lie::WrongTx, Lie::ReorderedReceipts] {
        let s = setup(lie, ReadThroughConfig::default()).await;
        let answer = s.edge.answer("eth_getBlockByNumber", json!(["0x96", true])).await;
        assert_eq!(answer["error"]["code"], json!(-32000), "{lie}: {answer}");
        let message = answer["error"]["message"].as_str().expect("message");
        assert!(message.contains("did not verify"), "{lie}: {message}");
        assert!(s.pool.endpoints()[0].is_banned(), "{lie}: the liar is banned");
        assert!(!s.store.held().await.expect("held").contains(150), "{lie}: nothing unverified stored");
        let again = s.edge.answer("eth_getBlockByNumber", json!(["0x96", false])).await;
        assert!(again.get("result").is_none() || again["result"].is_null(), "{lie}: still not answered: {again}");
        // Cached blocks are still served.
        assert_eq!(s.edge.call("eth_getBlockByNumber", json!(["0xc8", false])).await["hash"], json!(s.truth[200].hash()));
    }
}

#[tokio::test]
async fn a_miss_too_far_below_the_cache_is_refused_with_the_reason() {
    let s = setup(Lie::None, ReadThroughConfig { max_blocks: 10, ..ReadThroughConfig::default() }).await;
    let answer = s.edge.answer("eth_getBlockByNumber", json!(["0x96", false])).await;
    assert_eq!(answer["error"]["code"], json!(-32000));
    let message = answer["error"]["message"].as_str().expect("message");
    assert!(message.contains("50 blocks below") && message.contains("at most 10"), "{message}");
    assert_eq!(s.server.block_fetches(150), 0);
    // Within the limit: fetched.
    assert_eq!(s.edge.call("eth_getBlockByNumber", json!(["0xc0", false])).await["hash"], json!(s.truth[192].hash()));
    // Beyond the head: null, nothing fetched.
    assert_eq!(s.edge.call("eth_getBlockByNumber", json!([format!("{:#x}", CHAIN + 1), false])).await, Value::Null);
}

/// Two instances (each its own edge and read-through) on one real `redis-server`: 50 concurrent
/// misses of one block on each make one upstream fetch for the cluster: the instance that loses
/// the claim waits for the other's blocks to appear in the shared store.
#[tokio::test]
async fn concurrent_misses_on_two_instances_make_one_fetch_for_the_cluster() {
    use hypasis_store::{RedisStore, RedisStoreConfig, RedisTarget};
    let redis = hypasis_test_support::redis::RedisServer::start();
    let mut devnet = Devnet::new(DevnetConfig::default());
    let mut truth = vec![devnet.tip().clone()];
    truth.extend(devnet.next_blocks(CHAIN as usize));
    let server = DevnetRpc::spawn(DevnetRpcConfig { prefill: CHAIN, ..DevnetRpcConfig::default() }).await.expect("rpc");
    let spec = devnet.spec().clone();
    let mut edges = Vec::new();
    for instance in ["a", "b"] {
        let config = RedisStoreConfig {
            target: RedisTarget::new(redis.url()),
            pool_size: 2,
            chain_id: spec.chain_id,
            command_timeout: std::time::Duration::from_secs(2),
        };
        let store: Arc<dyn BlockStore> = Arc::new(RedisStore::connect(config).await.expect("redis store"));
        if instance == "a" {
            store.insert(truth[CACHED_FROM as usize..].to_vec()).await.expect("insert");
            store.advance_head(ChainHead::of(&truth[CHAIN as usize])).await.expect("head");
        }
        let pool = Arc::new(UpstreamPool::new(&[server.url().parse().expect("url")], PoolConfig::default()).expect("pool"));
        let head = HeadWriter::new(store.clone(), Arc::new(SyncProgress::new(CHAIN)), tokio::sync::watch::channel(None).0);
        let ctx = SyncContext::new(BlockFetcher::new(pool, spec.bor.clone()), head);
        let client = hypasis_cluster::connect(&RedisTarget::new(redis.url())).await.expect("claims client");
        let claims = Claims::Redis { client, chain_id: spec.chain_id, owner: instance.to_owned() };
        let read_through = Arc::new(ReadThrough::new(ctx, claims, ReadThroughConfig::default()));
        edges.push(Edge::start(spec.clone(), store, Some(read_through), FixedView::default()).await);
    }
    let wanted = 120u64;
    let calls = (0..100).map(|i| {
        let edge = &edges[i % 2];
        let (client, url) = (edge.client.clone(), edge.url.clone());
        async move {
            let body = json!({"jsonrpc": "2.0", "id": i, "method": "eth_getBlockByNumber", "params": [format!("{wanted:#x}"), false]});
            let answer: Value = client.post(url).json(&body).send().await.expect("send").json().await.expect("json");
            answer
        }
    });
    for answer in futures::future::join_all(calls).await {
        assert_eq!(answer["result"]["hash"], json!(truth[wanted as usize].hash()), "{answer}");
    }
    assert_eq!(server.calls("debug_getRawBlock"), CACHED_FROM - wanted, "each block of the run fetched once, by one instance");
}
