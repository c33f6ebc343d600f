//! [`Segments`]: reads blocks from sealed segments, from the local cache when it holds the file,
//! otherwise with ranged reads from the bucket (starting a single-flight download into the cache).
//!
//! Every block read is checked: its entry must decode to the number and hash the index names.
//! Blocks read from the bucket are also checked against their header's roots (body and
//! receipts), and an index read from the bucket against the manifest's digest, so a corrupted
//! object is never served; its blocks are answered as missing (the caller then asks elsewhere)
//! and counted in `hypasis_history_corrupt_total`.

use crate::{
    Bucket,
    cache::{SegmentCache, read_range},
    format::SegmentIndex,
    manifest::{SegmentMeta, segment_path, sha256_hex},
};
use alloy_primitives::{B256, map::HashMap};
use hypasis_chain::Block;
use hypasis_store::RangeSet;
use parking_lot::RwLock;
use std::{
    collections::{BTreeMap, VecDeque},
    sync::Arc,
};

/// Most segment indexes kept in memory (each 40 bytes per block: 320 KiB for 8,192 blocks). The
/// hash lookup covers the blocks of these segments.
pub const DEFAULT_OPEN_INDEXES: usize = 1_024;

#[derive(Debug, Default)]
struct Indexes {
    by_start: HashMap<u64, Arc<SegmentIndex>>,
    order: VecDeque<u64>,
    by_hash: HashMap<B256, u64>,
}

/// The sealed segments an instance knows of, and how to read them.
#[derive(Debug)]
pub struct Segments {
    bucket: Bucket,
    cache: Arc<SegmentCache>,
    metas: RwLock<BTreeMap<u64, SegmentMeta>>,
    indexes: RwLock<Indexes>,
    max_indexes: usize,
    /// Whole-segment downloads running at once, at most [`MAX_DOWNLOADS`].
    downloads: tokio::sync::Semaphore,
}

/// Most whole-segment downloads at once per instance.
pub const MAX_DOWNLOADS: usize = 4;

fn read_counter(tier: &'static str, count: usize) {
    metrics::counter!("hypasis_store_tier_reads_total", "tier" => tier).increment(count as u64);
}

fn corrupt(place: &'static str, start: u64, reason: &dyn std::fmt::Display) {
    metrics::counter!("hypasis_history_corrupt_total", "where" => place).increment(1);
    tracing::error!(target: "history", segment = start, place, %reason, "segment failed verification; its blocks are not served from it");
}

impl Segments {
    /// Segments in `bucket`, cached in `cache`.
    pub fn new(bucket: Bucket, cache: Arc<SegmentCache>, max_indexes: usize) -> Self {
        Self {
            bucket,
            cache,
            metas: RwLock::default(),
            indexes: RwLock::default(),
            max_indexes: max_indexes.max(1),
            downloads: tokio::sync::Semaphore::new(MAX_DOWNLOADS),
        }
    }

    /// The bucket.
    pub fn bucket(&self) -> &Bucket {
        &self.bucket
    }

    /// Reloads the manifest from the bucket (one listing, and a read of each entry not known
    /// yet); returns the number of sealed segments.
    ///
    /// # Errors
    /// The bucket's error; the known segments stay.
    pub async fn refresh(&self) -> Result<usize, crate::BucketError> {
        let starts = self.bucket.sealed_starts().await?;
        let known: Vec<u64> = self.metas.read().keys().copied().collect();
        let mut new = Vec::new();
        for &start in starts.iter().filter(|s| known.binary_search(s).is_err()) {
            if let Some(meta) = self.bucket.meta(start).await? {
                new.push(meta);
            }
        }
        let first = known.is_empty();
        let count = {
            let mut metas = self.metas.write();
            // Entries deleted from the bucket (by an operator, after corruption) are dropped.
            metas.retain(|start, _| starts.binary_search(start).is_ok());
            metas.extend(new.into_iter().map(|m| (m.start, m)));
            metas.len()
        };
        if first {
            self.cache.adopt(&self.metas());
        }
        metrics::gauge!("hypasis_history_segments").set(count as f64);
        Ok(count)
    }

    /// Records a segment sealed by this instance.
    pub fn add(&self, meta: SegmentMeta) {
        let mut metas = self.metas.write();
        metas.insert(meta.start, meta);
        metrics::gauge!("hypasis_history_segments").set(metas.len() as f64);
    }

    /// Manifest entries known, by first block.
    pub fn metas(&self) -> Vec<SegmentMeta> {
        self.metas.read().values().cloned().collect()
    }

    /// The entry of the segment holding `number`.
    pub fn meta_of(&self, number: u64) -> Option<SegmentMeta> {
        let metas = self.metas.read();
        metas.range(..=number).next_back().map(|(_, m)| m).filter(|m| m.contains(number)).cloned()
    }

