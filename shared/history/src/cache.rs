//! The bounded local-disk cache of whole segment files, one per instance.
//!
//! A segment is downloaded once (single flight: concurrent readers of a segment being downloaded
//! read ranges from the bucket meanwhile), checked against the manifest's size and SHA-256, then
//! moved into place. When the cache is over its byte limit the least recently read segments are
//! deleted. Files left by an earlier run are kept when their size matches the manifest.

use crate::manifest::SegmentMeta;
use parking_lot::Mutex;
use std::{
    collections::{HashMap, HashSet},
    fs::File,
    os::unix::fs::FileExt,
    path::{Path, PathBuf},
    sync::Arc,
};

/// Default limit of the local segment cache: 50 GiB.
pub const DEFAULT_CACHE_BYTES: u64 = 50 << 30;

#[derive(Debug)]
struct Cached {
    file: Arc<File>,
    bytes: u64,
    last_used: u64,
}

#[derive(Debug, Default)]
struct Inner {
    files: HashMap<u64, Cached>,
    downloading: HashSet<u64>,
    bytes: u64,
    clock: u64,
}

/// The local segment cache.
#[derive(Debug)]
pub struct SegmentCache {
    dir: PathBuf,
    max_bytes: u64,
    inner: Mutex<Inner>,
}

/// Why a downloaded segment was not cached.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// The bytes do not match the manifest.
    #[error("segment {start}: {reason}")]
    Corrupt {
        /// First block of the segment.
        start: u64,
        /// What differs.
        reason: String,
    },
    /// The local disk failed.
    #[error("segment cache {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
}

fn file_name(start: u64) -> String {
    format!("{start:012}.e2s")
}

impl SegmentCache {
    /// A cache in `dir` (created when missing) of at most `max_bytes`.
    ///
    /// # Errors
    /// [`CacheError::Io`] when the folder cannot be created.
    pub fn open(dir: &Path, max_bytes: u64) -> Result<Self, CacheError> {
        std::fs::create_dir_all(dir).map_err(|source| CacheError::Io { path: dir.display().to_string(), source })?;
        Ok(Self { dir: dir.to_owned(), max_bytes, inner: Mutex::default() })
    }

    /// Adopts files an earlier run left, for segments of `metas` whose size matches (others are
    /// deleted: a partial or foreign file is never read).
    pub fn adopt(&self, metas: &[SegmentMeta]) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else { return };
        let by_name: HashMap<String, &SegmentMeta> = metas.iter().map(|m| (file_name(m.start), m)).collect();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
            match by_name.get(&name) {
                Some(meta) if meta.bytes == size && !self.inner.lock().files.contains_key(&meta.start) => {
                    if let Ok(file) = File::open(entry.path()) {
                        self.track(meta.start, file, size);
                    }
                }
                Some(_) => {}
                None => {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
        self.evict();
    }

    fn track(&self, start: u64, file: File, bytes: u64) {
        let mut inner = self.inner.lock();
        inner.clock += 1;
        let last_used = inner.clock;
        inner.bytes += bytes;
        if let Some(old) = inner.files.insert(start, Cached { file: Arc::new(file), bytes, last_used }) {
            inner.bytes -= old.bytes;
        }
        metrics::gauge!("hypasis_history_cache_bytes").set(inner.bytes as f64);
        metrics::gauge!("hypasis_history_cache_segments").set(inner.files.len() as f64);
    }

    /// The cached file of segment `start`, marked as just used.
    pub fn file(&self, start: u64) -> Option<Arc<File>> {
        let mut inner = self.inner.lock();
        inner.clock += 1;
        let now = inner.clock;
        let cached = inner.files.get_mut(&start)?;
        cached.last_used = now;
        Some(cached.file.clone())
    }

    /// Starts a download of segment `start` unless one runs or it is cached: true when the
    /// caller should download (and then call [`SegmentCache::finish`]).
    pub fn begin(&self, start: u64) -> bool {
        if self.max_bytes == 0 {
            return false;
        }
        let mut inner = self.inner.lock();
        !inner.files.contains_key(&start) && inner.downloading.insert(start)
    }

    /// Where a download of segment `start` is written before it is checked.
    pub fn part_path(&self, start: u64) -> PathBuf {
        self.dir.join(format!("{}.part", file_name(start)))
    }

    /// Ends a download begun with [`SegmentCache::begin`]: `downloaded` is the size and SHA-256
    /// of what was written to [`SegmentCache::part_path`] (`Err` when the download failed). The
    /// file is kept when both match `meta`, deleted otherwise.
    ///
    /// # Errors
    /// [`CacheError::Corrupt`] when size or digest differ; [`CacheError::Io`] when the disk fails.
    pub fn finish(&self, meta: &SegmentMeta, downloaded: Result<(u64, String), ()>) -> Result<(), CacheError> {
        let part = self.part_path(meta.start);
        let result = self.keep(meta, &part, downloaded);
        if result.is_err() || !self.inner.lock().files.contains_key(&meta.start) {
            let _ = std::fs::remove_file(&part);
        }
        self.inner.lock().downloading.remove(&meta.start);
        result
    }

    fn keep(&self, meta: &SegmentMeta, part: &Path, downloaded: Result<(u64, String), ()>) -> Result<(), CacheError> {
        let Ok((bytes, digest)) = downloaded else { return Ok(()) };
        let corrupt = |reason: String| CacheError::Corrupt { start: meta.start, reason };
        if bytes != meta.bytes {
            return Err(corrupt(format!("{bytes} bytes, manifest says {}", meta.bytes)));
        }
        if digest != meta.sha256 {
            return Err(corrupt(format!("SHA-256 {digest}, manifest says {}", meta.sha256)));
        }
        let path = self.dir.join(file_name(meta.start));
        let io = |source| CacheError::Io { path: path.display().to_string(), source };
        std::fs::rename(part, &path).map_err(io)?;
        let file = File::open(&path).map_err(io)?;
        self.track(meta.start, file, meta.bytes);
        self.evict();
        Ok(())
    }

    /// Drops segment `start` (a file that failed verification).
    pub fn discard(&self, start: u64) {
        let mut inner = self.inner.lock();
        if let Some(old) = inner.files.remove(&start) {
            inner.bytes -= old.bytes;
        }
        let _ = std::fs::remove_file(self.dir.join(file_name(start)));
    }

    fn evict(&self) {
        let mut inner = self.inner.lock();
        while inner.bytes > self.max_bytes {
            let Some(oldest) = inner.files.iter().min_by_key(|(_, c)| c.last_used).map(|(s, _)| *s) else { break };
            if let Some(old) = inner.files.remove(&oldest) {
                inner.bytes -= old.bytes;
            }
            let _ = std::fs::remove_file(self.dir.join(file_name(oldest)));
            metrics::counter!("hypasis_history_cache_evictions_total").increment(1);
        }
        metrics::gauge!("hypasis_history_cache_bytes").set(inner.bytes as f64);
        metrics::gauge!("hypasis_history_cache_segments").set(inner.files.len() as f64);
    }
}

/// Reads `range` of a cached file.
///
/// # Errors
/// The disk's error.
pub fn read_range(file: &File, range: std::ops::Range<u64>) -> std::io::Result<Vec<u8>> {
    let mut buf = vec![0; (range.end - range.start) as usize];
    file.read_exact_at(&mut buf, range.start)?;
    Ok(buf)
}
