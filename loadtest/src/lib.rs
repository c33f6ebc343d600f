//! Bor-like devp2p peers, for tests and load generation.
//!
//! - [`bor_peer`]: what a Bor node does with a peer before and while it full-syncs from it,
//!   following `eth/downloader` in 0xPolygon/bor: the Status handshake (Bor's eth/69 dialect
//!   carries the total difficulty), the choice of the peer with the highest total difficulty,
//!   the whitelist check (the header at the latest milestone's end block must be there, with the
//!   milestone's hash, unless the peer is more than 1,024 blocks ahead), then headers in
//!   batches of 192 and bodies in batches of 128, each checked (hash links, body roots).
//! - [`stats`]: what a load run saw (handshakes, requests by kind with latencies and bytes,
//!   disconnects) and what the node processes spent (`/proc`), as the run's JSON summary.
//! - [`codec_limit`]: the same answer bytes through our frame codec alone, the limit a
//!   download's rate is compared with.
//! - `main.rs`: the `hypasis-loadtest` binary: many such peers at once against one node.

pub mod bor_peer;
pub mod codec_limit;
pub mod stats;

pub use bor_peer::{BorPeer, PeerError, SyncReport, Target};
pub use stats::Stats;
