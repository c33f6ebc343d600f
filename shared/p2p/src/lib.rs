//! The devp2p server a Bor or geth node syncs from.
//!
//! - [`identity`]: node keys from files (created with mode 0600 on first run), enode URLs.
//! - [`dial`]: the initiator side (RLPx + Hello), for peers we connect to and for tests.
//! - [`config`]: limits and timeouts, each named with a default.
//! - [`status`]: our Status and the checks on the peer's (network, genesis, EIP-2124 fork id).
//! - [`serve`]: answering GetBlockHeaders, GetBlockBodies and GetReceipts from the store with one
//!   range read per request, within the serving limits.
//! - [`server`]: the TCP listener and the way from a connection to a session (handshake, Hello,
//!   Status).
//! - [`admission`]: the peer cap, bounded wait queue and trusted peers.
//! - [`session`]: a connected peer's session (announcements, pings, idle timeout) and why it
//!   ended.
//! - [`dispatch`]: requests answered from the store; [`gate`]: fair use's say on each request.
//! - [`snap_hook`]: snap/1 requests handed to the node's state backends (offered in Hello only
//!   while they can serve).
//! - [`peers`]: connected peers with per-peer counters.
//! - [`per_ip`]: per-address caps (handshakes in flight, peers) and temporary bans.
//! - [`metrics`]: `hypasis_p2p_*` metrics.
//! - [`proxy`]: the PROXY protocol (v1/v2) from trusted load balancers, on this and the HTTP
//!   listeners.

pub mod admission;
pub mod config;
pub mod deadline;
pub mod dial;
pub mod dispatch;
pub mod gate;
pub mod identity;
pub mod metrics;
pub mod peers;
pub mod per_ip;
pub mod proxy;
pub mod serve;
pub mod server;
pub mod session;
pub mod snap_hook;
mod snap_requests;
pub mod status;

pub use config::NetworkConfig;
pub use dial::{dial, handshake, handshake_with_snap};
pub use peers::PeerInfo;
pub use server::{NetworkHandle, spawn};
pub use session::EndReason;
