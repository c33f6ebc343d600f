//! Chain specs: what identifies a chain on the network (ids, genesis, fork id) and the Bor
//! parameters needed to check its headers.

use crate::{
    ForkSchedule, SealedHeader,
    bor::ExtraLayout,
    forks::ForkError,
    genesis::{GenesisDoc, GenesisError},
};
use alloy_eip2124::ForkId;
use alloy_primitives::{Address, B256, address, b256};
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

/// The validator-set contract of Bor chains (`bor.validatorContract` in every known config).
pub const VALIDATOR_CONTRACT: Address = address!("0000000000000000000000000000000000001000");

/// A Bor parameter that changes at given blocks: `(from_block, value)`, ascending by block.
pub type Schedule = Vec<(u64, u64)>;

/// The value of `schedule` at `number`: the entry with the greatest start at or below it. Below
/// the first start Bor takes the last entry's value (a quirk no real config reaches: they all
/// start at 0); so do we.
pub fn scheduled(schedule: &[(u64, u64)], number: u64, default: u64) -> u64 {
    schedule.iter().rev().find(|(from, _)| *from <= number).or(schedule.last()).map_or(default, |(_, v)| *v)
}

/// Bor parameters needed to read and check headers (Bor's `config.bor` section).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BorSpec {
    /// Sprint length schedule.
    pub sprints: Schedule,
    /// Seconds between blocks (`period`).
    pub period: Schedule,
    /// Seconds before the first block of a sprint (`producerDelay`).
    pub producer_delay: Schedule,
    /// Extra seconds per place a backup signer is behind the proposer (`backupMultiplier`).
    pub backup_multiplier: Schedule,
    /// First block whose base fee is part of the sealed data (Bor's Jaipur fork).
    pub jaipur_block: Option<u64>,
    /// First block with the post-Cancun (RLP) extra-data layout.
    pub cancun_block: Option<u64>,
    /// First block of the Madhugiri fork (state-sync transactions become part of the body).
    pub madhugiri_block: Option<u64>,
    /// The validator-set contract (`validatorContract`).
    pub validator_contract: Address,
}

impl BorSpec {
    /// Sprint length at `number`.
    pub fn sprint_length(&self, number: u64) -> u64 {
        scheduled(&self.sprints, number, 64).max(1)
    }

    /// Whether `number` is the first block of a sprint.
    pub fn is_sprint_start(&self, number: u64) -> bool {
        number.is_multiple_of(self.sprint_length(number))
    }

    /// The earliest a block may follow its parent, in seconds: the period (the producer delay at
    /// a sprint start), plus `succession` times the backup multiplier for a backup signer.
    pub fn producer_delay(&self, number: u64, succession: u64) -> u64 {
        let base =
            if self.is_sprint_start(number) { scheduled(&self.producer_delay, number, 0) } else { scheduled(&self.period, number, 0) };
        base.saturating_add(succession.saturating_mul(scheduled(&self.backup_multiplier, number, 0)))
    }

    /// Seconds between blocks at `number`.
    pub fn period(&self, number: u64) -> u64 {
        scheduled(&self.period, number, 0)
    }

    /// Whether the base fee of block `number` is sealed.
    pub fn seals_base_fee(&self, number: u64) -> bool {
        self.jaipur_block.is_some_and(|j| number >= j)
    }

    /// Whether `number` is the last block of a sprint (where the next validator set is
    /// listed; state syncs land on the next block, the sprint start).
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
        let block = |v: Option<&Value>| v.and_then(Value::as_u64);
        let validator_contract = match bor.get("validatorContract") {
            // Bor's --dev (clique) config writes "" here.
            None | Some(Value::Null) => VALIDATOR_CONTRACT,
            Some(Value::String(s)) if s.is_empty() => VALIDATOR_CONTRACT,
            Some(v) => v
                .as_str()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| ChainSpecError::Bor { key: "validatorContract", reason: format!("{v} is not an address") })?,
        };
        Ok(Some(Self {
            sprints: schedule(bor, "sprint", 64, true)?,
            period: schedule(bor, "period", 2, false)?,
            producer_delay: schedule(bor, "producerDelay", 6, false)?,
            backup_multiplier: schedule(bor, "backupMultiplier", 2, false)?,
            jaipur_block: block(bor.get("jaipurBlock")),
            cancun_block: block(config.get("cancunBlock")),
            madhugiri_block: block(bor.get("madhugiriBlock")),
            validator_contract,
        }))
    }
}

