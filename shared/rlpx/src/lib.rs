//! RLPx transport ([devp2p `rlpx.md`], [EIP-8]): the ECIES handshake that authenticates a TCP
//! connection to a node key, and the frame codec that encrypts and authenticates every message
//! after it.
//!
//! - [`keys`]: node ids (64-byte public keys) and key helpers.
//! - [`ecies`]: the ECIES encryption used by the handshake.
//! - [`handshake`]: `auth`/`ack` messages (EIP-8 and legacy), secret derivation, and the async
//!   [`handshake::initiate`] / [`handshake::accept`] over any `AsyncRead + AsyncWrite`.
//! - [`mac`]: the keccak256 MAC states.
//! - [`codec`]: [`FrameCodec`], a tokio-util codec: `Framed<TcpStream, FrameCodec>` is a
//!   `Stream + Sink` of frame payloads.
//!
//! [devp2p `rlpx.md`]: https://github.com/ethereum/devp2p/blob/master/rlpx.md
//! [EIP-8]: https://eips.ethereum.org/EIPS/eip-8

pub mod codec;
pub mod ecies;
mod error;
pub mod handshake;
pub mod keys;
pub mod mac;

pub use codec::FrameCodec;
pub use error::RlpxError;
pub use handshake::{Secrets, accept, initiate};
pub use keys::NodeId;
