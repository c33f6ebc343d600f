//! The block cache shared by everything that serves blocks.
//!
//! - [`BlockStore`]: the trait: blocks (header, body, receipts, total difficulty) by number and by
//!   hash, many per call, plus the served head. Every read takes a whole list of keys so that a
//!   networked implementation answers it in one round trip.
//! - [`MemoryStore`]: the bounded in-process implementation used in embedded mode and as the hot
//!   tier in front of Redis.

mod memory;
mod metrics;
mod ranges;
pub mod redis;
pub mod tiered;
mod types;

pub use memory::{MemoryStore, MemoryStoreLimits};
pub use ranges::RangeSet;
pub use redis::{RedisStore, RedisStoreConfig, RedisTarget};
pub use tiered::TieredStore;
pub use types::{BlockStore, ChainHead, HeadUpdate, Parts, StoreError, StoredBlock, StoredRange};
