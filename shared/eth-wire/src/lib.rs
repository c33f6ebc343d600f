//! The devp2p wire protocols above RLPx.
//!
//! - [`p2p`]: the base protocol ([`rlpx.md`], "p2p" capability): Hello, Disconnect, Ping, Pong.
//! - [`snappy`]: message compression after Hello (EIP-706) with a decompressed-size cap.
//! - [`eth`]: the eth protocol ([`caps/eth.md`]): eth/68, eth/69 (EIP-7642) and Bor's eth/69
//!   Status dialect, block requests and responses, announcements.
//! - [`conn`]: [`conn::Connection`]: an authenticated RLPx connection after the Hello and Status
//!   exchange, sending and receiving typed messages.
//!
//! [`rlpx.md`]: https://github.com/ethereum/devp2p/blob/master/rlpx.md
//! [`caps/eth.md`]: https://github.com/ethereum/devp2p/blob/master/caps/eth.md

pub mod conn;
mod error;
pub mod eth;
pub mod p2p;
pub mod snappy;

pub use error::WireError;
pub use p2p::{Capability, DisconnectReason, Hello};