    /// The ranges of blocks sealed.
    pub fn sealed(&self) -> RangeSet {
        let mut set = RangeSet::new();
        for meta in self.metas.read().values() {
            set.insert(meta.start, meta.end());
        }
        set
    }

    /// Whether block `number` is in a sealed segment.
    pub fn is_sealed(&self, number: u64) -> bool {
        self.meta_of(number).is_some()
    }

    /// The number of the block with `hash`, when a loaded segment index names it.
    pub fn number_of(&self, hash: &B256) -> Option<u64> {
        self.indexes.read().by_hash.get(hash).copied()
    }

    /// Reads blocks `numbers` (all in sealed segments, any order); one answer per number.
    pub async fn read(self: &Arc<Self>, numbers: &[u64]) -> Vec<Option<Block>> {
        let mut out = vec![None; numbers.len()];
        let mut by_segment: BTreeMap<u64, (SegmentMeta, Vec<usize>)> = BTreeMap::new();
        for (i, &n) in numbers.iter().enumerate() {
            if let Some(meta) = self.meta_of(n) {
                by_segment.entry(meta.start).or_insert_with(|| (meta, Vec::new())).1.push(i);
            }
        }
        for (_, (meta, positions)) in by_segment {
            let wanted: Vec<u64> = positions.iter().map(|&i| numbers[i]).collect();
            let blocks = self.read_segment(&meta, &wanted).await;
            for (i, block) in positions.into_iter().zip(blocks) {
                out[i] = block;
            }
        }
        out
    }

    async fn read_segment(self: &Arc<Self>, meta: &SegmentMeta, numbers: &[u64]) -> Vec<Option<Block>> {
        let Some(index) = self.index(meta).await else { return vec![None; numbers.len()] };
        if let Some(file) = self.cache.file(meta.start) {
            match read_local(&file, &index, numbers).await {
                Ok(blocks) => {
                    read_counter("segment_cache", blocks.len());
                    return blocks.into_iter().map(Some).collect();
                }
                Err(reason) => {
                    corrupt("local", meta.start, &reason);
                    self.cache.discard(meta.start);
                }
            }
        }
        self.download_later(meta);
        match self.read_bucket(meta, &index, numbers).await {
            Ok(blocks) => {
                let blocks: Vec<Option<Block>> =
                    blocks.into_iter().map(|b| b.map_err(|reason| corrupt("bucket", meta.start, &reason)).ok()).collect();
                read_counter("object_store", blocks.iter().flatten().count());
                blocks
            }
            Err(e) => {
                metrics::counter!("hypasis_history_bucket_errors_total").increment(1);
                tracing::warn!(target: "history", segment = meta.start, error = %e, "segment unreadable");
                vec![None; numbers.len()]
            }
        }
    }

    /// The index of segment `meta`, loaded from the cache or the bucket when not in memory.
    async fn index(&self, meta: &SegmentMeta) -> Option<Arc<SegmentIndex>> {
        if let Some(index) = self.indexes.read().by_start.get(&meta.start) {
            return Some(index.clone());
        }
        let tail_len = SegmentIndex::tail_len(meta.count).min(meta.bytes);
        let range = meta.bytes - tail_len..meta.bytes;
        let (tail, place) = match self.cache.file(meta.start) {
            Some(file) => {
                let range = range.clone();
                (tokio::task::spawn_blocking(move || read_range(&file, range)).await.ok().and_then(Result::ok), "local")
            }
            None => (None, "bucket"),
        };
        let tail = match tail {
            Some(tail) => tail,
            None => match self.bucket.get_range(&segment_path(meta.start), range).await {
                Ok(tail) => tail.to_vec(),
                Err(e) => {
                    metrics::counter!("hypasis_history_bucket_errors_total").increment(1);
                    tracing::warn!(target: "history", segment = meta.start, error = %e, "segment index unreadable");
                    return None;
                }
            },
        };
        let digest = sha256_hex(&tail);
        let index = if digest == meta.index_sha256 {
            SegmentIndex::parse_tail(&tail, meta.bytes).map_err(|e| e.to_string())
        } else {
            Err(format!("index SHA-256 {digest}, manifest says {}", meta.index_sha256))
        };
        let index = match index {
            Ok(index) if index.start == meta.start && index.count() == meta.count => Arc::new(index),
            Ok(index) => {
                corrupt(place, meta.start, &format!("index covers {}..={}", index.start, index.end()));
                return None;
            }
            Err(reason) => {
                corrupt(place, meta.start, &reason);
                if place == "local" {
                    self.cache.discard(meta.start);
                }
                return None;
            }
        };
        self.remember(index.clone());
        Some(index)
    }

