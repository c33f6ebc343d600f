//! ECIES as used by the RLPx handshake (`rlpx.md`, "ECIES Encryption"): secp256k1 ECDH, NIST
//! SP 800-56 concatenation KDF with SHA-256, AES-128-CTR and HMAC-SHA-256.
//!
//! `ciphertext = R (65, uncompressed) ‖ iv (16) ‖ c ‖ d (32)` where `d = HMAC(sha256(kM), iv ‖ c ‖
//! authdata)`.

use crate::{RlpxError, keys};
use aes::cipher::{KeyIvInit, StreamCipher};
use alloy_primitives::B256;
use hmac::{Hmac, Mac};
use k256::{PublicKey, SecretKey};
use sha2::{Digest, Sha256};

/// Bytes ECIES adds to a message: public key, IV and tag.
pub const OVERHEAD: usize = 65 + 16 + 32;

type Aes128Ctr = ctr::Ctr128BE<aes::Aes128>;

/// NIST SP 800-56 concatenation KDF (SHA-256, empty other-info), 32 bytes out.
fn kdf(shared: &B256) -> ([u8; 16], [u8; 16]) {
    let mut hasher = Sha256::new();
    hasher.update(1u32.to_be_bytes());
    hasher.update(shared);
    let out = hasher.finalize();
    let (mut ke, mut km) = ([0u8; 16], [0u8; 16]);
    ke.copy_from_slice(&out[..16]);
    km.copy_from_slice(&out[16..32]);
    (ke, km)
}

fn tag(km: &[u8; 16], iv: &[u8], ciphertext: &[u8], auth_data: &[u8]) -> Hmac<Sha256> {
    let key = Sha256::digest(km);
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key).expect("HMAC takes any key length");
    mac.update(iv);
    mac.update(ciphertext);
    mac.update(auth_data);
    mac
}

/// Encrypts `message` to `remote`, authenticating `auth_data` too.
pub fn encrypt(remote: &PublicKey, message: &[u8], auth_data: &[u8]) -> Vec<u8> {
    let ephemeral = keys::random_secret();
    let iv = B256::random();
    encrypt_with(remote, message, auth_data, &ephemeral, &iv[..16])
}

fn encrypt_with(remote: &PublicKey, message: &[u8], auth_data: &[u8], ephemeral: &SecretKey, iv: &[u8]) -> Vec<u8> {
    let (ke, km) = kdf(&keys::ecdh(ephemeral, remote));
    let mut out = Vec::with_capacity(OVERHEAD + message.len());
    out.extend_from_slice(&keys::public_sec1(ephemeral));
    out.extend_from_slice(iv);
    let start = out.len();
    out.extend_from_slice(message);
    Aes128Ctr::new(&ke.into(), iv.into()).apply_keystream(&mut out[start..]);
    let d = tag(&km, iv, &out[start..], auth_data).finalize().into_bytes();
    out.extend_from_slice(&d);
    out
}

/// Decrypts a message encrypted to `secret`.
///
/// # Errors
/// [`RlpxError::Ecies`] when it is too short, its key is invalid or its tag does not match.
pub fn decrypt(secret: &SecretKey, data: &[u8], auth_data: &[u8]) -> Result<Vec<u8>, RlpxError> {
    if data.len() < OVERHEAD {
        return Err(RlpxError::Ecies("message shorter than the ECIES overhead"));
    }
    let (r, rest) = data.split_at(65);
    let (iv, rest) = rest.split_at(16);
    let (ciphertext, d) = rest.split_at(rest.len() - 32);
    let r = PublicKey::from_sec1_bytes(r).map_err(|_| RlpxError::Ecies("invalid ephemeral public key"))?;
    let (ke, km) = kdf(&keys::ecdh(secret, &r));
    tag(&km, iv, ciphertext, auth_data).verify_slice(d).map_err(|_| RlpxError::Ecies("tag mismatch"))?;
    let mut plain = ciphertext.to_vec();
    Aes128Ctr::new(&ke.into(), iv.into()).apply_keystream(&mut plain);
    Ok(plain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper_detection() {
        let key = keys::random_secret();
        let sealed = encrypt(&key.public_key(), b"hello rlpx", b"ad");
        assert_eq!(sealed.len(), OVERHEAD + 10);
        assert_eq!(decrypt(&key, &sealed, b"ad").unwrap(), b"hello rlpx");
        assert!(decrypt(&key, &sealed, b"other").is_err());
        let mut bad = sealed.clone();
        bad[70] ^= 1;
        assert!(decrypt(&key, &bad, b"ad").is_err());
        assert!(decrypt(&keys::random_secret(), &sealed, b"ad").is_err());
        assert!(decrypt(&key, &sealed[..50], b"ad").is_err());
        let mut bad_point = sealed;
        bad_point[0] = 7;
        assert!(decrypt(&key, &bad_point, b"ad").is_err());
    }
}
