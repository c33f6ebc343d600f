//! Block, header, transaction and receipt JSON built from consensus data, in Bor v1.5.5's
//! shapes (go-ethereum's `RPCMarshalHeader`, `newRPCTransaction`, `marshalReceipt`, plus Bor's
//! `totalDifficulty` and pre-Madhugiri state-sync pseudo transaction). Never from stored
//! upstream JSON: every field is derived from what the cache verified.
//!
//! Quantities are hex without leading zeros (`0x0` for zero), byte strings hex with `0x`,
//! addresses lower-case, as go-ethereum's `hexutil` writes them.

mod block;
mod receipt;
mod tx;

pub use block::{BlockJson, block_json, header_json};
pub use receipt::receipts_json;
pub use tx::{Decoded, STATE_SYNC_TX_TYPE, decode_transactions, state_sync_tx_json, tx_json};

use alloy_primitives::{Address, B256, Bytes, U256, hex};
use serde_json::Value;

/// `0x…` quantity.
pub fn qty(n: u64) -> Value {
    Value::String(format!("{n:#x}"))
}

/// `0x…` quantity of a 256-bit number.
pub fn big(n: U256) -> Value {
    Value::String(format!("{n:#x}"))
}

/// `0x…` quantity of a 128-bit number.
pub(crate) fn big128(n: u128) -> Value {
    Value::String(format!("{n:#x}"))
}

/// `0x` and the bytes in hex.
pub(crate) fn bytes(b: &[u8]) -> Value {
    Value::String(hex::encode_prefixed(b))
}

/// A hash.
pub(crate) fn hash(h: B256) -> Value {
    Value::String(format!("{h:#x}"))
}

/// A lower-case address.
pub fn address(a: Address) -> Value {
    Value::String(format!("{a:#x}"))
}

/// Input data.
pub(crate) fn data(b: &Bytes) -> Value {
    bytes(b)
}

/// The context a transaction or receipt is shown in.
#[derive(Debug, Clone, Copy)]
pub struct InBlock {
    /// Block hash.
    pub hash: B256,
    /// Block number.
    pub number: u64,
    /// Base fee, from London.
    pub base_fee: Option<u64>,
}
