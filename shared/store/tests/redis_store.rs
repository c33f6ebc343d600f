//! The Redis store against a real `redis-server` on a free port and against a real three-master
//! Redis Cluster: the same contract as the memory store, the gap tracker under concurrent
//! writers, and surviving a Redis restart.

use alloy_primitives::{B256, U256};
use hypasis_chain::{Block, BlockBody, Header, SealedHeader};
use hypasis_store::{BlockStore, ChainHead, HeadUpdate, Parts, RedisStore, RedisStoreConfig, RedisTarget, StoreError};
use hypasis_test_support::AnyRedis;
use std::time::Duration;

fn block(number: u64, salt: u8) -> Block {
    let body = BlockBody::default();
    let header = Header { number, extra_data: vec![salt].into(), transactions_root: body.transactions_root(), ..Default::default() };
    Block {
        header: SealedHeader::seal(header),
        body,
        receipts: Some(vec![]),
        total_difficulty: U256::from(number * 3 + 1),
        state_sync_receipt: None,
    }
}

async fn store(server: &AnyRedis) -> RedisStore {
    RedisStore::connect(RedisStoreConfig {
        target: RedisTarget::new(server.url()),
        pool_size: 2,
        chain_id: 1337,
        command_timeout: Duration::from_secs(2),
    })
    .await
    .expect("connect")
}

#[tokio::test]
async fn range_reads_parts_reorgs_and_the_forward_only_head() {
    reads_reorgs_and_head(AnyRedis::single()).await;
}

#[tokio::test]
async fn range_reads_parts_reorgs_and_the_forward_only_head_on_a_cluster() {
    reads_reorgs_and_head(AnyRedis::cluster()).await;
}

async fn reads_reorgs_and_head(server: AnyRedis) {
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

    // A state-sync receipt is stored beside the consensus receipts and read back with them.
    let mut sprint_end = block(2_200, 0);
    sprint_end.state_sync_receipt = Some(hypasis_chain::receipt::state_sync_receipt(vec![]));
    store.insert(vec![sprint_end.clone()]).await.expect("insert");
    let read = store.by_numbers(&[2_200, 5], Parts::RECEIPTS).await.expect("read");
    assert_eq!(read[0].as_ref().and_then(|b| b.state_sync_receipt.as_deref()), sprint_end.state_sync_receipt.as_ref());
    assert!(read[1].as_ref().expect("5").state_sync_receipt.is_none());
    store.remove_range(2_200, 2_200).await.expect("remove");

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
    restart_recovery(AnyRedis::single()).await;
}

#[tokio::test]
async fn a_cluster_restart_is_an_error_then_the_store_recovers_by_itself() {
    restart_recovery(AnyRedis::cluster()).await;
}

async fn restart_recovery(mut server: AnyRedis) {
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

#[tokio::test]
async fn concurrent_writers_never_lose_a_range() {
    concurrent_ranges(AnyRedis::single()).await;
}

#[tokio::test]
async fn concurrent_writers_never_lose_a_range_on_a_cluster() {
    concurrent_ranges(AnyRedis::cluster()).await;
}

/// Eight writers (separate connections, like eight instances) insert interleaved batches of
/// 0..4000 in scrambled order; the tracker ends with exactly one range and every block, then an
/// evicted range leaves exactly the gap it should.
async fn concurrent_ranges(server: AnyRedis) {
    const WRITERS: u64 = 8;
    const BATCH: u64 = 25;
    const TOTAL: u64 = 4_000;
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let store = store(&server).await;
        tasks.push(tokio::spawn(async move {
            // Writer w takes batches w, w + 8, ... walking down from the top.
            let mut starts: Vec<u64> = (0..TOTAL / BATCH).filter(|b| b % WRITERS == w).map(|b| b * BATCH).collect();
            starts.reverse();
            for start in starts {
                store.insert((start..start + BATCH).map(|n| block(n, 0)).collect()).await.expect("insert");
            }
        }));
    }
    for task in tasks {
        task.await.expect("writer");
    }
    let store = store(&server).await;
    let held = store.held().await.expect("held");
    assert_eq!(held.iter().collect::<Vec<_>>(), vec![0..=TOTAL - 1]);
    assert!(held.gaps(0, TOTAL - 1).is_empty());

    store.remove_range(1000, 1099).await.expect("evict");
    let held = store.held().await.expect("held");
    assert_eq!(held.iter().collect::<Vec<_>>(), vec![0..=999, 1100..=TOTAL - 1]);
    assert_eq!(held.gaps(0, TOTAL + 9), vec![TOTAL..=TOTAL + 9, 1000..=1099]);
    let evicted = store.by_numbers(&[999, 1000, 1099, 1100], Parts::HEADER).await.expect("read");
    assert_eq!(evicted.iter().map(Option::is_some).collect::<Vec<_>>(), vec![true, false, false, true]);
    assert!(store.by_hashes(&[block(1050, 0).hash()], Parts::HEADER).await.expect("hash")[0].is_none());
    // Refilling the hole merges back into one range.
    store.insert((1000..1100).map(|n| block(n, 0)).collect()).await.expect("refill");
    assert_eq!(store.held().await.expect("held").iter().collect::<Vec<_>>(), vec![0..=TOTAL - 1]);
}

