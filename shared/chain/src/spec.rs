//! Chain specs: what identifies a chain on the network (ids, genesis, fork id) and the Bor
//! parameters needed to check its headers.

use crate::{
    ForkSchedule, SealedHeader,
    bor::ExtraLayout,
    forks::ForkError,
    genesis::{GenesisDoc, GenesisError},
};
use alloy_eip2124::ForkId;
use alloy_primitives::{B256, b256};
use serde_json::Value;
use std::sync::Arc;

/// Polygon PoS mainnet genesis hash.
pub const POLYGON_MAINNET_GENESIS: B256 = b256!("a9c28ce2141b56c474f1dc504bee9b01eb1bd7d1a507580d5519d4437a97de1b");
/// Polygon Amoy testnet genesis hash.
pub const POLYGON_AMOY_GENESIS: B256 = b256!("7202b2b53c5a0836e773e319d18922cc756dd67432f9a1f65352b61f4406c697");

/// Why a chain spec could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ChainSpecError {
    /// The genesis JSON is unusable.
    #[error(transparent)]
    Genesis(#[from] GenesisError),
    /// The fork entries of the config are unusable.
    #[error(transparent)]
    Forks(#[from] ForkError),
    /// The `bor` section is unusable.
    #[error("config.bor.{key}: {reason}")]
    Bor {
        /// Offending key.
        key: &'static str,
        /// What is wrong.
        reason: String,
    },
}

/// Bor parameters needed to read and check headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BorSpec {
    /// Sprint length schedule: `(from_block, length)`, ascending.
    pub sprints: Vec<(u64, u64)>,
    /// First block with the post-Cancun (RLP) extra-data layout.
    pub cancun_block: Option<u64>,
    /// First block of the Madhugiri fork (state-sync transactions become part of the body).
    pub madhugiri_block: Option<u64>,
}

impl BorSpec {
    /// Sprint length at `number`.
    pub fn sprint_length(&self, number: u64) -> u64 {
        self.sprints.iter().rev().find(|(from, _)| *from <= number).map_or(64, |(_, len)| *len)
    }

    /// Whether `number` is the last block of a sprint (where validator sets and state syncs
    /// land).
    pub fn is_sprint_end(&self, number: u64) -> bool {
        let len = self.sprint_length(number).max(1);
        (number + 1).is_multiple_of(len)
    }

    /// The extra-data layout at `number`.
    pub fn extra_layout(&self, number: u64) -> ExtraLayout {
        if self.cancun_block.is_some_and(|c| number >= c) { ExtraLayout::Rlp } else { ExtraLayout::Raw }
    }

    fn from_config(config: &Value) -> Result<Option<Self>, ChainSpecError> {
        let Some(bor) = config.get("bor") else { return Ok(None) };
        let sprints = match bor.get("sprint") {
            None | Some(Value::Null) => vec![(0, 64)],
            Some(Value::Object(map)) => {
                let mut v = Vec::with_capacity(map.len());
                for (from, len) in map {
                    let from =
                        from.parse::<u64>().map_err(|e| ChainSpecError::Bor { key: "sprint", reason: format!("key {from:?}: {e}") })?;
                    let len = len
                        .as_u64()
                        .filter(|l| *l > 0)
                        .ok_or_else(|| ChainSpecError::Bor { key: "sprint", reason: format!("length {len} is not a positive integer") })?;
                    v.push((from, len));
                }
                v.sort_unstable();
                v
            }
            Some(other) => {
                let reason = format!("expected an object of block → length, found {other}");
                return Err(ChainSpecError::Bor { key: "sprint", reason });
            }
        };
        let block = |v: Option<&Value>| v.and_then(Value::as_u64);
        Ok(Some(Self { sprints, cancun_block: block(config.get("cancunBlock")), madhugiri_block: block(bor.get("madhugiriBlock")) }))
    }
}

/// Everything that identifies a chain and how to check it.
#[derive(Debug, Clone)]
pub struct ChainSpec {
    /// Name used in config and status (`polygon-mainnet`, `devnet`, or the genesis file name).
    pub name: String,
    /// EIP-155 chain id.
    pub chain_id: u64,
    /// devp2p network id.
    pub network_id: u64,
    /// Genesis block hash.
    pub genesis_hash: B256,
    /// Forks after genesis.
    pub forks: ForkSchedule,
    /// Bor parameters, for Polygon chains.
    pub bor: Option<BorSpec>,
    /// The genesis file, when we have it (devnet and genesis files; not bundled for Polygon
    /// networks, whose allocation is large).
    pub genesis: Option<Arc<GenesisDoc>>,
    /// The genesis header, when known.
    pub genesis_header: Option<SealedHeader>,
}

