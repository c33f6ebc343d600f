//! Receipt JSON (`marshalReceipt` in go-ethereum's `internal/ethapi`), with log indices counted
//! across the block and Bor's state-sync receipt last.

use super::{InBlock, address, bytes, hash, qty, tx::Decoded, tx::effective_gas_price};
use alloy_consensus::Transaction as _;
use alloy_primitives::{Address, B256, TxKind};
use hypasis_chain::Receipt;
use serde_json::{Map, Value};

/// The receipts of a block as `eth_getBlockReceipts` shows them. `state_sync` is Bor's pseudo
/// transaction's hash and receipt, when shown.
///
/// # Errors
/// A message when there are not as many receipts as transactions (a corrupt entry).
pub fn receipts_json(
    receipts: &[Receipt],
    txs: &[Decoded],
    block: &InBlock,
    state_sync: Option<(B256, &Receipt)>,
) -> Result<Vec<Value>, String> {
    if receipts.len() != txs.len() {
        return Err(format!("{} receipts for {} transactions", receipts.len(), txs.len()));
    }
    let mut out = Vec::with_capacity(receipts.len() + 1);
    let (mut log_index, mut previous_gas) = (0u64, 0u64);
    for (index, (receipt, decoded)) in receipts.iter().zip(txs).enumerate() {
        let (to, contract, price) = match &decoded.tx {
            Some(tx) => {
                let to = match tx.kind() {
                    TxKind::Call(to) => Some(to),
                    TxKind::Create => None,
                };
                (to, to.is_none().then(|| decoded.from.create(tx.nonce())), effective_gas_price(tx, block.base_fee))
            }
            // A state-sync transaction: from and to the zero address, free.
            None => (Some(Address::ZERO), None, 0),
        };
        let gas_used = receipt.cumulative_gas_used.saturating_sub(previous_gas);
        previous_gas = receipt.cumulative_gas_used;
        let fields = Fields { tx_hash: decoded.hash, index, from: decoded.from, to, contract, gas_used, effective_gas_price: price };
        out.push(receipt_json(receipt, &fields, block, &mut log_index));
    }
    if let Some((tx_hash, receipt)) = state_sync {
        let fields = Fields {
            tx_hash,
            index: receipts.len(),
            from: Address::ZERO,
            to: Some(Address::ZERO),
            contract: None,
            gas_used: 0,
            effective_gas_price: 0,
        };
        out.push(receipt_json(receipt, &fields, block, &mut log_index));
    }
    Ok(out)
}

struct Fields {
    tx_hash: B256,
    index: usize,
    from: Address,
    to: Option<Address>,
    contract: Option<Address>,
    gas_used: u64,
    effective_gas_price: u128,
}

fn receipt_json(receipt: &Receipt, f: &Fields, block: &InBlock, log_index: &mut u64) -> Value {
    let logs: Vec<Value> = receipt
        .logs
        .iter()
        .map(|log| {
            let mut l = Map::new();
            l.insert("address".into(), address(log.address));
            l.insert("topics".into(), Value::Array(log.data.topics().iter().map(|t| hash(*t)).collect()));
            l.insert("data".into(), bytes(&log.data.data));
            l.insert("blockNumber".into(), qty(block.number));
            l.insert("transactionHash".into(), hash(f.tx_hash));
            l.insert("transactionIndex".into(), qty(f.index as u64));
            l.insert("blockHash".into(), hash(block.hash));
            l.insert("logIndex".into(), qty(*log_index));
            l.insert("removed".into(), Value::Bool(false));
            *log_index += 1;
            Value::Object(l)
        })
        .collect();
    let mut out = Map::new();
    out.insert("blockHash".into(), hash(block.hash));
    out.insert("blockNumber".into(), qty(block.number));
    out.insert("contractAddress".into(), f.contract.map_or(Value::Null, address));
    out.insert("cumulativeGasUsed".into(), qty(receipt.cumulative_gas_used));
    out.insert("effectiveGasPrice".into(), Value::String(format!("{:#x}", f.effective_gas_price)));
    out.insert("from".into(), address(f.from));
    out.insert("gasUsed".into(), qty(f.gas_used));
    out.insert("logs".into(), Value::Array(logs));
    out.insert("logsBloom".into(), bytes(receipt.bloom().as_slice()));
    out.insert("status".into(), qty(u64::from(receipt.status.coerce_status())));
    out.insert("to".into(), f.to.map_or(Value::Null, address));
    out.insert("transactionHash".into(), hash(f.tx_hash));
    out.insert("transactionIndex".into(), qty(f.index as u64));
    out.insert("type".into(), qty(u64::from(receipt.tx_type)));
    Value::Object(out)
}
