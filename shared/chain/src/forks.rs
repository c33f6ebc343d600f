//! Fork schedules and [EIP-2124] fork ids.
//!
//! Like geth (and Bor, which keeps geth's rule), the schedule is read off the chain config: every
//! top-level `…Block` entry is a block-number fork and every top-level `…Time` entry a timestamp
//! fork. Forks at block 0, or at or before the genesis timestamp, are not counted. Bor puts its
//! own forks (Jaipur, Delhi, …) inside the nested `bor` object, so they are not counted, and its
//! Shanghai/Cancun/Prague are block numbers (`shanghaiBlock`, …).
//!
//! [EIP-2124]: https://eips.ethereum.org/EIPS/eip-2124

use alloy_eip2124::{ForkHash, ForkId};
use alloy_primitives::B256;
use serde_json::Value;

/// Why a fork schedule could not be read from a chain config.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ForkError {
    /// The config is not a JSON object.
    #[error("chain config must be a JSON object")]
    NotAnObject,
    /// A fork entry is not a non-negative integer.
    #[error("config.{key} must be a non-negative integer (or null), found {found}")]
    NotANumber {
        /// The offending key.
        key: String,
        /// What was found instead.
        found: String,
    },
}

/// The forks of a chain after genesis, in activation order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ForkSchedule {
    /// Block-number forks, ascending, without duplicates or 0.
    pub blocks: Vec<u64>,
    /// Timestamp forks after the genesis timestamp, ascending, without duplicates.
    pub times: Vec<u64>,
}

impl ForkSchedule {
    /// Builds a schedule from explicit lists, normalising them.
    pub fn new(mut blocks: Vec<u64>, mut times: Vec<u64>, genesis_timestamp: u64) -> Self {
        blocks.retain(|b| *b > 0);
        blocks.sort_unstable();
        blocks.dedup();
        times.retain(|t| *t > genesis_timestamp);
        times.sort_unstable();
        times.dedup();
        Self { blocks, times }
    }

    /// Reads the schedule from a geth-style chain config (the genesis JSON's `config`).
    ///
    /// # Errors
    /// [`ForkError`] when the config is not an object or a fork entry is not an integer.
    pub fn from_chain_config(config: &Value, genesis_timestamp: u64) -> Result<Self, ForkError> {
        let map = config.as_object().ok_or(ForkError::NotAnObject)?;
        let (mut blocks, mut times) = (Vec::new(), Vec::new());
        for (key, value) in map {
            let list = if key.ends_with("Block") {
                &mut blocks
            } else if key.ends_with("Time") {
                &mut times
            } else {
                continue;
            };
            match value {
                Value::Null => {}
                Value::Number(n) if n.as_u64().is_some() => list.extend(n.as_u64()),
                other => return Err(ForkError::NotANumber { key: key.clone(), found: other.to_string() }),
            }
        }
        Ok(Self::new(blocks, times, genesis_timestamp))
    }

    /// The fork id of a node whose head is at `head_number` / `head_time`.
    pub fn fork_id(&self, genesis_hash: B256, head_number: u64, head_time: u64) -> ForkId {
        let mut hash = ForkHash::from(genesis_hash);
        for &fork in &self.blocks {
            if fork > head_number {
                return ForkId { hash, next: fork };
            }
            hash += fork;
        }
        for &fork in &self.times {
            if fork > head_time {
                return ForkId { hash, next: fork };
            }
            hash += fork;
        }
        ForkId { hash, next: 0 }
    }

    /// The fork id once every known fork has passed.
    pub fn latest_fork_id(&self, genesis_hash: B256) -> ForkId {
        self.fork_id(genesis_hash, u64::MAX, u64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::b256;

    /// EIP-2124's own test vectors for Ethereum mainnet.
    #[test]
    fn eip2124_mainnet_vectors() {
        let genesis = b256!("d4e56740f876aef8c010b86a40d5f56745a118d0906a34e69aec8c0db1cb8fa3");
        let schedule = ForkSchedule::new(vec![1_150_000, 1_920_000, 2_463_000, 2_675_000, 4_370_000, 7_280_000, 7_280_000], vec![], 0);
        let cases = [
            (0, 0xfc64ec04, 1_150_000),
            (1_149_999, 0xfc64ec04, 1_150_000),
            (1_150_000, 0x97c2c34c, 1_920_000),
            (1_920_000, 0x91d1f948, 2_463_000),
            (2_463_000, 0x7a64da13, 2_675_000),
            (2_675_000, 0x3edd5b10, 4_370_000),
            (4_370_000, 0xa00bc324, 7_280_000),
            (7_280_000, 0x668db0af, 0),
        ];
        for (head, hash, next) in cases {
            let id = schedule.fork_id(genesis, head, 0);
            assert_eq!(id, ForkId { hash: ForkHash(u32::to_be_bytes(hash)), next }, "head {head}");
        }
    }

    #[test]
    fn reads_block_and_time_forks_from_config() {
        let config = serde_json::json!({
            "chainId": 1, "homesteadBlock": 0, "londonBlock": 12, "daoForkSupport": true,
            "shanghaiTime": 500, "cancunTime": 50, "bor": {"jaipurBlock": 99}, "osakaTime": null
        });
        let s = ForkSchedule::from_chain_config(&config, 100).unwrap();
        assert_eq!(s, ForkSchedule { blocks: vec![12], times: vec![500] });
        let bad = serde_json::json!({"londonBlock": "12"});
        assert!(matches!(ForkSchedule::from_chain_config(&bad, 0), Err(ForkError::NotANumber { .. })));
    }
}
