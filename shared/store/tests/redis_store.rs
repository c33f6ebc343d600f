//! The Redis store against a real `redis-server` on a free port: the same contract as the memory
//! store, plus surviving a Redis restart.

use alloy_primitives::{B256, U256};
use hypasis_chain::{Block, BlockBody, Header, SealedHeader};
use hypasis_store::{BlockStore, ChainHead, HeadUpdate, Parts, RedisStore, RedisStoreConfig, StoreError};
use hypasis_test_support::redis::RedisServer;
use std::time::Duration;

fn block(number: u64, salt: u8) -> Block {
    let body = BlockBody::default();
    let header = Header { number, extra_data: vec![salt].into(), transactions_root: body.transactions_root(), ..Default::default() };
    Block { header: SealedHeader::seal(header), body, receipts: Some(vec![]), total_difficulty: U256::from(number * 3 + 1) }
}

async fn store(server: &RedisServer) -> RedisStore {
    RedisStore::connect(RedisStoreConfig {
        url: server.url(),
        password: None,
        pool_size: 2,
        chain_id: 1337,
        command_timeout: Duration::from_secs(2),
    })
    .await
    .expect("connect")
}

#[tokio::test]
async fn range_reads_parts_reorgs_and_the_forward_only_head() {
    let server = RedisServer::start();
    let store = store(&server).await;
    store.insert((0..2100).map(|n| block(n, 0)).collect()).await.expect("insert");

    // A range spanning two 1,024-block buckets, in order, one answer per number.
    let got = store.by_range(1020, 8, 0, false, Parts::HEADER).await.expect("range");
    assert_eq!(got.iter().map(|b| b.as_ref().map(|b| b.header.number())).collect::<Vec<_>>(), (1020..1028).map(Some).collect::<Vec<_>>());
    let got = store.by_numbers(&[5, 99_999, 7], Parts::ALL).await.expect("numbers");
    assert!(got[1].is_none());
    let five = got[0].as_ref().expect("5");
    assert_eq!(five.total_difficulty, U256::from(16));
    assert!(five.body.is_some() && five.receipts.is_some());
    assert!(store.by_numbers(&[5], Parts::HEADER).await.expect("header")[0].as_ref().expect("5").body.is_none());
    assert_eq!(
        store.by_hashes(&[block(9, 0).hash(), B256::ZERO], Parts::BODY).await.expect("hashes")[0].as_ref().expect("9").header.number(),
        9
    );

    let range = store.range().await.expect("range").expect("some");
    assert_eq!((range.lowest, range.highest, range.count), (0, 2099, 2100));

    // Reorg at 7: the old hash no longer resolves.
    store.insert(vec![block(7, 1)]).await.expect("reorg");
    assert!(store.by_hashes(&[block(7, 0).hash()], Parts::HEADER).await.expect("old")[0].is_none());
    assert_eq!(store.by_numbers(&[7], Parts::HEADER).await.expect("new")[0].as_ref().expect("7").header.hash(), block(7, 1).hash());

    let head =
        |n: u64, td: u64| ChainHead { number: n, hash: B256::with_last_byte(n as u8), total_difficulty: U256::from(td), timestamp: n };
    assert_eq!(store.advance_head(head(10, 100)).await.expect("head"), HeadUpdate::Advanced);
    assert_eq!(store.advance_head(head(9, 1_000)).await.expect("head"), HeadUpdate::Stale(head(10, 100)));
    assert_eq!(store.advance_head(head(10, 99)).await.expect("head"), HeadUpdate::Stale(head(10, 100)));
    assert_eq!(store.advance_head(head(10, 1_000)).await.expect("head"), HeadUpdate::Advanced);
    assert_eq!(store.head().await.expect("head"), Some(head(10, 1_000)));
}

#[tokio::test]
async fn a_redis_restart_is_an_error_then_the_store_recovers_by_itself() {
    let mut server = RedisServer::start();
    let store = store(&server).await;
    store.insert(vec![block(1, 0)]).await.expect("insert");
    server.kill();
    let err = store.by_numbers(&[1], Parts::HEADER).await.expect_err("redis is down");
    assert!(matches!(err, StoreError::Unavailable(_)) && err.is_retryable(), "{err}");
    server.restart();
    // The client reconnects without help, and the data written before the kill is still there.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        match store.insert(vec![block(2, 0)]).await {
            Ok(()) => break,
            Err(e) => assert!(std::time::Instant::now() < deadline, "no reconnect: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let both = store.by_numbers(&[1, 2], Parts::HEADER).await.expect("read");
    assert!(both[0].is_some() && both[1].is_some());
}
