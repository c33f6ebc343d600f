//! Checkpoint verification against the devnet's fake RootChain contract, read over real HTTP
//! JSON-RPC: an honest range verifies, a tampered block inside a checkpointed range is detected
//! and its range evicted, and the refilled range verifies.

use hypasis_chain::{Block, SealedHeader};
use hypasis_devnet::{Devnet, DevnetConfig};
use hypasis_fake_upstream::{DevnetRpc, DevnetRpcConfig, ROOTCHAIN_ADDRESS};
use hypasis_store::{BlockStore, MemoryStore, MemoryStoreLimits, Parts};
use hypasis_syncer::{CheckpointConfig, Checkpoints, HeadWriter, SyncContext, SyncProgress, checkpoints};
use hypasis_upstream::{BlockFetcher, PoolConfig, UpstreamPool};
use std::{sync::Arc, time::Duration};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_block_in_a_checkpointed_range_is_evicted_and_the_refill_verifies() {
    let devnet = DevnetConfig::default();
    let l1 =
        DevnetRpc::spawn(DevnetRpcConfig { devnet: devnet.clone(), prefill: 600, checkpoint_interval: 256, ..DevnetRpcConfig::default() })
            .await
            .expect("fake L1");
    let mut generator = Devnet::new(devnet);
    let mut blocks: Vec<Block> = vec![generator.tip().clone()];
    blocks.extend(generator.next_blocks(600));

    // Block 300 (inside checkpoint 2, blocks 257..=512) is not the real one: same number, a
    // different timestamp (its leaf changes, so the root does).
    let mut tampered = blocks[300].clone();
    let mut header = tampered.header.header().clone();
    header.timestamp += 1;
    tampered.header = SealedHeader::seal(header);
    let store = Arc::new(MemoryStore::new(MemoryStoreLimits::default()));
    let mut held = blocks.clone();
    held[300] = tampered;
    store.insert(held).await.expect("insert");

    let pool = Arc::new(UpstreamPool::new(&[l1.url().parse().expect("url")], PoolConfig::default()).expect("pool"));
    let head = HeadWriter::new(store.clone(), Arc::new(SyncProgress::new(1_000)), tokio::sync::watch::channel(None).0);
    let ctx = SyncContext::new(BlockFetcher::new(pool.clone(), None), head);
    let config = CheckpointConfig { rootchain: ROOTCHAIN_ADDRESS, poll: Duration::from_secs(1) };
    let list = Checkpoints::default();
    let mut next = 1;
    checkpoints::poll_l1(&pool, &config, &list, &mut next).await.expect("read L1");
    let latest = list.latest(10);
    assert_eq!(latest.iter().map(|c| (c.number, c.start, c.end)).collect::<Vec<_>>(), vec![(2, 257, 512), (1, 1, 256)]);

    checkpoints::verify_pending(&ctx, &list).await;
    let states: Vec<_> = list.latest(10).into_iter().map(|c| (c.number, c.state, c.evictions)).collect();
    assert_eq!(states, vec![(2, "pending", 1), (1, "verified", 0)]);
    assert_eq!(list.verified_through(), Some(256));
    // The whole checkpointed range around the bad block is gone, nothing else.
    let gaps = store.held().await.expect("held").gaps(0, 600);
    assert_eq!(gaps, vec![257..=512]);
    assert!(store.by_hashes(&[blocks[300].hash()], Parts::HEADER).await.expect("read")[0].is_none());

    // Backward sync would refill it from an honest upstream; then it verifies.
    store.insert(blocks[257..=512].to_vec()).await.expect("refill");
    checkpoints::verify_pending(&ctx, &list).await;
    assert_eq!(list.counts(), (2, 0, 1));
    assert_eq!(list.verified_through(), Some(512));
    l1.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heimdall_spans_milestones_and_seal_checks_against_the_fake_heimdall() {
    use hypasis_syncer::Validators;
    use hypasis_upstream::Heimdall;
    let devnet = DevnetConfig::default();
    let server =
        DevnetRpc::spawn(DevnetRpcConfig { devnet: devnet.clone(), prefill: 100, ..DevnetRpcConfig::default() }).await.expect("server");
    let mut generator = Devnet::new(devnet);
    let blocks = generator.next_blocks(100);
    let heimdall = Heimdall::new(&server.url().parse().expect("url"), Duration::from_secs(5)).expect("client");

    let milestone = heimdall.latest_milestone().await.expect("milestone").expect("one");
    assert_eq!((milestone.start, milestone.end, milestone.hash), (81, 96, blocks[95].hash()));
    assert!(heimdall.latest_checkpoint().await.expect("checkpoint").is_none(), "no checkpoint before block 272");

    let span = heimdall.latest_span().await.expect("span").expect("one");
    assert_eq!(span.producers, generator.validator_addresses());
    let validators = Validators::spans();
    validators.add_span(span);
    let signer = hypasis_chain::bor::recover_signer(blocks[49].header.header()).expect("seal");
    assert_eq!(validators.allows(50, &signer), Some(true));
    assert_eq!(validators.allows(50, &hypasis_chain::Address::repeat_byte(9)), Some(false));
    server.stop().await;
}
