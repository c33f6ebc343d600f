//! The devnet's geth-style genesis, with a Bor config section.

use crate::DevnetConfig;
use alloy_primitives::Address;
use hypasis_chain::bor::{EXTRA_SEAL, EXTRA_VANITY};
use serde_json::{Map, Value, json};

/// Balance of every funded account: 1,000,000 ether.
pub const ACCOUNT_BALANCE_WEI: &str = "0xd3c21bcecceda1000000";

/// Initial base fee: 1 gwei.
pub const GENESIS_BASE_FEE: u64 = 1_000_000_000;

/// Block gas limit.
pub const GAS_LIMIT: u64 = 30_000_000;

/// Builds the genesis JSON.
pub fn genesis_json(config: &DevnetConfig, validators: &[Address], accounts: &[Address]) -> Value {
    let mut alloc = Map::new();
    for address in accounts.iter().chain(validators) {
        alloc.insert(format!("{address:#x}"), json!({ "balance": ACCOUNT_BALANCE_WEI }));
    }
    let extra = format!("0x{}", "00".repeat(EXTRA_VANITY + EXTRA_SEAL));
    json!({
        "config": {
            "chainId": config.chain_id,
            "homesteadBlock": 0, "eip150Block": 0, "eip155Block": 0, "eip158Block": 0,
            "byzantiumBlock": 0, "constantinopleBlock": 0, "petersburgBlock": 0, "istanbulBlock": 0,
            "muirGlacierBlock": 0, "berlinBlock": 0, "londonBlock": 0, "shanghaiBlock": 0,
            "cancunBlock": config.cancun_block,
            "bor": {
                "period": { "0": config.block_time },
                "producerDelay": { "0": config.block_time },
                "sprint": { "0": config.sprint },
                "backupMultiplier": { "0": config.block_time },
                "validatorContract": "0x0000000000000000000000000000000000001000",
                "stateReceiverContract": "0x0000000000000000000000000000000000001001",
                "jaipurBlock": 0, "delhiBlock": 0, "indoreBlock": 0
            }
        },
        "nonce": "0x0",
        "timestamp": format!("{:#x}", config.genesis_timestamp),
        "extraData": extra,
        "gasLimit": format!("{GAS_LIMIT:#x}"),
        "difficulty": "0x1",
        "mixHash": "0x0000000000000000000000000000000000000000000000000000000000000000",
        "coinbase": "0x0000000000000000000000000000000000000000",
        "alloc": alloc,
        "number": "0x0",
        "gasUsed": "0x0",
        "parentHash": "0x0000000000000000000000000000000000000000000000000000000000000000",
        "baseFeePerGas": format!("{GENESIS_BASE_FEE:#x}")
    })
}
