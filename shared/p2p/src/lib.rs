//! The devp2p server a Bor or geth node syncs from.
//!
//! - [`identity`]: node keys from files (created with mode 0600 on first run), enode URLs.
//! - [`dial`]: the initiator side (RLPx + Hello), for peers we connect to and for tests.
//! - [`config`]: limits and timeouts, each named with a default.
//! - [`status`]: our Status and the checks on the peer's (network, genesis, EIP-2124 fork id).
//! - [`serve`]: answering GetBlockHeaders, GetBlockBodies and GetReceipts from the store with one
//!   range read per request, within the serving limits.
//! - [`server`]: the TCP listener, admission control (peer cap, bounded wait queue, trusted
//!   peers) and per-peer sessions.
//! - [`peers`]: connected peers with per-peer counters.
//! - [`metrics`]: `hypasis_p2p_*` metrics.

pub mod config;
pub mod dial;
pub mod identity;
pub mod metrics;
pub mod peers;
pub mod serve;
pub mod server;
pub mod status;

pub use config::NetworkConfig;
pub use dial::dial;
pub use peers::PeerInfo;
pub use server::{NetworkHandle, spawn};
