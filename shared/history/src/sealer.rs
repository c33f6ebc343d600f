//! The sealer: turns checkpoint-verified ranges of the block store into segments, once per
//! segment cluster-wide, and trims sealed blocks older than the hot window from the inner store.
//!
//! A pass (the leader's, every [`SealerConfig::interval`]) seals each segment span
//! `[k·span, (k+1)·span)` that ends at or below the sealing bound (the highest block covered by a
//! verified checkpoint) and that the inner store holds in full:
//!
//! 1. claim `seal:<start>` (Redis `SET NX PX` in a cluster), and skip the span when its manifest
//!    entry already exists (another instance sealed it);
//! 2. read the blocks and check them again: consecutive, each linked to its parent, body and
//!    receipts matching their header's roots, the first linked to the previous segment's last;
//! 3. write the segment, read it back and check digest and every entry against the index;
//! 4. write the manifest entry, which is what makes the segment visible.
//!
//! Every instance (leader or not) reloads the manifest each interval and moves its trim floor to
//! `head − hot_window`: sealed blocks below it are read from the segments only.

use crate::{
    BucketError, HistoryStore,
    format::{SegmentIndex, SegmentWriter},
    manifest::{FORMAT_VERSION, SegmentMeta, meta_path, segment_path, sha256_hex},
};
use alloy_primitives::B256;
use hypasis_chain::Block;
use hypasis_store::{Parts, RangeSet, StoreError};
use hypasis_syncer::Claims;
use std::{sync::Arc, time::Duration};
use tokio_util::sync::CancellationToken;

/// Default blocks per segment (as era1 files).
pub const DEFAULT_SEGMENT_BLOCKS: u64 = 8_192;
/// Default blocks below the head kept in the inner store (Redis) once sealed.
pub const DEFAULT_HOT_WINDOW: u64 = 50_000;
/// Default pause between sealing passes and manifest reloads.
pub const DEFAULT_SEAL_INTERVAL: Duration = Duration::from_secs(10);
/// Segments sealed per pass at most (the rest on the next pass).
const SEALS_PER_PASS: usize = 8;
/// How long a sealing claim lasts (a sealer that dies frees the span after this).
const SEAL_LEASE: Duration = Duration::from_secs(600);
/// Blocks read from the inner store per call while sealing.
const READ_CHUNK: u64 = 1_024;

/// Sealer settings.
#[derive(Debug, Clone)]
pub struct SealerConfig {
    /// Blocks per segment.
    pub span: u64,
    /// Blocks below the head kept in the inner store.
    pub hot_window: u64,
    /// Pause between passes.
    pub interval: Duration,
    /// This instance's id (recorded in the manifest).
    pub instance: String,
}

impl Default for SealerConfig {
    fn default() -> Self {
        Self { span: DEFAULT_SEGMENT_BLOCKS, hot_window: DEFAULT_HOT_WINDOW, interval: DEFAULT_SEAL_INTERVAL, instance: String::new() }
    }
}

/// Why a segment was not sealed.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// The block store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The bucket failed.
    #[error(transparent)]
    Bucket(#[from] BucketError),
    /// The blocks or the written segment failed a check.
    #[error("segment {start}: {reason}")]
    Verify {
        /// First block of the span.
        start: u64,
        /// What failed.
        reason: String,
    },
}

/// What a pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PassReport {
    /// Segments sealed.
    pub sealed: usize,
    /// Segments trimmed from the inner store.
    pub trimmed: usize,
}

/// The sealer of one instance.
#[derive(Debug, Clone)]
pub struct Sealer {
    store: Arc<HistoryStore>,
    claims: Claims,
    config: SealerConfig,
}

fn covers(held: &RangeSet, start: u64, end: u64) -> bool {
    held.iter().any(|r| *r.start() <= start && *r.end() >= end)
}

fn overlaps(held: &RangeSet, start: u64, end: u64) -> bool {
    held.iter().any(|r| *r.start() <= end && *r.end() >= start)
}

impl Sealer {
    /// A sealer of `store`'s blocks into its segments.
    pub fn new(store: Arc<HistoryStore>, claims: Claims, config: SealerConfig) -> Self {
        Self { store, claims, config }
    }

    /// Reloads the manifest and moves the trim floor (every instance, each interval).
    ///
    /// # Errors
    /// The bucket's or the store's error.
    pub async fn refresh(&self) -> Result<(), SealError> {
        self.store.segments().refresh().await?;
        if let Some(head) = self.store.inner().head().await? {
            self.store.set_floor(head.number.saturating_sub(self.config.hot_window));
        }
        Ok(())
    }

