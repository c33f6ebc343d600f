//! Node discovery v4 ([devp2p `discv4.md`], [EIP-8], [EIP-868]) over UDP, on the same port as
//! RLPx.
//!
//! - [`packet`]: the signed packet envelope (`hash ‖ signature ‖ type ‖ rlp(data)`).
//! - [`message`]: Ping, Pong, FindNode, Neighbors, ENRRequest, ENRResponse.
//! - [`table`]: the Kademlia table (256 buckets of 16, by log distance of keccak256(id)).
//! - [`record`]: our ENR, carrying the `eth` fork-id entry that Bor and geth filter on.
//! - [`service`]: the UDP service: answers pings, proves endpoints, answers FindNode and
//!   ENRRequest from verified peers, bonds with bootnodes.
//!
//! [devp2p `discv4.md`]: https://github.com/ethereum/devp2p/blob/master/discv4.md
//! [EIP-8]: https://eips.ethereum.org/EIPS/eip-8
//! [EIP-868]: https://eips.ethereum.org/EIPS/eip-868

pub mod message;
pub mod packet;
pub mod record;
pub mod service;
pub mod table;

pub use packet::PacketError;
pub use service::{Discv4Config, Discv4Handle, spawn};
