//! Key names (see the schema in `redis.rs`).

use alloy_primitives::B256;

/// Blocks per hash-tag bucket.
pub(crate) const BUCKET: u64 = 1024;

/// Key builder for one chain.
#[derive(Debug, Clone)]
pub(crate) struct Keys {
    chain: u64,
}

impl Keys {
    pub(crate) fn new(chain: u64) -> Self {
        Self { chain }
    }

    fn block(&self, part: char, n: u64) -> String {
        format!("hs:v1:{{c{}:{}}}:{part}:{n}", self.chain, n / BUCKET)
    }

    pub(crate) fn header(&self, n: u64) -> String {
        self.block('h', n)
    }

    pub(crate) fn body(&self, n: u64) -> String {
        self.block('b', n)
    }

    pub(crate) fn receipts(&self, n: u64) -> String {
        self.block('r', n)
    }

    pub(crate) fn hash(&self, hash: &B256) -> String {
        format!("hs:v1:{{c{}:x{:02x}}}:n:{hash:x}", self.chain, hash[0])
    }

    /// The held ranges (gap tracker): a sorted set, score = start, member = `start:end`.
    pub(crate) fn ranges(&self) -> String {
        format!("hs:v1:{{c{}}}:ranges", self.chain)
    }

    /// The fencing token of the current leader term (written by `hypasis-cluster`).
    pub(crate) fn epoch(&self) -> String {
        format!("hs:v1:{{c{}}}:epoch", self.chain)
    }

    pub(crate) fn head(&self) -> String {
        format!("hs:v1:{{c{}}}:head", self.chain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_of_a_bucket_share_a_hash_tag() {
        let k = Keys::new(137);
        assert_eq!(k.header(1023), "hs:v1:{c137:0}:h:1023");
        assert_eq!(k.body(1024), "hs:v1:{c137:1}:b:1024");
        assert!(k.hash(&B256::repeat_byte(0xab)).starts_with("hs:v1:{c137:xab}:n:"));
    }
}
