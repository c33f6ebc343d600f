//! The devp2p wire protocols above RLPx.
//!
//! - [`p2p`]: the base protocol ([`rlpx.md`], "p2p" capability): Hello, Disconnect, Ping, Pong.
//! - [`snappy`]: message compression after Hello (EIP-706) with a decompressed-size cap.
//! - [`eth`]: the eth protocol ([`caps/eth.md`]): eth/68, eth/69 (EIP-7642) and Bor's eth/69
//!   Status dialect, block requests and responses, announcements.
//! - [`conn`]: the connection typestate: [`conn::P2pConn`] after Hello, [`conn::EthConn`] after
//!   the Status exchange, sending and receiving [`conn::EthMessage`]s.
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
