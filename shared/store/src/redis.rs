//! The Redis block store (fred), shared by every instance of the cluster.
//!
//! Key schema (version `v1`; `{…}` is the Redis Cluster hash tag, so related keys share a slot):
//!
//! | Key | Value |
//! | --- | --- |
//! | `hs:v1:{c<chain>:<n / 1024>}:h:<n>` | `rlp([td, header])` of block `n` |
//! | `hs:v1:{c<chain>:<n / 1024>}:b:<n>` | body RLP |
//! | `hs:v1:{c<chain>:<n / 1024>}:r:<n>` | receipts RLP (eth/68 form); absent when unknown |
//! | `hs:v1:{c<chain>:x<hash[0]>}:n:<hash>` | block number (decimal) of a canonical hash |
//! | `hs:v1:{c<chain>}:ranges` | the gap tracker: held ranges as a sorted set (score = start, member = `start:end`) |
//! | `hs:v1:{c<chain>}:head` | hash `number`, `hash`, `td`, `timestamp` of the served head |
//!
//! Blocks of one 1,024-block bucket share a slot, so a range read touches one or two slots; reads
//! go out as one pipeline (one round trip). A hash lookup is a second round trip (hash → number).

mod keys;
mod store;
mod target;

pub use store::{RedisStore, RedisStoreConfig};
pub use target::{RedisTarget, TargetError};
