//! The bounded in-memory store.
//!
//! Eviction: when either limit is exceeded the lowest-numbered blocks go first (never block 0,
//! which every peer handshake names). A sync node's hot data is the tip and the newest history,
//! so the oldest block is the one least likely to be asked for again.

use crate::{BlockStore, ChainHead, HeadUpdate, Parts, RangeSet, StoreError, StoredBlock, StoredRange, metrics::StoreMetrics};
use alloy_primitives::{B256, U256, map::HashMap};
use alloy_rlp::Encodable;
use hypasis_chain::{Block, BlockBody, Receipt, SealedHeader};
use parking_lot::RwLock;
use std::{collections::BTreeMap, sync::Arc};

/// Limits of a [`MemoryStore`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryStoreLimits {
    /// Most blocks held (default 100,000).
    pub max_blocks: usize,
    /// Most bytes held, counted as the RLP size of header, body and receipts (default 2 GiB).
    pub max_bytes: usize,
}

impl Default for MemoryStoreLimits {
    fn default() -> Self {
        Self { max_blocks: 100_000, max_bytes: 2 << 30 }
    }
}

#[derive(Debug)]
struct Entry {
    header: SealedHeader,
    total_difficulty: U256,
    body: Arc<BlockBody>,
    receipts: Option<Arc<Vec<Receipt>>>,
    state_sync_receipt: Option<Arc<Receipt>>,
    size: usize,
}

impl Entry {
    fn new(block: Block) -> Self {
        let size = block.header.rlp_len() + block.body.length() + block.receipts.iter().flatten().map(Encodable::length).sum::<usize>();
        Self {
            header: block.header,
            total_difficulty: block.total_difficulty,
            body: Arc::new(block.body),
            receipts: block.receipts.map(Arc::new),
            state_sync_receipt: block.state_sync_receipt.map(Arc::new),
            size,
        }
    }

    fn read(&self, parts: Parts) -> StoredBlock {
        StoredBlock {
            header: self.header.clone(),
            total_difficulty: self.total_difficulty,
            body: parts.body.then(|| self.body.clone()),
            receipts: if parts.receipts { self.receipts.clone() } else { None },
            state_sync_receipt: if parts.receipts { self.state_sync_receipt.clone() } else { None },
        }
    }
}

#[derive(Debug, Default)]
struct Inner {
    by_number: BTreeMap<u64, Entry>,
    by_hash: HashMap<B256, u64>,
    bytes: usize,
    head: Option<ChainHead>,
    held: RangeSet,
}

impl Inner {
    fn remove(&mut self, number: u64) -> Option<Entry> {
        let entry = self.by_number.remove(&number)?;
        self.by_hash.remove(&entry.header.hash());
        self.held.remove(number, number);
        self.bytes -= entry.size;
        Some(entry)
    }
}

/// A bounded in-process block store.
#[derive(Debug)]
pub struct MemoryStore {
    inner: RwLock<Inner>,
    limits: MemoryStoreLimits,
    metrics: StoreMetrics,
}

impl MemoryStore {
    /// An empty store with the given limits.
    pub fn new(limits: MemoryStoreLimits) -> Self {
        Self { inner: RwLock::default(), limits, metrics: StoreMetrics::new("memory") }
    }

    /// The limits in force.
    pub fn limits(&self) -> MemoryStoreLimits {
        self.limits
    }

    fn evict(&self, inner: &mut Inner) {
        while inner.by_number.len() > self.limits.max_blocks || inner.bytes > self.limits.max_bytes {
            let Some(victim) = inner.by_number.keys().copied().find(|n| *n != 0) else { break };
            inner.remove(victim);
            self.metrics.evictions.increment(1);
        }
    }

    fn read(&self, numbers: impl Iterator<Item = Option<u64>>, parts: Parts) -> Vec<Option<StoredBlock>> {
        let inner = self.inner.read();
        let out: Vec<_> = numbers.map(|n| n.and_then(|n| inner.by_number.get(&n)).map(|e| e.read(parts))).collect();
        let hits = out.iter().filter(|b| b.is_some()).count();
        self.metrics.hits.increment(hits as u64);
        self.metrics.misses.increment((out.len() - hits) as u64);
        out
    }
}

#[async_trait::async_trait]
impl BlockStore for MemoryStore {
    async fn insert(&self, blocks: Vec<Block>) -> Result<(), StoreError> {
        let mut inner = self.inner.write();
        for block in blocks {
            let entry = Entry::new(block);
            let number = entry.header.number();
            inner.remove(number);
            inner.by_hash.insert(entry.header.hash(), number);
            inner.bytes += entry.size;
            inner.by_number.insert(number, entry);
            inner.held.insert(number, number);
        }
        self.evict(&mut inner);
        self.metrics.blocks.set(inner.by_number.len() as f64);
        self.metrics.bytes.set(inner.bytes as f64);
        Ok(())
    }

    async fn by_numbers(&self, numbers: &[u64], parts: Parts) -> Result<Vec<Option<StoredBlock>>, StoreError> {
        Ok(self.read(numbers.iter().map(|n| Some(*n)), parts))
    }

    async fn by_hashes(&self, hashes: &[B256], parts: Parts) -> Result<Vec<Option<StoredBlock>>, StoreError> {
        let numbers: Vec<Option<u64>> = {
            let inner = self.inner.read();
            hashes.iter().map(|h| inner.by_hash.get(h).copied()).collect()
        };
        Ok(self.read(numbers.into_iter(), parts))
    }

    async fn head(&self) -> Result<Option<ChainHead>, StoreError> {
        Ok(self.inner.read().head)
    }

    async fn advance_head(&self, head: ChainHead) -> Result<HeadUpdate, StoreError> {
        let mut inner = self.inner.write();
        if let Some(current) = inner.head {
            let ahead = head.number > current.number || (head.number == current.number && head.total_difficulty > current.total_difficulty);
            if !ahead {
                self.metrics.stale_heads.increment(1);
                return Ok(HeadUpdate::Stale(current));
            }
        }
        inner.head = Some(head);
        Ok(HeadUpdate::Advanced)
    }

    async fn held(&self) -> Result<RangeSet, StoreError> {
        Ok(self.inner.read().held.clone())
    }

    async fn remove_range(&self, start: u64, end: u64) -> Result<(), StoreError> {
        let mut inner = self.inner.write();
        let numbers: Vec<u64> = inner.by_number.range(start..=end).map(|(n, _)| *n).collect();
        for n in numbers {
            inner.remove(n);
        }
        self.metrics.blocks.set(inner.by_number.len() as f64);
        self.metrics.bytes.set(inner.bytes as f64);
        Ok(())
    }

    async fn range(&self) -> Result<Option<StoredRange>, StoreError> {
        let inner = self.inner.read();
        let (Some((&lowest, _)), Some((&highest, _))) = (inner.by_number.first_key_value(), inner.by_number.last_key_value()) else {
            return Ok(None);
        };
        Ok(Some(StoredRange { lowest, highest, count: inner.by_number.len() as u64 }))
    }
}
