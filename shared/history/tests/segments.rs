//! Segments end to end on a local-directory bucket: sealing, reading by number and hash across
//! tiers after the inner store was trimmed, and corruption never served.

use hypasis_chain::{Block, rpc_json};
use hypasis_devnet::{Devnet, DevnetConfig};
use hypasis_history::{
    Bucket, HistoryStore, Sealer, SealerConfig, SegmentCache, Segments,
    format::{SegmentIndex, write_segment},
    manifest::segment_path,
};
use hypasis_store::{BlockStore, ChainHead, MemoryStore, MemoryStoreLimits, Parts};
use hypasis_syncer::Claims;
use hypasis_test_support::seaweedfs::SeaweedS3;
use std::{path::Path, sync::Arc, time::Duration};

const SPAN: u64 = 256;

fn devnet_chain(count: usize) -> Vec<Block> {
    let mut devnet = Devnet::new(DevnetConfig::default());
    let mut blocks = vec![devnet.tip().clone()];
    blocks.extend(devnet.next_blocks(count - 1));
    blocks
}

struct Setup {
    store: Arc<HistoryStore>,
    sealer: Sealer,
    bucket: Bucket,
    cache_dir: tempfile::TempDir,
}

fn local_bucket(dir: &Path) -> Bucket {
    Bucket::open(&url::Url::from_directory_path(dir).expect("absolute path")).expect("local bucket")
}

fn s3_bucket(server: &SeaweedS3, prefix: &str) -> Bucket {
    let url = url::Url::parse(&format!("s3://history/{prefix}")).expect("url");
    let options = server.s3_options();
    Bucket::open_with(&url, &options).expect("s3 bucket")
}

fn open_segments(bucket: Bucket, cache_dir: &Path) -> Arc<Segments> {
    let cache = Arc::new(SegmentCache::open(cache_dir, 1 << 30).expect("cache dir"));
    Arc::new(Segments::new(bucket, cache, 64))
}

async fn setup(bucket: Bucket, blocks: &[Block], hot_window: u64) -> Setup {
    let cache_dir = tempfile::tempdir().expect("tempdir");
    let inner = Arc::new(MemoryStore::new(MemoryStoreLimits::default()));
    inner.insert(blocks.to_vec()).await.expect("insert");
    inner.advance_head(ChainHead::of(blocks.last().expect("blocks"))).await.expect("head");
    let store = Arc::new(HistoryStore::new(inner, open_segments(bucket.clone(), cache_dir.path())));
    let config = SealerConfig { span: SPAN, hot_window, interval: Duration::from_millis(50), instance: "test-1".into() };
    let sealer = Sealer::new(store.clone(), Claims::memory(), config);
    Setup { store, sealer, bucket, cache_dir }
}

async fn assert_serves_all(store: &HistoryStore, blocks: &[Block]) {
    let numbers: Vec<u64> = blocks.iter().map(Block::number).collect();
    for chunk in numbers.chunks(300) {
        let read = store.by_numbers(chunk, Parts::ALL).await.expect("read");
        for (n, block) in chunk.iter().zip(read) {
            let block = block.unwrap_or_else(|| panic!("block {n} not served"));
            let original = &blocks[*n as usize];
            assert_eq!(block.header, original.header, "block {n}");
            assert_eq!(block.body.as_deref(), Some(&original.body), "block {n} body");
            assert_eq!(block.receipts.as_deref(), original.receipts.as_ref(), "block {n} receipts");
            assert_eq!(block.state_sync_receipt.as_deref(), original.state_sync_receipt.as_ref(), "block {n} state-sync receipt");
            assert_eq!(block.total_difficulty, original.total_difficulty, "block {n} td");
        }
    }
}

