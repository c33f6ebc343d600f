//! The discv4 packet envelope: `hash (32) ‖ signature (65) ‖ packet-type (1) ‖ packet-data`,
//! `signature = sign(keccak256(packet-type ‖ packet-data))`, `hash = keccak256(signature ‖
//! packet-type ‖ packet-data)`.

use alloy_primitives::{B256, keccak256};
use hypasis_rlpx::{NodeId, keys};
use k256::SecretKey;

/// Largest packet on the wire (`discv4.md`, "Wire Protocol").
pub const MAX_PACKET_SIZE: usize = 1280;
/// Header length: hash, signature, type.
pub const HEADER_SIZE: usize = 32 + 65 + 1;

/// Why a datagram was dropped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PacketError {
    /// Over 1280 bytes.
    #[error("packet of {0} bytes exceeds {MAX_PACKET_SIZE}")]
    TooLarge(usize),
    /// Shorter than the header.
    #[error("packet of {0} bytes is shorter than the header")]
    TooShort(usize),
    /// The hash does not cover the packet.
    #[error("packet hash mismatch")]
    BadHash,
    /// The signature does not recover.
    #[error("bad signature: {0}")]
    BadSignature(String),
    /// The data is not the expected RLP.
    #[error("malformed packet data: {0}")]
    Rlp(String),
    /// The expiration is in the past.
    #[error("packet expired")]
    Expired,
    /// An unknown packet type (dropped silently per EIP-8).
    #[error("unknown packet type {0}")]
    UnknownType(u8),
}

impl PacketError {
    /// A short fixed label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::TooLarge(_) => "too_large",
            Self::TooShort(_) => "too_short",
            Self::BadHash => "bad_hash",
            Self::BadSignature(_) => "bad_signature",
            Self::Rlp(_) => "bad_rlp",
            Self::Expired => "expired",
            Self::UnknownType(_) => "unknown_type",
        }
    }
}

/// A verified packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet<'a> {
    /// The packet hash (Pong and ENRResponse refer to it).
    pub hash: B256,
    /// The sender, recovered from the signature.
    pub sender: NodeId,
    /// Packet type.
    pub kind: u8,
    /// RLP packet data (possibly followed by extra bytes, which are to be ignored).
    pub data: &'a [u8],
}

/// Signs and frames a packet. Returns the bytes and the packet hash.
pub fn encode(key: &SecretKey, kind: u8, data: &[u8]) -> (Vec<u8>, B256) {
    let mut signed = Vec::with_capacity(1 + data.len());
    signed.push(kind);
    signed.extend_from_slice(data);
    let signature = keys::sign_recoverable(key, &keccak256(&signed));
    let mut out = Vec::with_capacity(HEADER_SIZE + data.len());
    out.extend_from_slice(&[0u8; 32]);
    out.extend_from_slice(&signature);
    out.extend_from_slice(&signed);
    let hash = keccak256(&out[32..]);
    out[..32].copy_from_slice(hash.as_slice());
    (out, hash)
}

/// Checks size, hash and signature of a datagram.
///
/// # Errors
/// [`PacketError`] for anything that must be dropped.
pub fn decode(datagram: &[u8]) -> Result<Packet<'_>, PacketError> {
    if datagram.len() > MAX_PACKET_SIZE {
        return Err(PacketError::TooLarge(datagram.len()));
    }
    if datagram.len() <= HEADER_SIZE {
        return Err(PacketError::TooShort(datagram.len()));
    }
    let hash = B256::from_slice(&datagram[..32]);
    if keccak256(&datagram[32..]) != hash {
        return Err(PacketError::BadHash);
    }
    let sender =
        keys::recover_node_id(&datagram[32..97], &keccak256(&datagram[97..])).map_err(|e| PacketError::BadSignature(e.to_string()))?;
    Ok(Packet { hash, sender, kind: datagram[97], data: &datagram[98..] })
}
