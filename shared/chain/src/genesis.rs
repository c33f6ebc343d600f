//! geth-style genesis files (`genesis.json`) and the genesis header they define.

use alloy_consensus::{EMPTY_OMMER_ROOT_HASH, EMPTY_ROOT_HASH, Header, constants::EMPTY_WITHDRAWALS};
use alloy_eips::eip7685::EMPTY_REQUESTS_HASH;
use alloy_genesis::Genesis;
use alloy_primitives::{B64, B256, Bloom, keccak256};
use alloy_trie::root::state_root_unhashed;
use serde_json::Value;

/// Base fee of a genesis block that activates London without giving one (EIP-1559).
pub const INITIAL_BASE_FEE: u64 = 1_000_000_000;

/// Why a genesis file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum GenesisError {
    /// Not valid JSON or not a geth-style genesis.
    #[error("not a geth-style genesis JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// The `config` object is missing.
    #[error("genesis has no `config` object")]
    MissingConfig,
}

/// A parsed genesis file, with the original JSON kept so it can be served back unchanged.
#[derive(Debug, Clone)]
pub struct GenesisDoc {
    json: Value,
    genesis: Genesis,
}

impl GenesisDoc {
    /// Parses genesis JSON text.
    ///
    /// # Errors
    /// [`GenesisError`] when it is not a geth-style genesis.
    pub fn parse(text: &str) -> Result<Self, GenesisError> {
        Self::from_json(serde_json::from_str(text)?)
    }

    /// Wraps a genesis JSON value.
    ///
    /// # Errors
    /// [`GenesisError`] when it is not a geth-style genesis.
    pub fn from_json(json: Value) -> Result<Self, GenesisError> {
        if !json.get("config").is_some_and(Value::is_object) {
            return Err(GenesisError::MissingConfig);
        }
        let genesis: Genesis = serde_json::from_value(json.clone())?;
        Ok(Self { json, genesis })
    }

    /// The genesis JSON as given.
    pub fn json(&self) -> &Value {
        &self.json
    }

    /// The raw `config` object.
    pub fn config_json(&self) -> &Value {
        &self.json["config"]
    }

    /// The parsed genesis.
    pub fn genesis(&self) -> &Genesis {
        &self.genesis
    }

    /// The chain id from the config.
    pub fn chain_id(&self) -> u64 {
        self.genesis.config.chain_id
    }

    /// Computes the genesis header: the allocation's state root and the fields of every fork
    /// active at genesis.
    pub fn header(&self) -> Header {
        let g = &self.genesis;
        let state_root = state_root_unhashed(g.alloc.iter().map(|(address, account)| (*address, account.clone().into_trie_account())));
        let time_fork_active = |key: &str| self.json["config"][key].as_u64().is_some_and(|t| t <= g.timestamp);
        let london = g.config.london_block == Some(0);
        let cancun = time_fork_active("cancunTime");
        Header {
            parent_hash: g.parent_hash.unwrap_or_default(),
            ommers_hash: EMPTY_OMMER_ROOT_HASH,
            beneficiary: g.coinbase,
            state_root,
            transactions_root: EMPTY_ROOT_HASH,
            receipts_root: EMPTY_ROOT_HASH,
            logs_bloom: Bloom::ZERO,
            difficulty: g.difficulty,
            number: g.number.unwrap_or(0),
            gas_limit: g.gas_limit,
            gas_used: 0,
            timestamp: g.timestamp,
            extra_data: g.extra_data.clone(),
            mix_hash: g.mix_hash,
            nonce: B64::from(g.nonce),
            base_fee_per_gas: london.then(|| g.base_fee_per_gas.map_or(INITIAL_BASE_FEE, |f| f as u64)),
            withdrawals_root: time_fork_active("shanghaiTime").then_some(EMPTY_WITHDRAWALS),
            blob_gas_used: cancun.then(|| g.blob_gas_used.unwrap_or(0)),
            excess_blob_gas: cancun.then(|| g.excess_blob_gas.unwrap_or(0)),
            parent_beacon_block_root: cancun.then_some(B256::ZERO),
            requests_hash: time_fork_active("pragueTime").then_some(EMPTY_REQUESTS_HASH),
            ..Default::default()
        }
    }

    /// The genesis block hash.
    pub fn hash(&self) -> B256 {
        keccak256(alloy_rlp::encode(self.header()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_alloc_gives_the_empty_state_root() {
        let doc = GenesisDoc::parse(r#"{"config":{"chainId":5},"gasLimit":"0x1388","difficulty":"0x1","alloc":{}}"#).unwrap();
        let h = doc.header();
        assert_eq!(h.state_root, EMPTY_ROOT_HASH);
        assert_eq!(h.gas_limit, 5000);
        assert_eq!(h.base_fee_per_gas, None);
    }

    #[test]
    fn bad_genesis_is_a_clear_error() {
        assert!(matches!(GenesisDoc::parse("{}"), Err(GenesisError::MissingConfig)));
        assert!(matches!(GenesisDoc::parse("not json"), Err(GenesisError::Json(_))));
        assert!(GenesisDoc::parse(r#"{"config":{"chainId":"x"}}"#).is_err());
    }
}