#[test]
fn a_real_mainnet_block_round_trips_through_a_segment() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../chain/testdata/polygon-mainnet/block-38102393.json");
    let data: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).expect("testdata")).expect("json");
    let block = rpc_json::block_from_rpc(&data["eth_getBlockByNumber"], &data["eth_getBlockReceipts"], None).expect("block");
    let file = write_segment(std::slice::from_ref(&block));
    let index = SegmentIndex::parse_file(&file).expect("index");
    assert_eq!((index.start, index.count(), index.hashes[0]), (38_102_393, 1, block.hash()));
    let range = index.entry_range(38_102_393).expect("entry");
    let read = index.decode_entry(38_102_393, &file[range.start as usize..range.end as usize]).expect("decode");
    assert_eq!(read, block);
    read.verify().expect("roots still match");
    // Compression pays: the entry is smaller than the block's and its receipts' RLP.
    let rlp_len = block.header.rlp_len()
        + alloy_rlp::Encodable::length(&block.body)
        + block.receipts.iter().flatten().map(alloy_rlp::Encodable::length).sum::<usize>();
    assert!(range.end - range.start < rlp_len as u64, "entry {} vs rlp {rlp_len}", range.end - range.start);
    println!("block 38,102,393: header+body+receipts RLP {rlp_len} bytes, segment entry {} bytes", range.end - range.start);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sealed_history_is_served_after_the_inner_store_is_trimmed_local_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    sealed_history_is_served_after_the_inner_store_is_trimmed(local_bucket(dir.path())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sealed_history_is_served_after_the_inner_store_is_trimmed_seaweedfs_s3() {
    let server = SeaweedS3::start(&["history"]);
    sealed_history_is_served_after_the_inner_store_is_trimmed(s3_bucket(&server, "mainnet/v1")).await;
}

async fn sealed_history_is_served_after_the_inner_store_is_trimmed(bucket: Bucket) {
    let blocks = devnet_chain(1_100);
    let setup = setup(bucket, &blocks, 200).await;
    // Nothing is sealed above the verified bound: 1,023 allows spans 0..=3 (blocks 0..=1023).
    let report = setup.sealer.pass(1_023).await.expect("pass");
    assert_eq!(report.sealed, 4);
    assert_eq!(setup.store.segments().metas().len(), 4);
    // A second pass seals nothing again.
    assert_eq!(setup.sealer.pass(1_023).await.expect("pass").sealed, 0);
    // Trimmed: sealed segments wholly below head − 200 = 899 (spans 0..=2), block 0 kept.
    let inner_held = setup.store.inner().held().await.expect("held");
    assert!(!inner_held.contains(1) && !inner_held.contains(767) && inner_held.contains(768) && inner_held.contains(0), "{inner_held:?}");
    // The held ranges still cover everything: backfill refetches nothing.
    let held = setup.store.held().await.expect("held");
    assert_eq!((held.lowest(), held.highest(), held.count()), (Some(0), Some(1_099), 1_100));
    // Every block, read cold (bucket, ranged reads) and again warm (local cache).
    assert_serves_all(&setup.store, &blocks).await;
    wait_cached(&setup.cache_dir, 4).await;
    assert_serves_all(&setup.store, &blocks).await;
    // By hash, across the tiers in one call.
    let hashes: Vec<_> = [5u64, 700, 1_050].iter().map(|&n| blocks[n as usize].hash()).collect();
    let read = setup.store.by_hashes(&hashes, Parts::BODY).await.expect("by hash");
    for (n, block) in [5u64, 700, 1_050].iter().zip(read) {
        assert_eq!(block.expect("found").header.number(), *n);
    }
    // A restarted instance (empty cache, fresh manifest view) serves the same from the bucket.
    let fresh_cache = tempfile::tempdir().expect("tempdir");
    let segments = open_segments(setup.bucket.clone(), fresh_cache.path());
    assert_eq!(segments.refresh().await.expect("manifest"), 4);
    let read = segments.read(&[0, 300, 1_023]).await;
    assert_eq!(read.iter().flatten().map(Block::number).collect::<Vec<_>>(), vec![0, 300, 1_023]);
    // One byte of block 300's entry corrupted in the bucket: a fresh instance does not serve it,
    // and serves its neighbours (each block is checked on its own).
    let path = segment_path(256);
    let mut bytes = setup.bucket.get(&path).await.expect("get").to_vec();
    let range = SegmentIndex::parse_file(&bytes).expect("index").entry_range(300).expect("entry");
    bytes[(range.start + 20) as usize] ^= 0x55;
    setup.bucket.put(&path, bytes.into()).await.expect("put");
    let fresh_cache = tempfile::tempdir().expect("tempdir");
    let segments = open_segments(setup.bucket.clone(), fresh_cache.path());
    segments.refresh().await.expect("manifest");
    let read = segments.read(&[299, 300, 301]).await;
    assert!(read[0].is_some() && read[1].is_none() && read[2].is_some(), "{:?}", read.iter().map(Option::is_some).collect::<Vec<_>>());
}

async fn wait_cached(dir: &tempfile::TempDir, segments: usize) {
    for _ in 0..200 {
        let files = std::fs::read_dir(dir.path())
            .expect("cache dir")
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "e2s"))
            .count();
        if files >= segments {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("segments never reached the local cache");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupted_segment_is_never_served() {
    let blocks = devnet_chain(600);
    let dir = tempfile::tempdir().expect("tempdir");
    let setup = setup(local_bucket(dir.path()), &blocks, 50).await;
    assert_eq!(setup.sealer.pass(511).await.expect("pass").sealed, 2);
    // Flip one byte inside block 300's entry in the bucket's copy of segment 256..=511.
    let path = dir.path().join(segment_path(256).as_ref());
    let mut bytes = std::fs::read(&path).expect("segment file");
    let index = SegmentIndex::parse_file(&bytes).expect("index");
    let range = index.entry_range(300).expect("entry");
    bytes[(range.start + 20) as usize] ^= 0x55;
    std::fs::write(&path, &bytes).expect("write");
    // Block 300 is not served (and neither are blocks in the same span read, which are checked
    // one by one: the others are).
    let read = setup.store.by_numbers(&[299, 300, 301], Parts::ALL).await.expect("read");
    assert!(read[1].is_none(), "a corrupted block was served");
    // The whole-file download fails its digest: nothing enters the local cache.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!setup.cache_dir.path().join("000000000256.e2s").exists());
    // The untouched segment serves, and is cached.
    assert_eq!(setup.store.by_numbers(&[10], Parts::ALL).await.expect("read")[0].as_ref().map(|b| b.header.number()), Some(10));
    // A corrupted index (digest in the manifest) serves nothing from that segment, on a fresh
    // instance.
    let tail = bytes.len() - 30;
    bytes[tail] ^= 0x01;
    std::fs::write(&path, &bytes).expect("write");
    let fresh_cache = tempfile::tempdir().expect("tempdir");
    let segments = open_segments(setup.bucket.clone(), fresh_cache.path());
    segments.refresh().await.expect("manifest");
    assert_eq!(segments.read(&[260, 400]).await, vec![None, None]);
    assert_eq!(segments.read(&[20]).await.into_iter().flatten().count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bucket_of_another_segment_size_is_not_sealed_into() {
    let blocks = devnet_chain(600);
    let dir = tempfile::tempdir().expect("tempdir");
    let first = setup(local_bucket(dir.path()), &blocks, 1_000).await;
    assert_eq!(first.sealer.pass(511).await.expect("pass").sealed, 2);
    // The same bucket with segments of 128 blocks: refused with the reason, nothing written.
    let second = setup(local_bucket(dir.path()), &blocks, 1_000).await;
    second.store.segments().refresh().await.expect("manifest");
    let other = Sealer::new(
        second.store.clone(),
        Claims::memory(),
        SealerConfig { span: 128, hot_window: 1_000, interval: Duration::from_millis(50), instance: "test-2".into() },
    );
    let error = other.pass(511).await.expect_err("refused").to_string();
    assert!(error.contains("segment of 256 blocks") && error.contains("--history-segment-blocks"), "{error}");
    assert_eq!(second.store.segments().metas().len(), 2);
    // What is sealed is still served.
    assert!(second.store.segments().read(&[3, 300]).await.iter().all(Option::is_some));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_span_that_does_not_link_is_not_sealed() {
    let blocks = devnet_chain(600);
    let dir = tempfile::tempdir().expect("tempdir");
    let setup = setup(local_bucket(dir.path()), &blocks, 1_000).await;
    // Block 300 replaced by another chain's block 300: the span 256..=511 no longer links.
    let mut other = Devnet::new(DevnetConfig { seed: 9, ..DevnetConfig::default() });
    let stranger = other.next_blocks(300).pop().expect("block 300");
    setup.store.inner().insert(vec![stranger]).await.expect("insert");
    let error = setup.sealer.pass(511).await.expect_err("refused").to_string();
    assert!(error.contains("not the child of block 299") || error.contains("does not follow block 299"), "{error}");
    // The span below was sealed before the failure; the broken one was not written.
    assert_eq!(setup.store.segments().metas().iter().map(|m| m.start).collect::<Vec<_>>(), vec![0]);
    assert!(!dir.path().join(segment_path(256).as_ref()).exists());
}