impl ChainSpec {
    /// The built-in chains by name.
    pub fn builtin(name: &str) -> Option<Self> {
        match name {
            "polygon-mainnet" => Some(Self::polygon_mainnet()),
            "polygon-amoy" => Some(Self::polygon_amoy()),
            _ => None,
        }
    }

    /// Polygon PoS mainnet (chain id 137).
    pub fn polygon_mainnet() -> Self {
        Self {
            name: "polygon-mainnet".into(),
            chain_id: 137,
            network_id: 137,
            genesis_hash: POLYGON_MAINNET_GENESIS,
            // Istanbul/Muir Glacier, Berlin, London, Shanghai, Cancun, Prague (Bor block forks).
            forks: ForkSchedule::new(vec![3_395_000, 14_750_000, 23_850_000, 50_523_000, 54_876_000, 73_440_256], vec![], 0),
            bor: Some(BorSpec {
                sprints: vec![(0, 64), (38_189_056, 16)],
                cancun_block: Some(54_876_000),
                madhugiri_block: Some(80_084_800),
            }),
            genesis: None,
            genesis_header: None,
        }
    }

    /// Polygon Amoy testnet (chain id 80002).
    pub fn polygon_amoy() -> Self {
        Self {
            name: "polygon-amoy".into(),
            chain_id: 80_002,
            network_id: 80_002,
            genesis_hash: POLYGON_AMOY_GENESIS,
            // London/Shanghai, Cancun, Prague (Bor block forks).
            forks: ForkSchedule::new(vec![73_100, 5_423_600, 22_765_056], vec![], 0),
            bor: Some(BorSpec { sprints: vec![(0, 16)], cancun_block: Some(5_423_600), madhugiri_block: Some(28_899_616) }),
            genesis: None,
            genesis_header: None,
        }
    }

    /// A chain defined by a geth-style genesis file. The network id is the chain id.
    ///
    /// # Errors
    /// [`ChainSpecError`] when the config's forks or `bor` section are unusable.
    pub fn from_genesis(name: impl Into<String>, doc: GenesisDoc) -> Result<Self, ChainSpecError> {
        let header = SealedHeader::seal(doc.header());
        let forks = ForkSchedule::from_chain_config(doc.config_json(), header.timestamp)?;
        let bor = BorSpec::from_config(doc.config_json())?;
        Ok(Self {
            name: name.into(),
            chain_id: doc.chain_id(),
            network_id: doc.chain_id(),
            genesis_hash: header.hash(),
            forks,
            bor,
            genesis: Some(Arc::new(doc)),
            genesis_header: Some(header),
        })
    }

    /// The fork id at a given head.
    pub fn fork_id(&self, head_number: u64, head_time: u64) -> ForkId {
        self.forks.fork_id(self.genesis_hash, head_number, head_time)
    }

    /// The fork id with every known fork passed.
    pub fn latest_fork_id(&self) -> ForkId {
        self.forks.latest_fork_id(self.genesis_hash)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_eip2124::ForkHash;

    #[test]
    fn polygon_fork_ids() {
        assert_eq!(ChainSpec::polygon_mainnet().latest_fork_id(), ForkId { hash: ForkHash(0x22d523b2u32.to_be_bytes()), next: 0 });
        assert_eq!(ChainSpec::polygon_amoy().latest_fork_id(), ForkId { hash: ForkHash(0x8b7e4175u32.to_be_bytes()), next: 0 });
        let at_genesis = ChainSpec::polygon_mainnet().fork_id(0, 0);
        assert_eq!(at_genesis.next, 3_395_000);
        assert_eq!(at_genesis.hash, ForkHash::from(POLYGON_MAINNET_GENESIS));
    }

    #[test]
    fn mainnet_sprints_and_layouts() {
        let bor = ChainSpec::polygon_mainnet().bor.unwrap();
        assert!(bor.is_sprint_end(63) && !bor.is_sprint_end(64));
        assert_eq!(bor.sprint_length(38_189_056), 16);
        assert_eq!(bor.extra_layout(54_875_999), ExtraLayout::Raw);
        assert_eq!(bor.extra_layout(54_876_000), ExtraLayout::Rlp);
    }
}
