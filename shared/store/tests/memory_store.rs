//! Behaviour of the in-memory store.

use alloy_primitives::{B256, U256};
use hypasis_chain::{Block, BlockBody, Header, SealedHeader};
use hypasis_store::{BlockStore, ChainHead, HeadUpdate, MemoryStore, MemoryStoreLimits, Parts};

fn block(number: u64, salt: u8) -> Block {
    let body = BlockBody::default();
    let header = Header { number, extra_data: vec![salt].into(), transactions_root: body.transactions_root(), ..Default::default() };
    Block {
        header: SealedHeader::seal(header),
        body,
        receipts: Some(vec![]),
        total_difficulty: U256::from(number),
        state_sync_receipt: None,
    }
}

fn head(number: u64, td: u64) -> ChainHead {
    ChainHead { number, hash: B256::with_last_byte(number as u8), total_difficulty: U256::from(td), timestamp: 0 }
}

#[tokio::test]
async fn range_reads_return_one_answer_per_key_in_order() {
    let store = MemoryStore::new(MemoryStoreLimits::default());
    store.insert((0..10).map(|n| block(n, 0)).collect()).await.unwrap();
    let got = store.by_range(8, 4, 1, true, Parts::HEADER).await.unwrap();
    let numbers: Vec<_> = got.iter().map(|b| b.as_ref().map(|b| b.header.number())).collect();
    assert_eq!(numbers, vec![Some(8), Some(6), Some(4), Some(2)]);
    let got = store.by_numbers(&[3, 42, 9], Parts::ALL).await.unwrap();
    assert!(got[0].as_ref().unwrap().body.is_some() && got[1].is_none() && got[2].is_some());
    assert!(got[0].as_ref().unwrap().receipts.is_some());
    let header_only = store.by_numbers(&[3], Parts::HEADER).await.unwrap();
    assert!(header_only[0].as_ref().unwrap().body.is_none());
    let hash = block(5, 0).hash();
    let by_hash = store.by_hashes(&[hash, B256::ZERO], Parts::BODY).await.unwrap();
    assert_eq!(by_hash[0].as_ref().unwrap().header.number(), 5);
    assert!(by_hash[1].is_none());
}

#[tokio::test]
async fn eviction_drops_the_oldest_but_keeps_genesis() {
    let store = MemoryStore::new(MemoryStoreLimits { max_blocks: 5, max_bytes: usize::MAX });
    store.insert((0..20).map(|n| block(n, 0)).collect()).await.unwrap();
    let range = store.range().await.unwrap().unwrap();
    assert_eq!((range.lowest, range.highest, range.count), (0, 19, 5));
    let got = store.by_numbers(&[0, 15, 16], Parts::HEADER).await.unwrap();
    assert!(got[0].is_some() && got[1].is_none() && got[2].is_some());
    let evicted_hash = block(3, 0).hash();
    assert!(store.by_hashes(&[evicted_hash], Parts::HEADER).await.unwrap()[0].is_none());
}

#[tokio::test]
async fn byte_budget_is_enforced() {
    let one = {
        use alloy_rlp::Encodable;
        let b = block(1, 0);
        b.header.rlp_len() + b.body.length()
    };
    let store = MemoryStore::new(MemoryStoreLimits { max_blocks: usize::MAX, max_bytes: one * 3 + one / 2 });
    store.insert((1..10).map(|n| block(n, 0)).collect()).await.unwrap();
    assert_eq!(store.range().await.unwrap().unwrap().count, 3);
}

#[tokio::test]
async fn a_reorg_replaces_the_block_and_its_hash() {
    let store = MemoryStore::new(MemoryStoreLimits::default());
    store.insert(vec![block(7, 0)]).await.unwrap();
    store.insert(vec![block(7, 1)]).await.unwrap();
    let old = store.by_hashes(&[block(7, 0).hash()], Parts::HEADER).await.unwrap();
    assert!(old[0].is_none());
    let new = store.by_numbers(&[7], Parts::HEADER).await.unwrap();
    assert_eq!(new[0].as_ref().unwrap().header.hash(), block(7, 1).hash());
}

#[tokio::test]
async fn the_head_never_goes_backwards() {
    let store = MemoryStore::new(MemoryStoreLimits::default());
    assert_eq!(store.advance_head(head(10, 10)).await.unwrap(), HeadUpdate::Advanced);
    assert_eq!(store.advance_head(head(9, 99)).await.unwrap(), HeadUpdate::Stale(head(10, 10)));
    assert_eq!(store.advance_head(head(10, 10)).await.unwrap(), HeadUpdate::Stale(head(10, 10)));
    assert_eq!(store.advance_head(head(10, 11)).await.unwrap(), HeadUpdate::Advanced);
    assert_eq!(store.head().await.unwrap(), Some(head(10, 11)));
}
