//! The manifest: one small JSON object per sealed segment, written after the segment was read
//! back and verified. Listing `manifest/` is the list of sealed segments; a segment file without
//! its manifest entry (a sealer that died midway) is never read.
//!
//! Layout in the bucket (under the configured prefix):
//!
//! ```text
//! segments/000000000000.e2s      blocks 0..=8191
//! manifest/000000000000.json     its SegmentMeta
//! ```

use alloy_primitives::B256;
use object_store::path::Path;
use serde::{Deserialize, Serialize};

/// Version of the segment format and manifest written by this code.
pub const FORMAT_VERSION: u32 = 1;

/// What the manifest records about one sealed segment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentMeta {
    /// Format version ([`FORMAT_VERSION`]).
    pub version: u32,
    /// First block.
    pub start: u64,
    /// Blocks held.
    pub count: u64,
    /// Hash of the first block.
    pub first_hash: B256,
    /// Hash of the last block.
    pub last_hash: B256,
    /// Parent hash of the first block (links the segment to the one before).
    pub parent_hash: B256,
    /// Size of the segment file.
    pub bytes: u64,
    /// SHA-256 of the whole segment file, hex.
    pub sha256: String,
    /// SHA-256 of the index tail (its last `24 + 40·count` bytes), hex: checked on ranged reads.
    pub index_sha256: String,
    /// Highest block covered by a verified checkpoint when the segment was sealed.
    pub verified_through: u64,
    /// Instance that sealed it.
    pub sealed_by: String,
    /// When, in seconds since the Unix epoch.
    pub sealed_at: u64,
}

impl SegmentMeta {
    /// Number of the last block.
    pub fn end(&self) -> u64 {
        self.start + self.count - 1
    }

    /// Whether the segment holds block `number`.
    pub fn contains(&self, number: u64) -> bool {
        (self.start..=self.end()).contains(&number)
    }
}

/// Where the segment starting at `start` lives.
pub fn segment_path(start: u64) -> Path {
    Path::from(format!("segments/{start:012}.e2s"))
}

/// Where its manifest entry lives.
pub fn meta_path(start: u64) -> Path {
    Path::from(format!("manifest/{start:012}.json"))
}

/// The manifest folder.
pub fn manifest_dir() -> Path {
    Path::from("manifest")
}

/// Hex of a SHA-256 digest of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}
