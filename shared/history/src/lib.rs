//! History at mainnet scale: blocks below the latest checkpoint never change, so they are sealed
//! into immutable segment files in object storage (S3 and its peers, or a local directory)
//! instead of being kept in Redis.
//!
//! - [`format`]: the segment file (e2store framing, one compressed entry per block, an index).
//! - [`manifest`]: one JSON entry per sealed segment; what makes a segment visible.
//! - [`Bucket`]: the object store, opened from a `file://` or `s3://` URL.
//! - [`SegmentCache`]: each instance's bounded local-disk cache of whole segments.
//! - [`Segments`]: reads blocks from segments (local cache, else ranged reads from the bucket).
//! - [`HistoryStore`]: the block store with the segments behind it
//!   (memory → Redis → segments).
//! - [`Sealer`]: seals verified ranges once per segment cluster-wide, and trims Redis.

mod bucket;
pub mod cache;
pub mod format;
pub mod manifest;
pub mod sealer;
mod segments;
mod store;

pub use bucket::{Bucket, BucketError};
pub use cache::SegmentCache;
pub use sealer::{PassReport, SealError, Sealer, SealerConfig};
pub use segments::{DEFAULT_OPEN_INDEXES, MAX_DOWNLOADS, Segments};
pub use store::HistoryStore;
