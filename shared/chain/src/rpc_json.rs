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

/// Hash of Bor's pseudo state-sync transaction of a block: `keccak256("matic-bor-receipt-" ‖
/// number (8 bytes, big endian) ‖ block hash)`. Before Madhugiri, Bor's RPC appends such a
/// transaction (and its receipt) to sprint-start blocks with state syncs; it is not part of the
/// block (not in `transactionsRoot` nor `receiptsRoot`).
pub fn state_sync_tx_hash(number: u64, block_hash: B256) -> B256 {
    let mut key = Vec::with_capacity(18 + 8 + 32);
    key.extend_from_slice(b"matic-bor-receipt-");
    key.extend_from_slice(&number.to_be_bytes());
    key.extend_from_slice(block_hash.as_slice());
    alloy_primitives::keccak256(key)
}

/// A block from RPC JSON, with the pseudo state-sync receipt that was stripped from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolygonBlock {
    /// The consensus block (verified).
    pub block: Block,
    /// The receipt of Bor's pseudo state-sync transaction, when the RPC appended one.
    pub state_sync_receipt: Option<Receipt>,
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
    block_from_rpc_polygon(block, receipts, total_difficulty, None).map(|b| b.block)
}

/// Like [`block_from_rpc`], applying Polygon's state-sync rule: before `madhugiri_block` (or on
/// any block when it is `None`) a transaction whose hash is [`state_sync_tx_hash`] is not part of
/// the block: it and its receipt are removed, and the receipt is returned beside the block. From
/// Madhugiri on, the state-sync transaction (type 0x7F) is ordinary consensus data.
///
/// # Errors
/// [`RpcJsonError`] when the JSON is malformed or any hash or root does not match.
pub fn block_from_rpc_polygon(
    block: &serde_json::Value,
    receipts: &serde_json::Value,
    total_difficulty: Option<U256>,
    madhugiri_block: Option<u64>,
) -> Result<PolygonBlock, RpcJsonError> {
    let (block, receipts, state_sync_receipt) = strip_state_sync(block, receipts, madhugiri_block)?;
    let block = convert(&block, &receipts, total_difficulty)?;
    Ok(PolygonBlock { block, state_sync_receipt })
}

/// Removes the pseudo state-sync transaction and its receipt from the JSON, when present.
fn strip_state_sync(
    block: &serde_json::Value,
    receipts: &serde_json::Value,
    madhugiri_block: Option<u64>,
) -> Result<(serde_json::Value, serde_json::Value, Option<Receipt>), RpcJsonError> {
    let (mut block, mut receipts) = (block.clone(), receipts.clone());
    let number = block.get("number").and_then(|v| v.as_str()).and_then(|s| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok());
    let hash = block.get("hash").and_then(|v| v.as_str()).and_then(|s| s.parse::<B256>().ok());
    let (Some(number), Some(hash)) = (number, hash) else { return Ok((block, receipts, None)) };
    if madhugiri_block.is_some_and(|m| number >= m) {
        return Ok((block, receipts, None));
    }
    let pseudo = format!("{:#x}", state_sync_tx_hash(number, hash));
    let is_pseudo = |tx: &serde_json::Value| tx.get("hash").and_then(|h| h.as_str()).is_some_and(|h| h.eq_ignore_ascii_case(&pseudo));
    let Some(txs) = block.get_mut("transactions").and_then(|t| t.as_array_mut()) else { return Ok((block, receipts, None)) };
    let Some(index) = txs.iter().position(is_pseudo) else { return Ok((block, receipts, None)) };
    txs.remove(index);
    let is_pseudo_receipt =
        |r: &serde_json::Value| r.get("transactionHash").and_then(|h| h.as_str()).is_some_and(|h| h.eq_ignore_ascii_case(&pseudo));
    let receipt = receipts.as_array_mut().and_then(|list| list.iter().position(is_pseudo_receipt).map(|at| list.remove(at)));
    let receipt = match receipt {
        Some(json) => {
            let r: TransactionReceipt = serde_json::from_value(json)?;
            let inner = r.inner.as_receipt().ok_or_else(|| RpcJsonError::Receipt {
                number,
                index,
                reason: "unsupported state-sync receipt".into(),
            })?;
            Some(Receipt {
                tx_type: 0,
                status: inner.status,
                cumulative_gas_used: inner.cumulative_gas_used,
                logs: inner.logs.iter().map(|l| l.inner.clone()).collect(),
            })
        }
        None => None,
    };
    Ok((block, receipts, receipt))
}

fn convert(block: &serde_json::Value, receipts: &serde_json::Value, total_difficulty: Option<U256>) -> Result<Block, RpcJsonError> {
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
    let block = Block { header, body, receipts: Some(receipts), total_difficulty, state_sync_receipt: None };
    block.verify()?;
    Ok(block)
}
