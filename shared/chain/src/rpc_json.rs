//! Consensus data from JSON-RPC answers: `eth_getBlockByNumber(n, true)` and
//! `eth_getBlockReceipts(n)`.
//!
//! Every conversion is checked: the header must hash to the block's `hash`, each transaction to
//! its `hash`, and body and receipts to the header's roots. Nothing an upstream says is trusted.

use crate::{Block, BlockBody, RawTx, Receipt, SealedHeader, block::BlockError};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{B256, Bytes, U256};
use alloy_rpc_types_eth::{Block as RpcBlock, BlockTransactions, TransactionReceipt};

/// Why an RPC answer could not be turned into a verified block.
#[derive(Debug, thiserror::Error)]
pub enum RpcJsonError {
    /// The JSON does not have the expected shape.
    #[error("unexpected JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// The block came without full transaction objects.
    #[error("block {0} has transaction hashes only; request it with full transactions")]
    HashesOnly(u64),
    /// The block has uncles, which an RPC block does not carry in full.
    #[error("block {0} has uncles; they cannot be rebuilt from eth_getBlockByNumber")]
    HasUncles(u64),
    /// The header does not hash to the block hash the upstream gave.
    #[error("block {number}: header hashes to {computed}, upstream says {claimed}")]
    HeaderHash {
        /// Block number.
        number: u64,
        /// Hash of the rebuilt header.
        computed: B256,
        /// Hash in the JSON.
        claimed: B256,
    },
    /// A transaction does not hash to its claimed hash.
    #[error("block {number} transaction {index}: encodes to hash {computed}, upstream says {claimed}")]
    TxHash {
        /// Block number.
        number: u64,
        /// Index in the block.
        index: usize,
        /// Hash of the rebuilt transaction.
        computed: B256,
        /// Hash in the JSON.
        claimed: B256,
    },
    /// A receipt's transaction type is not one we can encode.
    #[error("block {number} receipt {index}: {reason}")]
    Receipt {
        /// Block number.
        number: u64,
        /// Index in the block.
        index: usize,
        /// What is wrong.
        reason: String,
    },
    /// Body or receipts do not match the header.
    #[error(transparent)]
    Mismatch(#[from] BlockError),
}

/// Builds a verified [`Block`] from the two RPC answers. The total difficulty comes from the
/// block's `totalDifficulty` field when present, else from `total_difficulty`.
///
/// # Errors
/// [`RpcJsonError`] when the JSON is malformed or any hash or root does not match.
pub fn block_from_rpc(
    block: &serde_json::Value,
    receipts: &serde_json::Value,
    total_difficulty: Option<U256>,
) -> Result<Block, RpcJsonError> {
    let block: RpcBlock = serde_json::from_value(block.clone())?;
    let receipts: Vec<TransactionReceipt> = serde_json::from_value(receipts.clone())?;
    let number = block.header.inner.number;
    let header = SealedHeader::seal(block.header.inner);
    if header.hash() != block.header.hash {
        return Err(RpcJsonError::HeaderHash { number, computed: header.hash(), claimed: block.header.hash });
    }
    if !block.uncles.is_empty() {
        return Err(RpcJsonError::HasUncles(number));
    }
    let BlockTransactions::Full(txs) = block.transactions else { return Err(RpcJsonError::HashesOnly(number)) };
    let mut transactions = Vec::with_capacity(txs.len());
    for (index, tx) in txs.iter().enumerate() {
        let envelope = tx.inner.inner();
        let raw =
            RawTx::new(Bytes::from(envelope.encoded_2718())).map_err(|e| RpcJsonError::Receipt { number, index, reason: e.to_string() })?;
        let claimed = *envelope.tx_hash();
        if raw.hash() != claimed {
            return Err(RpcJsonError::TxHash { number, index, computed: raw.hash(), claimed });
        }
        transactions.push(raw);
    }
    let receipts = receipts
        .iter()
        .enumerate()
        .map(|(index, r)| {
            let inner =
                r.inner.as_receipt().ok_or_else(|| RpcJsonError::Receipt { number, index, reason: "unsupported receipt type".into() })?;
            Ok(Receipt {
                tx_type: r.inner.tx_type() as u8,
                status: inner.status,
                cumulative_gas_used: inner.cumulative_gas_used,
                logs: inner.logs.iter().map(|l| l.inner.clone()).collect(),
            })
        })
        .collect::<Result<Vec<_>, RpcJsonError>>()?;
    let body = BlockBody { transactions, ommers: Vec::new(), withdrawals: block.withdrawals.map(|w| w.0) };
    let total_difficulty = block.header.total_difficulty.or(total_difficulty).unwrap_or_default();
    let block = Block { header, body, receipts: Some(receipts), total_difficulty };
    block.verify()?;
    Ok(block)
}