    /// One pass: seals what `bound` (highest verified block) allows, then trims.
    ///
    /// # Errors
    /// The first failure; segments sealed before it stay sealed.
    pub async fn pass(&self, bound: u64) -> Result<PassReport, SealError> {
        let span = self.config.span;
        if let Some(other) = self.store.segments().metas().into_iter().find(|m| m.count != span || m.start % span != 0) {
            return Err(SealError::Verify {
                start: other.start,
                reason: format!(
                    "the bucket holds a segment of {} blocks at {}, but segments are set to {span} blocks: keep the bucket's size (--history-segment-blocks) or use another prefix",
                    other.count, other.start
                ),
            });
        }
        let held = self.store.inner().held().await?;
        let mut report = PassReport::default();
        let mut start: u64 = 0;
        while start.checked_add(span - 1).is_some_and(|end| end <= bound) && report.sealed < SEALS_PER_PASS {
            let end = start + span - 1;
            if !self.store.segments().is_sealed(start) && covers(&held, start, end) && self.seal(start, end, bound).await? {
                report.sealed += 1;
            }
            start += span;
        }
        if let Some(through) = self.store.segments().sealed().iter().map(|r| *r.end()).max() {
            metrics::gauge!("hypasis_history_sealed_through").set(through as f64);
        }
        report.trimmed = self.trim(&held).await?;
        Ok(report)
    }

    /// Seals `[start, end]`; false when another instance holds the claim or sealed it already.
    async fn seal(&self, start: u64, end: u64, bound: u64) -> Result<bool, SealError> {
        let name = format!("seal:{start}");
        if !self.claims.claim(&name, SEAL_LEASE).await {
            return Ok(false);
        }
        let result = self.seal_claimed(start, end, bound).await;
        self.claims.release(&name).await;
        result
    }

