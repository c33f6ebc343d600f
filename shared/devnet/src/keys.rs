//! Deterministic keys: `keccak256("hypasis-devnet" ‖ seed ‖ role ‖ index ‖ attempt)`.

use alloy_primitives::{B256, keccak256};
use alloy_signer_local::PrivateKeySigner;

/// What a key is for; part of its derivation so roles never share keys.
#[derive(Debug, Clone, Copy)]
pub enum Role {
    /// A block producer.
    Validator,
    /// A funded account that sends transactions.
    Account,
}

/// The `index`-th key of `role` for `seed`.
pub fn derive(seed: u64, role: Role, index: usize) -> PrivateKeySigner {
    let tag: &[u8] = match role {
        Role::Validator => b"validator",
        Role::Account => b"account",
    };
    (0u32..)
        .find_map(|attempt| {
            let mut material = b"hypasis-devnet".to_vec();
            material.extend_from_slice(&seed.to_be_bytes());
            material.extend_from_slice(tag);
            material.extend_from_slice(&(index as u64).to_be_bytes());
            material.extend_from_slice(&attempt.to_be_bytes());
            let secret: B256 = keccak256(material);
            PrivateKeySigner::from_bytes(&secret).ok()
        })
        .expect("a valid secp256k1 scalar is found within a few attempts")
}