#[tokio::test]
async fn auth_is_required_and_used() {
    let server = hypasis_test_support::redis::RedisServer::start_with(vec!["--requirepass".into(), "s3cret".into()]);
    let config = |password: Option<&str>| RedisStoreConfig {
        target: RedisTarget { password: password.map(String::from), ..RedisTarget::new(server.url()) },
        pool_size: 1,
        chain_id: 1,
        command_timeout: Duration::from_secs(2),
    };
    let err = RedisStore::connect(config(Some("wrong"))).await.expect_err("wrong password");
    assert!(err.to_string().to_lowercase().contains("pass") || err.to_string().contains("auth"), "{err}");
    let store = RedisStore::connect(config(Some("s3cret"))).await.expect("right password");
    store.insert(vec![block(1, 0)]).await.expect("insert");
    assert!(store.ping().await);
}

#[tokio::test]
async fn tls_with_our_own_ca() {
    let dir = tempfile::tempdir().expect("tempdir");
    let certs = hypasis_test_support::tls::make_certs(dir.path());
    let tls_port = hypasis_test_support::free_port();
    let path = |p: &std::path::Path| p.to_str().expect("utf-8").to_owned();
    // The store connects to the TLS port only.
    let server = hypasis_test_support::redis::RedisServer::start_with(vec![
        "--tls-port".into(),
        tls_port.to_string(),
        "--tls-cert-file".into(),
        path(&certs.cert),
        "--tls-key-file".into(),
        path(&certs.key),
        "--tls-ca-cert-file".into(),
        path(&certs.ca),
        "--tls-auth-clients".into(),
        "no".into(),
    ]);
    let target =
        |ca: Option<std::path::PathBuf>| RedisTarget { url: format!("rediss://localhost:{tls_port}"), password: None, tls_ca_file: ca };
    let connect = |target: RedisTarget| {
        RedisStore::connect(RedisStoreConfig { target, pool_size: 1, chain_id: 1, command_timeout: Duration::from_secs(2) })
    };
    let store = connect(target(Some(certs.ca.clone()))).await.expect("TLS with our CA");
    store.insert(vec![block(3, 0)]).await.expect("insert over TLS");
    assert!(store.by_numbers(&[3], Parts::HEADER).await.expect("read")[0].is_some());
    // The system store does not know our CA: the handshake must fail, not fall back to plain text.
    assert!(tokio::time::timeout(Duration::from_secs(10), connect(target(None))).await.map_or(true, |r| r.is_err()));
    // A CA file that is not PEM is a clear error.
    let bad = dir.path().join("bad.pem");
    std::fs::write(&bad, "not a certificate").expect("write");
    let err = connect(target(Some(bad))).await.expect_err("bad CA file");
    assert!(err.to_string().contains("certificate"), "{err}");
    drop(server);
}