    fn remember(&self, index: Arc<SegmentIndex>) {
        let mut indexes = self.indexes.write();
        if indexes.by_start.insert(index.start, index.clone()).is_some() {
            return;
        }
        indexes.order.push_back(index.start);
        for (i, hash) in index.hashes.iter().enumerate() {
            indexes.by_hash.insert(*hash, index.start + i as u64);
        }
        while indexes.order.len() > self.max_indexes {
            let Some(oldest) = indexes.order.pop_front() else { break };
            if let Some(old) = indexes.by_start.remove(&oldest) {
                for hash in &old.hashes {
                    indexes.by_hash.remove(hash);
                }
            }
        }
    }

    /// Reads `numbers` with one ranged read; each block checked on its own (a bad one does not
    /// spoil the others). The outer error is the bucket's.
    async fn read_bucket(&self, meta: &SegmentMeta, index: &SegmentIndex, numbers: &[u64]) -> Result<Vec<Result<Block, String>>, String> {
        let (span, first) = span(index, numbers)?;
        let bytes = self.bucket.get_range(&segment_path(meta.start), span).await.map_err(|e| e.to_string())?;
        metrics::counter!("hypasis_history_bucket_read_bytes_total").increment(bytes.len() as u64);
        let index = index.clone();
        let numbers = numbers.to_vec();
        tokio::task::spawn_blocking(move || {
            numbers
                .iter()
                .map(|&n| {
                    let range = index.entry_range(n).ok_or("number outside the index")?;
                    let entry = &bytes[(range.start - first) as usize..(range.end - first) as usize];
                    let block = index.decode_entry(n, entry).map_err(|e| e.to_string())?;
                    block.verify().map_err(|e| e.to_string())?;
                    Ok(block)
                })
                .collect()
        })
        .await
        .map_err(|e| e.to_string())
    }

    /// Downloads segment `meta` into the local cache in the background, unless cached or running.
    fn download_later(self: &Arc<Self>, meta: &SegmentMeta) {
        if !self.cache.begin(meta.start) {
            return;
        }
        let this = self.clone();
        let meta = meta.clone();
        tokio::spawn(async move {
            let _slot = this.downloads.acquire().await;
            let fetched = this.fetch(&meta).await.map_err(|e| {
                tracing::warn!(target: "history", segment = meta.start, error = %e, "segment download failed; retried on a later read");
            });
            if let Ok((bytes, _)) = &fetched {
                metrics::counter!("hypasis_history_download_bytes_total").increment(*bytes);
            }
            let done = fetched.is_ok();
            let result = match this.cache.finish(&meta, fetched) {
                Ok(()) if done => "ok",
                Ok(()) => "error",
                Err(e) => {
                    corrupt("bucket", meta.start, &e);
                    "corrupt"
                }
            };
            metrics::counter!("hypasis_history_downloads_total", "result" => result).increment(1);
        });
    }

    /// Streams segment `meta` into the cache's part file → (size, SHA-256). Stops at the
    /// manifest's size: a longer object is not read to its end.
    async fn fetch(&self, meta: &SegmentMeta) -> Result<(u64, String), String> {
        use futures::StreamExt;
        use sha2::Digest;
        use tokio::io::AsyncWriteExt;
        let mut stream = self.bucket.get_stream(&segment_path(meta.start)).await.map_err(|e| e.to_string())?;
        let part = self.cache.part_path(meta.start);
        let disk = |e: std::io::Error| format!("{}: {e}", part.display());
        let mut file = tokio::fs::File::create(&part).await.map_err(disk)?;
        let (mut hasher, mut bytes) = (sha2::Sha256::new(), 0u64);
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| e.to_string())?;
            bytes += chunk.len() as u64;
            if bytes > meta.bytes {
                return Ok((bytes, String::new()));
            }
            hasher.update(&chunk);
            file.write_all(&chunk).await.map_err(disk)?;
        }
        file.flush().await.map_err(disk)?;
        Ok((bytes, hex::encode(hasher.finalize())))
    }
}

/// The byte span covering the entries of `numbers` and its first offset.
fn span(index: &SegmentIndex, numbers: &[u64]) -> Result<(std::ops::Range<u64>, u64), String> {
    let low = numbers.iter().min().and_then(|n| index.entry_range(*n)).ok_or("number outside the index")?;
    let high = numbers.iter().max().and_then(|n| index.entry_range(*n)).ok_or("number outside the index")?;
    Ok((low.start..high.end, low.start))
}

async fn read_local(file: &Arc<std::fs::File>, index: &Arc<SegmentIndex>, numbers: &[u64]) -> Result<Vec<Block>, String> {
    let (range, first) = span(index, numbers)?;
    let (file, index, numbers) = (file.clone(), index.clone(), numbers.to_vec());
    tokio::task::spawn_blocking(move || {
        let bytes = read_range(&file, range).map_err(|e| e.to_string())?;
        numbers
            .iter()
            .map(|&n| {
                let range = index.entry_range(n).ok_or("number outside the index")?;
                index.decode_entry(n, &bytes[(range.start - first) as usize..(range.end - first) as usize]).map_err(|e| e.to_string())
            })
            .collect()
    })
    .await
    .map_err(|e| e.to_string())?
}
