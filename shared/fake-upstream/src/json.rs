//! Blocks and receipts as standard Ethereum JSON, built with alloy's RPC types so the shapes are
//! the ones clients parse (and [`hypasis_chain::rpc_json::block_from_rpc`] turns back into the
//! same block).

use crate::error::RpcError;
use alloy_consensus::{
    ReceiptEnvelope, ReceiptWithBloom, Transaction as _, TxEnvelope, TxType,
    transaction::{Recovered, SignerRecoverable, TransactionInfo},
};
use alloy_eips::{Decodable2718, eip4895::Withdrawals};
use alloy_primitives::U256;
use alloy_rpc_types_eth::{Block as RpcBlock, BlockTransactions, Header as RpcHeader, Log as RpcLog, Transaction, TransactionReceipt};
use hypasis_chain::{Block, RawTx, block::encode_block};
use serde_json::Value;

/// `eth_getBlockByNumber` / `eth_getBlockByHash`: the block with `totalDifficulty` and `size`,
/// and full transaction objects when `full`, else transaction hashes.
pub(crate) fn block(block: &Block, full: bool) -> Result<Value, RpcError> {
    let transactions = if full {
        let info = |index: usize, raw: &RawTx| TransactionInfo {
            hash: Some(raw.hash()),
            index: Some(index as u64),
            block_hash: Some(block.hash()),
            block_number: Some(block.number()),
            base_fee: block.header.base_fee_per_gas,
            block_timestamp: None,
        };
        let txs = block.body.transactions.iter().enumerate().map(|(i, raw)| Ok(Transaction::from_transaction(recover(raw)?, info(i, raw))));
        BlockTransactions::Full(txs.collect::<Result<_, RpcError>>()?)
    } else {
        BlockTransactions::Hashes(block.body.transactions.iter().map(RawTx::hash).collect())
    };
    let mut rlp = Vec::new();
    encode_block(&block.header, &block.body, &mut rlp);
    let rpc: RpcBlock = RpcBlock {
        header: RpcHeader {
            hash: block.hash(),
            inner: block.header.header().clone(),
            total_difficulty: Some(block.total_difficulty),
            size: Some(U256::from(rlp.len())),
        },
        uncles: block.body.ommers.iter().map(|h| h.hash_slow()).collect(),
        transactions,
        withdrawals: block.body.withdrawals.clone().map(Withdrawals::new),
    };
    let mut value = to_value(&rpc)?;
    // Like Bor's RPC before Madhugiri: a block with state syncs lists a pseudo transaction
    // (from and to the zero address, zero signature) whose hash is derived from the block.
    if block.state_sync_receipt.is_some()
        && let Some(list) = value.get_mut("transactions").and_then(Value::as_array_mut)
    {
        let hash = hypasis_chain::rpc_json::state_sync_tx_hash(block.number(), block.hash());
        list.push(if full {
            serde_json::json!({
                "type": "0x0", "hash": hash, "nonce": "0x0", "blockHash": block.hash(), "blockNumber": format!("{:#x}", block.number()),
                "transactionIndex": format!("{:#x}", block.body.transactions.len()), "from": alloy_primitives::Address::ZERO,
                "to": alloy_primitives::Address::ZERO, "value": "0x0", "gas": "0x0", "gasPrice": "0x0", "input": "0x",
                "v": "0x0", "r": "0x0", "s": "0x0",
            })
        } else {
            serde_json::json!(hash)
        });
    }
    Ok(value)
}

