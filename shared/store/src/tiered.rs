//! [`TieredStore`]: a bounded in-memory hot tier in front of a shared store (Redis).
//!
//! - Writes go to the hot tier first, then to the shared store. When the shared store fails, the
//!   blocks wait in a bounded backlog and are written again by [`TieredStore::flush`] (called
//!   before every later write and by the node's maintenance loop), so a Redis outage loses no
//!   block that fits in the backlog.
//! - Reads are served from the hot tier; misses go to the shared store in one call and are
//!   copied into the hot tier. When the shared store fails, the hot tier's answers are returned
//!   alone (misses stay `None`) and the fallback is counted: a Redis hiccup does not stop serving
//!   the tip.
//! - The head is the shared store's; when it is unreachable, the hot tier's.

use crate::{BlockStore, ChainHead, HeadUpdate, MemoryStore, Parts, RangeSet, StoreError, StoredBlock};
use alloy_primitives::B256;
use hypasis_chain::{Block, BlockBody};
use parking_lot::Mutex;
use std::{collections::VecDeque, sync::Arc};

/// Most blocks kept for a later write while the shared store is down.
pub const DEFAULT_MAX_BACKLOG: usize = 100_000;
/// Blocks written back per call while flushing the backlog.
const FLUSH_CHUNK: usize = 1_000;

/// A hot memory tier in front of a shared store.
#[derive(Debug)]
pub struct TieredStore {
    hot: MemoryStore,
    cold: Arc<dyn BlockStore>,
    /// Blocks waiting for the shared store, each with a sequence number, oldest first.
    backlog: Mutex<Backlog>,
    max_backlog: usize,
    /// One flush at a time (the maintenance loop's and the exit's).
    flushing: tokio::sync::Mutex<()>,
}

#[derive(Debug, Default)]
struct Backlog {
    blocks: VecDeque<(u64, Block)>,
    next: u64,
}

fn fallback(op: &'static str) {
    metrics::counter!("hypasis_store_tier_fallbacks_total", "op" => op).increment(1);
}

impl TieredStore {
    /// A tiered store over `cold` with `hot` in front.
    pub fn new(hot: MemoryStore, cold: Arc<dyn BlockStore>, max_backlog: usize) -> Self {
        Self { hot, cold, backlog: Mutex::default(), max_backlog, flushing: tokio::sync::Mutex::new(()) }
    }

    /// Blocks waiting to be written to the shared store.
    pub fn backlog_len(&self) -> usize {
        self.backlog.lock().blocks.len()
    }

    /// Writes the backlog to the shared store. The blocks leave the backlog only once written,
    /// so a flush cancelled midway (the exit's, at the end of the grace period) loses nothing.
    ///
    /// # Errors
    /// The shared store's error; the backlog is kept for the next try.
    pub async fn flush(&self) -> Result<(), StoreError> {
        if self.backlog_len() == 0 {
            return Ok(());
        }
        let _one = self.flushing.lock().await;
        loop {
            // A chunk at a time: a retry during an outage copies at most FLUSH_CHUNK blocks.
            let (chunk, last): (Vec<Block>, u64) = {
                let backlog = self.backlog.lock();
                let chunk: Vec<&(u64, Block)> = backlog.blocks.iter().take(FLUSH_CHUNK).collect();
                let Some((last, _)) = chunk.last() else { return Ok(()) };
                (chunk.iter().map(|(_, b)| b.clone()).collect(), *last)
            };
            self.cold.insert(chunk).await?;
            let mut backlog = self.backlog.lock();
            // Blocks parked meanwhile have higher numbers; ones dropped or removed meanwhile are gone.
            backlog.blocks.retain(|(seq, _)| *seq > last);
            metrics::gauge!("hypasis_store_tier_backlog_blocks").set(backlog.blocks.len() as f64);
        }
    }

    fn park(&self, blocks: Vec<Block>) {
        let mut backlog = self.backlog.lock();
        for block in blocks {
            let seq = backlog.next;
            backlog.next += 1;
            backlog.blocks.push_back((seq, block));
        }
        while backlog.blocks.len() > self.max_backlog {
            backlog.blocks.pop_front();
            metrics::counter!("hypasis_store_tier_backlog_dropped_total").increment(1);
        }
        metrics::gauge!("hypasis_store_tier_backlog_blocks").set(backlog.blocks.len() as f64);
    }

