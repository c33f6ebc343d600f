//! Node identities: a node id is the 64-byte uncompressed secp256k1 public key without its
//! `0x04` prefix.
//!
//! Keys are k256 types at our API (the rest of the workspace speaks them); the curve arithmetic
//! a handshake pays for (ECDH, recoverable signatures, public keys of fresh ephemeral keys) runs
//! on libsecp256k1 through the `secp256k1` crate, several times faster than k256's (measured:
//! `docs/BENCHMARKS.md`, handshake profile).

use crate::RlpxError;
use alloy_primitives::{B256, B512, keccak256};
use k256::{PublicKey, SecretKey, elliptic_curve::sec1::ToEncodedPoint};

/// A node id: the public key's `X ‖ Y`.
pub type NodeId = B512;

/// The node id of a secret key's public key.
pub fn node_id_of(secret: &SecretKey) -> NodeId {
    NodeId::from_slice(&public_sec1(secret)[1..])
}

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
    let point = secp256k1::ecdh::shared_secret_point(&secp_public(public), &secp_secret(secret));
    B256::from_slice(&point[..32])
}

/// The uncompressed SEC1 encoding (`0x04 ‖ X ‖ Y`) of `secret`'s public key.
pub fn public_sec1(secret: &SecretKey) -> [u8; 65] {
    secp256k1::PublicKey::from_secret_key_global(&secp_secret(secret)).serialize_uncompressed()
}

/// The same secret key for libsecp256k1.
pub(crate) fn secp_secret(secret: &SecretKey) -> secp256k1::SecretKey {
    secp256k1::SecretKey::from_byte_array(secret.to_bytes().into()).expect("a k256 secret key is a valid secp256k1 secret key")
}

/// The same public key for libsecp256k1.
fn secp_public(public: &PublicKey) -> secp256k1::PublicKey {
    let point = public.to_encoded_point(false);
    secp256k1::PublicKey::from_slice(point.as_bytes()).expect("a k256 public key is a valid secp256k1 public key")
}

/// A libsecp256k1 public key as k256's.
pub(crate) fn from_secp_public(public: &secp256k1::PublicKey) -> PublicKey {
    PublicKey::from_sec1_bytes(&public.serialize_uncompressed()).expect("a secp256k1 public key is a valid k256 public key")
}

/// keccak256 of a public key's node id (used by the legacy handshake).
pub fn id_hash(key: &PublicKey) -> B256 {
    keccak256(node_id(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libsecp256k1_and_k256_agree() {
        for _ in 0..16 {
            let (a, b) = (random_secret(), random_secret());
            assert_eq!(node_id_of(&a), node_id(&a.public_key()));
            let k256_shared = k256::ecdh::diffie_hellman(a.to_nonzero_scalar(), b.public_key().as_affine());
            assert_eq!(ecdh(&a, &b.public_key()).as_slice(), &k256_shared.raw_secret_bytes()[..]);
            assert_eq!(ecdh(&a, &b.public_key()), ecdh(&b, &a.public_key()));
            assert_eq!(from_secp_public(&secp256k1::PublicKey::from_secret_key_global(&secp_secret(&a))), a.public_key());
        }
    }
}