/// `eth_getBlockReceipts`: the receipts of `served`, each described with the transaction at its
/// index in the devnet's block `truth` (so a lie about the body or the receipts' order shows in
/// the consensus fields, not in which transactions the receipts name).
pub(crate) fn receipts(served: &Block, truth: &Block) -> Result<Value, RpcError> {
    let receipts = served.receipts.as_deref().unwrap_or_default();
    let mut out = Vec::with_capacity(receipts.len());
    let mut log_index = 0u64;
    let mut previous_cumulative = 0u64;
    for (index, receipt) in receipts.iter().enumerate() {
        let raw = truth
            .body
            .transactions
            .get(index)
            .ok_or_else(|| RpcError::Internal(format!("block {} has no transaction {index} for its receipt", served.number())))?;
        let tx = recover(raw)?;
        let logs = receipt
            .logs
            .iter()
            .map(|log| {
                log_index += 1;
                RpcLog {
                    inner: log.clone(),
                    block_hash: Some(served.hash()),
                    block_number: Some(served.number()),
                    block_timestamp: None,
                    transaction_hash: Some(raw.hash()),
                    transaction_index: Some(index as u64),
                    log_index: Some(log_index - 1),
                    removed: false,
                }
            })
            .collect();
        let tx_type =
            TxType::try_from(receipt.tx_type).map_err(|e| RpcError::Internal(format!("block {} receipt {index}: {e}", served.number())))?;
        let consensus = alloy_consensus::Receipt { status: receipt.status, cumulative_gas_used: receipt.cumulative_gas_used, logs };
        out.push(TransactionReceipt {
            inner: ReceiptEnvelope::from_typed(tx_type, ReceiptWithBloom::new(consensus, receipt.bloom())),
            transaction_hash: raw.hash(),
            transaction_index: Some(index as u64),
            block_hash: Some(served.hash()),
            block_number: Some(served.number()),
            gas_used: receipt.cumulative_gas_used.saturating_sub(previous_cumulative),
            effective_gas_price: tx.effective_gas_price(served.header.base_fee_per_gas),
            blob_gas_used: None,
            blob_gas_price: None,
            from: tx.signer(),
            to: tx.to(),
            contract_address: None,
        });
        previous_cumulative = receipt.cumulative_gas_used;
    }
    let mut value = to_value(&out)?;
    // The pseudo state-sync transaction's receipt comes last, as on Bor before Madhugiri.
    if let (Some(list), Value::Object(_)) = (value.as_array_mut(), state_sync_receipt(served)?) {
        list.push(state_sync_receipt(served)?);
    }
    Ok(value)
}

/// Bor's `eth_getBorBlockReceipt` answer: the block's state-sync receipt as a receipt object
/// (transaction hash derived from the block, from and to the zero address), or null. Its log
/// indices continue after the block's other logs (Bor's `DeriveFieldsForBorReceipt`).
pub(crate) fn state_sync_receipt(block: &Block) -> Result<Value, RpcError> {
    let Some(receipt) = &block.state_sync_receipt else { return Ok(Value::Null) };
    let first_log = block.receipts.as_deref().unwrap_or_default().iter().map(|r| r.logs.len() as u64).sum::<u64>();
    let tx_hash = hypasis_chain::rpc_json::state_sync_tx_hash(block.number(), block.hash());
    let logs = receipt
        .logs
        .iter()
        .enumerate()
        .map(|(i, log)| RpcLog {
            inner: log.clone(),
            block_hash: Some(block.hash()),
            block_number: Some(block.number()),
            block_timestamp: None,
            transaction_hash: Some(tx_hash),
            transaction_index: Some(block.body.transactions.len() as u64),
            log_index: Some(first_log + i as u64),
            removed: false,
        })
        .collect();
    let consensus = alloy_consensus::Receipt { status: receipt.status, cumulative_gas_used: receipt.cumulative_gas_used, logs };
    to_value(&TransactionReceipt {
        inner: ReceiptEnvelope::from_typed(TxType::Legacy, ReceiptWithBloom::new(consensus, receipt.bloom())),
        transaction_hash: tx_hash,
        transaction_index: Some(block.body.transactions.len() as u64),
        block_hash: Some(block.hash()),
        block_number: Some(block.number()),
        gas_used: 0,
        effective_gas_price: 0,
        blob_gas_used: None,
        blob_gas_price: None,
        from: alloy_primitives::Address::ZERO,
        to: Some(alloy_primitives::Address::ZERO),
        contract_address: None,
    })
}

/// Decodes a transaction and recovers its sender.
fn recover(raw: &RawTx) -> Result<Recovered<TxEnvelope>, RpcError> {
    let envelope = TxEnvelope::decode_2718(&mut raw.as_bytes().as_ref())
        .map_err(|e| RpcError::Internal(format!("transaction {} does not decode: {e}", raw.hash())))?;
    let signer =
        envelope.recover_signer().map_err(|e| RpcError::Internal(format!("transaction {}: cannot recover the sender: {e}", raw.hash())))?;
    Ok(Recovered::new_unchecked(envelope, signer))
}

fn to_value(value: &impl serde::Serialize) -> Result<Value, RpcError> {
    serde_json::to_value(value).map_err(|e| RpcError::Internal(format!("cannot serialise the answer: {e}")))
}
