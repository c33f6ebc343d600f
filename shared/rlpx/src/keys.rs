//! Node identities: a node id is the 64-byte uncompressed secp256k1 public key without its
//! `0x04` prefix.

use crate::RlpxError;
use alloy_primitives::{B256, B512, keccak256};
use k256::{PublicKey, SecretKey, elliptic_curve::sec1::ToEncodedPoint};

/// A node id: the public key's `X ‖ Y`.
pub type NodeId = B512;

/// The node id of a public key.
pub fn node_id(key: &PublicKey) -> NodeId {
    let point = key.to_encoded_point(false);
    NodeId::from_slice(&point.as_bytes()[1..])
}

/// The public key of a node id.
///
/// # Errors
/// [`RlpxError::Crypto`] when the id is not a point on the curve.
pub fn public_key(id: &NodeId) -> Result<PublicKey, RlpxError> {
    let mut sec1 = [0u8; 65];
    sec1[0] = 4;
    sec1[1..].copy_from_slice(id.as_slice());
    PublicKey::from_sec1_bytes(&sec1).map_err(|e| RlpxError::Crypto(e.to_string()))
}

/// A fresh random secret key.
pub fn random_secret() -> SecretKey {
    loop {
        if let Ok(key) = SecretKey::from_slice(B256::random().as_slice()) {
            return key;
        }
    }
}

/// ECDH: the x coordinate of `secret * public`.
pub fn ecdh(secret: &SecretKey, public: &PublicKey) -> B256 {
    let shared = k256::ecdh::diffie_hellman(secret.to_nonzero_scalar(), public.as_affine());
    B256::from_slice(&shared.raw_secret_bytes()[..])
}

/// keccak256 of a public key's node id (used by the legacy handshake).
pub fn id_hash(key: &PublicKey) -> B256 {
    keccak256(node_id(key))
}