    /// Fills the hot tier's misses (`missing` indexes into `out`) from the shared store's answer
    /// for them (read with every part), copying what it returns into the hot tier.
    async fn fill(
        &self,
        out: &mut [Option<StoredBlock>],
        missing: &[usize],
        found: Result<Vec<Option<StoredBlock>>, StoreError>,
        parts: Parts,
    ) {
        let found = match found {
            Ok(found) => found,
            Err(e) => {
                fallback("read");
                tracing::debug!(target: "store::tiered", error = %e, "shared store unreachable; answering from the hot tier");
                return;
            }
        };
        let mut copy = Vec::new();
        let filled = found.iter().flatten().count();
        metrics::counter!("hypasis_store_tier_reads_total", "tier" => "redis").increment(filled as u64);
        for (&i, block) in missing.iter().zip(found) {
            let Some(block) = block else { continue };
            if let Some(body) = &block.body {
                copy.push(Block {
                    header: block.header.clone(),
                    body: BlockBody::clone(body),
                    receipts: block.receipts.as_ref().map(|r| r.to_vec()),
                    total_difficulty: block.total_difficulty,
                    state_sync_receipt: block.state_sync_receipt.as_deref().cloned(),
                });
            }
            out[i] = Some(StoredBlock {
                body: if parts.body { block.body } else { None },
                receipts: if parts.receipts { block.receipts } else { None },
                state_sync_receipt: if parts.receipts { block.state_sync_receipt } else { None },
                ..block
            });
        }
        if !copy.is_empty() {
            let _ = self.hot.insert(copy).await;
        }
    }
}

/// Counts the hot tier's complete answers.
fn count_hot(asked: usize, missing: usize) {
    metrics::counter!("hypasis_store_tier_reads_total", "tier" => "memory").increment((asked - missing) as u64);
}

/// Indexes of answers the hot tier could not give in full.
fn misses(out: &[Option<StoredBlock>], parts: Parts) -> Vec<usize> {
    let complete = |b: &StoredBlock| (!parts.body || b.body.is_some()) && (!parts.receipts || b.receipts.is_some());
    out.iter().enumerate().filter(|(_, b)| !b.as_ref().is_some_and(complete)).map(|(i, _)| i).collect()
}

#[async_trait::async_trait]
impl BlockStore for TieredStore {
    async fn insert(&self, blocks: Vec<Block>) -> Result<(), StoreError> {
        self.hot.insert(blocks.clone()).await?;
        if self.flush().await.is_err() {
            self.park(blocks);
            fallback("write");
            return Ok(());
        }
        if let Err(e) = self.cold.insert(blocks.clone()).await {
            tracing::warn!(target: "store::tiered", error = %e, "shared store write failed; kept in the backlog");
            self.park(blocks);
            fallback("write");
        }
        Ok(())
    }

    async fn by_numbers(&self, numbers: &[u64], parts: Parts) -> Result<Vec<Option<StoredBlock>>, StoreError> {
        let mut out = self.hot.by_numbers(numbers, parts).await?;
        let missing = misses(&out, parts);
        count_hot(out.len(), missing.len());
        if !missing.is_empty() {
            let wanted: Vec<u64> = missing.iter().map(|i| numbers[*i]).collect();
            let found = self.cold.by_numbers(&wanted, Parts::ALL).await;
            self.fill(&mut out, &missing, found, parts).await;
        }
        Ok(out)
    }

    async fn by_hashes(&self, hashes: &[B256], parts: Parts) -> Result<Vec<Option<StoredBlock>>, StoreError> {
        let mut out = self.hot.by_hashes(hashes, parts).await?;
        let missing = misses(&out, parts);
        count_hot(out.len(), missing.len());
        if !missing.is_empty() {
            let wanted: Vec<B256> = missing.iter().map(|i| hashes[*i]).collect();
            let found = self.cold.by_hashes(&wanted, Parts::ALL).await;
            self.fill(&mut out, &missing, found, parts).await;
        }
        Ok(out)
    }

    async fn head(&self) -> Result<Option<ChainHead>, StoreError> {
        match self.cold.head().await {
            Ok(head) => Ok(head),
            Err(_) => {
                fallback("head");
                self.hot.head().await
            }
        }
    }

    async fn advance_head(&self, head: ChainHead) -> Result<HeadUpdate, StoreError> {
        self.hot.advance_head(head).await?;
        self.cold.advance_head(head).await
    }

    async fn advance_head_fenced(&self, head: ChainHead, token: u64) -> Result<HeadUpdate, StoreError> {
        let update = self.cold.advance_head_fenced(head, token).await?;
        if update == HeadUpdate::Advanced {
            self.hot.advance_head(head).await?;
        }
        Ok(update)
    }

    async fn held(&self) -> Result<RangeSet, StoreError> {
        match self.cold.held().await {
            Ok(held) => Ok(held),
            Err(_) => {
                fallback("held");
                self.hot.held().await
            }
        }
    }

    async fn remove_range(&self, start: u64, end: u64) -> Result<(), StoreError> {
        self.backlog.lock().blocks.retain(|(_, b)| !(start..=end).contains(&b.number()));
        self.hot.remove_range(start, end).await?;
        self.cold.remove_range(start, end).await
    }
}

/// Keeps the hot tier's head in step with a head read from the shared store (followers), and
/// warms the hot tier with the blocks up to it.
///
/// # Errors
/// The shared store's error.
pub async fn warm_to(store: &TieredStore, head: ChainHead, from: u64) -> Result<(), StoreError> {
    let count = head.number.saturating_sub(from).min(1024) + 1;
    let start = head.number + 1 - count;
    store.by_range(start, count, 0, false, Parts::ALL).await?;
    store.hot.advance_head(head).await.map(|_| ())
}
