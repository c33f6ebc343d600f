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
use secp256k1::{
    Message, SECP256K1,
    ecdsa::{RecoverableSignature, RecoveryId},
};

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

/// A recoverable ECDSA signature of a 32-byte digest, as devp2p sends it: `r ‖ s ‖ v` with the
/// recovery id `v` (0 or 1) last, `s` in the lower half.
pub fn sign_recoverable(key: &SecretKey, digest: &B256) -> [u8; 65] {
    let signature = SECP256K1.sign_ecdsa_recoverable(Message::from_digest(digest.0), &secp_secret(key));
    let (recovery, compact) = signature.serialize_compact();
    let mut out = [0u8; 65];
    out[..64].copy_from_slice(&compact);
    out[64] = u8::try_from(i32::from(recovery)).expect("a recovery id is 0 to 3");
    out
}

/// The public key that made `signature` (`r ‖ s ‖ v`, 65 bytes) of `digest`.
///
/// # Errors
/// [`RlpxError::Crypto`] when the signature is not 65 bytes, its recovery id is out of range or
/// it recovers no key.
pub fn recover(signature: &[u8], digest: &B256) -> Result<PublicKey, RlpxError> {
    Ok(from_secp_public(&recover_secp(signature, digest)?))
}

/// The node id that made `signature` of `digest` (as [`recover`], without the k256 key).
///
/// # Errors
/// As [`recover`].
pub fn recover_node_id(signature: &[u8], digest: &B256) -> Result<NodeId, RlpxError> {
    Ok(NodeId::from_slice(&recover_secp(signature, digest)?.serialize_uncompressed()[1..]))
}

fn recover_secp(signature: &[u8], digest: &B256) -> Result<secp256k1::PublicKey, RlpxError> {
    let [compact @ .., v] = signature else { return Err(RlpxError::Crypto("empty signature".into())) };
    if compact.len() != 64 {
        return Err(RlpxError::Crypto(format!("signature of {} bytes, expected 65", signature.len())));
    }
    let recovery = RecoveryId::try_from(i32::from(*v)).map_err(|_| RlpxError::Crypto("recovery id out of range".into()))?;
    let sig = RecoverableSignature::from_compact(compact, recovery).map_err(|e| RlpxError::Crypto(e.to_string()))?;
    SECP256K1.recover_ecdsa(Message::from_digest(digest.0), &sig).map_err(|e| RlpxError::Crypto(e.to_string()))
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