    async fn seal_claimed(&self, start: u64, end: u64, bound: u64) -> Result<bool, SealError> {
        let bucket = self.store.segments().bucket().clone();
        if let Some(meta) = bucket.meta(start).await? {
            self.store.segments().add(meta);
            return Ok(false);
        }
        let verify = |reason: String| SealError::Verify { start, reason };
        // A chunk of blocks at a time into the writer: the sealer holds the compressed segment,
        // not 8,192 decoded blocks.
        let mut writer = SegmentWriter::new(start);
        let mut previous = start.checked_sub(1).and_then(|last| self.store.segments().meta_of(last)).map(|m| m.last_hash);
        let (mut first_hash, mut parent_hash) = (B256::ZERO, B256::ZERO);
        let mut from = start;
        while from <= end {
            let to = (from + READ_CHUNK - 1).min(end);
            let blocks = self.read_chunk(start, from, to).await?;
            check_chain(&blocks, previous).map_err(verify)?;
            if from == start {
                (first_hash, parent_hash) = (blocks[0].hash(), blocks[0].header.parent_hash);
            }
            blocks.iter().for_each(|b| writer.push(b));
            previous = blocks.last().map(Block::hash);
            from = to + 1;
        }
        let last_hash = previous.unwrap_or_default();
        // Linked to the block above too, when held: the span is part of the chain the verified
        // checkpoints end.
        if let Some(Some(next)) = self.store.inner().by_numbers(&[end + 1], Parts::HEADER).await?.first()
            && next.header.parent_hash != last_hash
        {
            return Err(verify(format!("block {} is not the parent of the stored block {}", end, end + 1)));
        }
        let count = end - start + 1;
        let bytes = bytes::Bytes::from(writer.finish());
        let sha256 = sha256_hex(&bytes);
        let tail_len = SegmentIndex::tail_len(count) as usize;
        let index_sha256 = sha256_hex(&bytes[bytes.len() - tail_len..]);
        let path = segment_path(start);
        bucket.put(&path, bytes).await?;
        // Read back what the bucket holds and check it before it becomes visible: the same bytes,
        // and every entry decoding to the block its index names, matching its roots.
        let written = bucket.get(&path).await?;
        if sha256_hex(&written) != sha256 {
            bucket.delete(&path).await?;
            return Err(verify("the bucket returned other bytes than were written".into()));
        }
        let index = SegmentIndex::parse_file(&written).map_err(|e| verify(e.to_string()))?;
        if index.start != start || index.count() != count {
            return Err(verify(format!("the index covers {}..={}", index.start, index.end())));
        }
        for n in start..=end {
            let range = index.entry_range(n).ok_or_else(|| verify(format!("index misses block {n}")))?;
            let read = index.decode_entry(n, &written[range.start as usize..range.end as usize]).map_err(|e| verify(e.to_string()))?;
            read.verify().map_err(|e| verify(format!("block {n} reads back wrong: {e}")))?;
        }
        let meta = SegmentMeta {
            version: FORMAT_VERSION,
            start,
            count,
            first_hash,
            last_hash,
            parent_hash,
            bytes: written.len() as u64,
            sha256,
            index_sha256,
            verified_through: bound,
            sealed_by: self.config.instance.clone(),
            sealed_at: std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()),
        };
        let json = serde_json::to_vec_pretty(&meta).map_err(|e| verify(e.to_string()))?;
        bucket.put(&meta_path(start), json.into()).await?;
        self.store.segments().add(meta);
        metrics::counter!("hypasis_history_segments_sealed_total").increment(1);
        metrics::counter!("hypasis_history_sealed_bytes_total").increment(written.len() as u64);
        tracing::info!(target: "history", start, end, bytes = written.len(), bucket = bucket.url(), "segment sealed");
        Ok(true)
    }

    /// Blocks `from..=to` of the span starting at `start`, every one of them held.
    async fn read_chunk(&self, start: u64, from: u64, to: u64) -> Result<Vec<Block>, SealError> {
        let numbers: Vec<u64> = (from..=to).collect();
        let mut blocks = Vec::with_capacity(numbers.len());
        for (n, block) in numbers.iter().zip(self.store.inner().by_numbers(&numbers, Parts::ALL).await?) {
            let block = block.ok_or_else(|| SealError::Verify { start, reason: format!("block {n} is no longer held") })?;
            blocks.push(Block {
                body: block.body.as_deref().cloned().unwrap_or_default(),
                receipts: block.receipts.as_deref().cloned(),
                state_sync_receipt: block.state_sync_receipt.as_deref().cloned(),
                header: block.header,
                total_difficulty: block.total_difficulty,
            });
        }
        Ok(blocks)
    }

    /// Drops from the inner store the sealed segments wholly below the trim floor it still holds.
    async fn trim(&self, held: &RangeSet) -> Result<usize, SealError> {
        let Some(head) = self.store.inner().head().await? else { return Ok(0) };
        let floor = head.number.saturating_sub(self.config.hot_window);
        self.store.set_floor(floor);
        let mut trimmed = 0;
        for meta in self.store.segments().metas() {
            // Block 0 stays: every handshake names genesis.
            let start = meta.start.max(1);
            if meta.end() < floor && start <= meta.end() && overlaps(held, start, meta.end()) {
                self.store.inner().remove_range(start, meta.end()).await?;
                metrics::counter!("hypasis_history_trimmed_blocks_total").increment(meta.end() - start + 1);
                trimmed += 1;
            }
        }
        Ok(trimmed)
    }

    /// Runs until `cancel`: every interval, reloads the manifest, and when `is_leader` says so and
    /// `bound` gives a sealing bound, makes a pass. Failures are logged and counted; the next
    /// interval tries again.
    pub async fn run(self, is_leader: impl Fn() -> bool + Send, bound: impl Fn() -> Option<u64> + Send, cancel: CancellationToken) {
        loop {
            if let Err(e) = self.refresh().await {
                metrics::counter!("hypasis_history_seal_errors_total", "stage" => "refresh").increment(1);
                tracing::warn!(target: "history", error = %e, "history manifest reload failed");
            }
            if is_leader()
                && let Some(bound) = bound()
                && let Err(e) = self.pass(bound).await
            {
                metrics::counter!("hypasis_history_seal_errors_total", "stage" => "seal").increment(1);
                tracing::warn!(target: "history", error = %e, "sealing pass failed; retried next interval");
            }
            tokio::select! {
                () = cancel.cancelled() => return,
                () = tokio::time::sleep(self.config.interval) => {}
            }
        }
    }
}

/// Checks that `blocks` are consecutive, linked, match their roots, and follow `previous`.
fn check_chain(blocks: &[Block], previous: Option<B256>) -> Result<(), String> {
    let first = blocks.first().ok_or("no blocks")?;
    if let Some(previous) = previous
        && first.header.parent_hash != previous
    {
        return Err(format!("block {} does not follow block {} {previous}", first.number(), first.number().saturating_sub(1)));
    }
    for pair in blocks.windows(2) {
        if pair[1].number() != pair[0].number() + 1 || pair[1].header.parent_hash != pair[0].hash() {
            return Err(format!("block {} is not the child of block {}", pair[1].number(), pair[0].number()));
        }
    }
    blocks.iter().try_for_each(|b| b.verify().map_err(|e| e.to_string()))
}