/// Reads a `{ "block": value }` map of the `bor` section (`default` from block 0 when absent).
fn schedule(bor: &Value, key: &'static str, default: u64, positive: bool) -> Result<Schedule, ChainSpecError> {
    let map = match bor.get(key) {
        None | Some(Value::Null) => return Ok(vec![(0, default)]),
        Some(Value::Object(map)) if !map.is_empty() => map,
        Some(other) => {
            return Err(ChainSpecError::Bor { key, reason: format!("expected a non-empty object of block → value, found {other}") });
        }
    };
    let mut out = Vec::with_capacity(map.len());
    for (from, value) in map {
        let from = from.parse::<u64>().map_err(|e| ChainSpecError::Bor { key, reason: format!("key {from:?}: {e}") })?;
        let value = value.as_u64().filter(|v| !positive || *v > 0).ok_or_else(|| ChainSpecError::Bor {
            key,
            reason: format!("value {value} at {from} is not a {} integer", if positive { "positive" } else { "non-negative" }),
        })?;
        out.push((from, value));
    }
    out.sort_unstable();
    Ok(out)
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
                period: vec![(0, 2)],
                producer_delay: vec![(0, 6), (38_189_056, 4)],
                backup_multiplier: vec![(0, 2)],
                jaipur_block: Some(23_850_000),
                cancun_block: Some(54_876_000),
                madhugiri_block: Some(80_084_800),
                validator_contract: VALIDATOR_CONTRACT,
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
            bor: Some(BorSpec {
                sprints: vec![(0, 16)],
                period: vec![(0, 2)],
                producer_delay: vec![(0, 4)],
                backup_multiplier: vec![(0, 2)],
                jaipur_block: Some(73_100),
                cancun_block: Some(5_423_600),
                madhugiri_block: Some(28_899_616),
                validator_contract: VALIDATOR_CONTRACT,
            }),
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
        // Mid-sprint in turn: the period; a sprint start: the producer delay; backups wait more.
        assert_eq!(bor.producer_delay(38_189_057, 0), 2);
        assert_eq!(bor.producer_delay(38_189_056, 0), 4);
        assert_eq!(bor.producer_delay(38_189_056 + 16, 3), 4 + 3 * 2);
        assert_eq!(bor.producer_delay(64, 0), 6);
        assert!(!bor.seals_base_fee(23_849_999) && bor.seals_base_fee(23_850_000));
    }

    #[test]
    fn a_dev_mode_bor_section_of_nulls_and_empty_strings_takes_the_defaults() {
        // The `bor` section of a `bor server --dev` chain config, as admin_nodeInfo reports it.
        let config = serde_json::json!({ "bor": {
            "period": null, "producerDelay": null, "sprint": null, "backupMultiplier": null,
            "validatorContract": "", "stateReceiverContract": "", "jaipurBlock": null,
            "burntContract": { "0": "0x000000000000000000000000000000000000dead" }
        }});
        let bor = BorSpec::from_config(&config).unwrap().unwrap();
        assert_eq!((bor.sprints, bor.period, bor.validator_contract), (vec![(0, 64)], vec![(0, 2)], VALIDATOR_CONTRACT));
        let bad = serde_json::json!({ "bor": { "validatorContract": "0x12" } });
        assert!(BorSpec::from_config(&bad).is_err());
    }

    #[test]
    fn schedules_take_the_last_start_at_or_below() {
        let s = vec![(0, 4), (32, 2)];
        assert_eq!((scheduled(&s, 31, 9), scheduled(&s, 32, 9)), (4, 2));
        assert_eq!(scheduled(&[(10, 5), (20, 7)], 3, 9), 7, "below every start: Bor takes the last value");
        assert_eq!(scheduled(&[], 3, 9), 9);
    }
}
