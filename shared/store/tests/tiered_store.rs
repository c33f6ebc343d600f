//! The hot tier keeps serving the tip while Redis is down, and nothing written meanwhile is lost.

use alloy_primitives::U256;
use hypasis_chain::{Block, BlockBody, Header, SealedHeader};
use hypasis_store::{BlockStore, ChainHead, HeadUpdate, MemoryStore, MemoryStoreLimits, Parts, RedisStore, RedisStoreConfig, TieredStore};
use hypasis_test_support::redis::RedisServer;
use std::{sync::Arc, time::Duration};

fn chain(n: u64) -> Vec<Block> {
    let mut parent = None;
    (0..n)
        .map(|number| {
            let body = BlockBody::default();
            let header = Header {
                number,
                parent_hash: parent.unwrap_or_default(),
                transactions_root: body.transactions_root(),
                ..Default::default()
            };
            let header = SealedHeader::seal(header);
            parent = Some(header.hash());
            Block { header, body, receipts: Some(vec![]), total_difficulty: U256::from(number), state_sync_receipt: None }
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_for_a_while_then_back() {
    let mut server = RedisServer::start();
    let config = RedisStoreConfig {
        target: hypasis_store::RedisTarget::new(server.url()),
        pool_size: 2,
        chain_id: 7,
        command_timeout: Duration::from_millis(300),
    };
    let cold = Arc::new(RedisStore::connect(config).await.expect("connect"));
    let store = TieredStore::new(MemoryStore::new(MemoryStoreLimits { max_blocks: 64, max_bytes: usize::MAX }), cold.clone(), 1_000);
    let blocks = chain(120);
    store.insert(blocks[..100].to_vec()).await.expect("insert");
    assert_eq!(store.advance_head_fenced(ChainHead::of(&blocks[99]), 0).await.expect("head"), HeadUpdate::Advanced);

    server.kill();
    // The tip is still served, from memory; old history is simply missing, not an error.
    let tip = store.by_range(90, 10, 0, false, Parts::ALL).await.expect("tip");
    assert!(tip.iter().all(Option::is_some));
    let old = store.by_numbers(&[3], Parts::HEADER).await.expect("old");
    assert!(old[0].is_none());
    assert_eq!(store.head().await.expect("head").map(|h| h.number), Some(99));
    // Writes while down are kept.
    store.insert(blocks[100..120].to_vec()).await.expect("buffered");
    assert_eq!(store.backlog_len(), 20);
    assert!(store.by_numbers(&[119], Parts::BODY).await.expect("new tip")[0].is_some());

    tokio::time::sleep(Duration::from_secs(2)).await;
    server.restart();
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while store.flush().await.is_err() {
        assert!(std::time::Instant::now() < deadline, "backlog never flushed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(store.backlog_len(), 0);
    let range = cold.range().await.expect("range").expect("some");
    assert_eq!((range.lowest, range.highest, range.count), (0, 119, 120), "no block lost or duplicated");
    // And old history is readable through the tier again (read-through from Redis).
    assert!(store.by_numbers(&[3], Parts::HEADER).await.expect("old")[0].is_some());
}
