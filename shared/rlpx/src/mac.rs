//! The RLPx frame MAC (`rlpx.md`, "MAC"): a running keccak256 state per direction, updated with
//! every ciphertext byte and mixed with AES-256 of its own digest.

use aes::cipher::{BlockEncrypt, KeyInit};
use alloy_primitives::B256;
use keccak_asm::{Digest, Keccak256};

/// One direction's MAC state.
#[derive(Clone)]
pub struct MacState {
    hasher: Keccak256,
    cipher: aes::Aes256,
}

impl std::fmt::Debug for MacState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MacState")
    }
}

impl MacState {
    /// `keccak256.init((mac_secret ^ nonce) ‖ packet)`.
    pub fn new(mac_secret: &B256, nonce: &B256, packet: &[u8]) -> Self {
        let mut hasher = Keccak256::new();
        hasher.update(*mac_secret ^ *nonce);
        hasher.update(packet);
        Self { hasher, cipher: aes::Aes256::new(mac_secret.as_slice().into()) }
    }

    /// Feeds bytes into the state.
    pub fn update(&mut self, data: &[u8]) {
        self.hasher.update(data);
    }

    /// The current digest, leaving the state untouched.
    pub fn digest(&self) -> B256 {
        B256::from_slice(&self.hasher.clone().finalize())
    }

    fn seed_from_digest(&self) -> [u8; 16] {
        let digest = self.digest();
        let first: [u8; 16] = digest[..16].try_into().expect("a digest has 32 bytes");
        let mut block = aes::Block::from(first);
        self.cipher.encrypt_block(&mut block);
        block.into()
    }

    /// Updates with a frame header ciphertext and returns the header MAC.
    pub fn update_header(&mut self, header_ciphertext: &[u8; 16]) -> [u8; 16] {
        let mut seed = self.seed_from_digest();
        seed.iter_mut().zip(header_ciphertext).for_each(|(s, c)| *s ^= c);
        self.hasher.update(seed);
        self.first16()
    }

    /// Updates with a frame body ciphertext and returns the frame MAC.
    pub fn update_body(&mut self, body_ciphertext: &[u8]) -> [u8; 16] {
        self.hasher.update(body_ciphertext);
        let previous = self.first16();
        let mut seed = self.seed_from_digest();
        seed.iter_mut().zip(previous).for_each(|(s, p)| *s ^= p);
        self.hasher.update(seed);
        self.first16()
    }

    fn first16(&self) -> [u8; 16] {
        let mut out = [0u8; 16];
        out.copy_from_slice(&self.digest()[..16]);
        out
    }
}
