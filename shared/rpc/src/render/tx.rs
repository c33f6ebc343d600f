//! Transaction JSON (`newRPCTransaction` in go-ethereum's `internal/ethapi`).

use super::{InBlock, address, big, big128, bytes, data, hash, qty};
use alloy_consensus::{Transaction, TxEnvelope, transaction::SignerRecoverable};
use alloy_eips::eip2718::Decodable2718;
use alloy_primitives::{Address, B256, TxKind};
use hypasis_chain::RawTx;
use serde_json::{Map, Value, json};

/// Bor's state-sync transaction type (from Madhugiri on, part of the body; unsigned).
pub const STATE_SYNC_TX_TYPE: u8 = 0x7f;

/// A transaction of a stored block, decoded, with its sender.
#[derive(Debug, Clone)]
pub struct Decoded {
    /// The signed transaction; `None` for Bor's state-sync transaction (type `0x7F`), which is
    /// not signed and which alloy does not model.
    pub tx: Option<TxEnvelope>,
    /// Its hash.
    pub hash: B256,
    /// Who signed it (the zero address for a state-sync transaction).
    pub from: Address,
}

/// Decodes a block's transactions and recovers their senders.
///
/// # Errors
/// A message when a stored transaction does not decode or its signature does not recover (the
/// cache holds only verified blocks, so this means a corrupt entry).
pub fn decode_transactions(raw: &[RawTx]) -> Result<Vec<Decoded>, String> {
    raw.iter()
        .enumerate()
        .map(|(index, raw)| {
            if raw.tx_type() == STATE_SYNC_TX_TYPE {
                return Ok(Decoded { hash: raw.hash(), from: Address::ZERO, tx: None });
            }
            let tx = TxEnvelope::decode_2718(&mut raw.as_bytes().as_ref()).map_err(|e| format!("transaction {index}: {e}"))?;
            let from = tx.recover_signer().map_err(|e| format!("transaction {index}: sender: {e}"))?;
            Ok(Decoded { hash: raw.hash(), from, tx: Some(tx) })
        })
        .collect()
}

/// What a 1559-style transaction pays per gas in a block with `base_fee`.
pub(crate) fn effective_gas_price(tx: &TxEnvelope, base_fee: Option<u64>) -> u128 {
    match base_fee {
        Some(base) if tx.is_dynamic_fee() => {
            let tip = tx.max_priority_fee_per_gas().unwrap_or_default();
            (u128::from(base) + tip).min(tx.max_fee_per_gas())
        }
        _ => tx.max_fee_per_gas(),
    }
}

/// A transaction's JSON at `index` of a block.
pub fn tx_json(decoded: &Decoded, index: usize, block: &InBlock) -> Value {
    let Some(tx) = &decoded.tx else { return state_sync_tx(decoded.hash, index, block) };
    let mut out = Map::new();
    out.insert("blockHash".into(), hash(block.hash));
    out.insert("blockNumber".into(), qty(block.number));
    out.insert("from".into(), address(decoded.from));
    out.insert("gas".into(), qty(tx.gas_limit()));
    out.insert("gasPrice".into(), big128(effective_gas_price(tx, block.base_fee)));
    if tx.is_dynamic_fee() {
        out.insert("maxFeePerGas".into(), big128(tx.max_fee_per_gas()));
        out.insert("maxPriorityFeePerGas".into(), big128(tx.max_priority_fee_per_gas().unwrap_or_default()));
    }
    out.insert("hash".into(), hash(decoded.hash));
    out.insert("input".into(), data(tx.input()));
    out.insert("nonce".into(), qty(tx.nonce()));
    out.insert(
        "to".into(),
        match tx.kind() {
            TxKind::Call(to) => address(to),
            TxKind::Create => Value::Null,
        },
    );
    out.insert("transactionIndex".into(), qty(index as u64));
    out.insert("value".into(), big(tx.value()));
    out.insert("type".into(), qty(u64::from(u8::from(tx.tx_type()))));
    let signature = tx.signature();
    let parity = u64::from(signature.v());
    if let Some(list) = tx.access_list() {
        out.insert("accessList".into(), serde_json::to_value(list).unwrap_or(Value::Null));
    }
    if let Some(chain_id) = tx.chain_id() {
        out.insert("chainId".into(), qty(chain_id));
    }
    if let Some(blob) = tx.max_fee_per_blob_gas() {
        out.insert("maxFeePerBlobGas".into(), big128(blob));
        let hashes: Vec<Value> = tx.blob_versioned_hashes().unwrap_or_default().iter().map(|h| hash(*h)).collect();
        out.insert("blobVersionedHashes".into(), Value::Array(hashes));
    }
    if let Some(list) = tx.authorization_list() {
        out.insert("authorizationList".into(), serde_json::to_value(list).unwrap_or(Value::Null));
    }
    let v = match tx {
        TxEnvelope::Legacy(_) => match tx.chain_id() {
            Some(id) => id * 2 + 35 + parity,
            None => 27 + parity,
        },
        _ => {
            out.insert("yParity".into(), qty(parity));
            parity
        }
    };
    out.insert("v".into(), qty(v));
    out.insert("r".into(), big(signature.r()));
    out.insert("s".into(), big(signature.s()));
    Value::Object(out)
}

/// A post-Madhugiri state-sync transaction (type `0x7F`): its hash, type and position; its
/// payload (the state-sync events) is not decoded, every other field is zero.
fn state_sync_tx(tx_hash: B256, index: usize, block: &InBlock) -> Value {
    let mut value = state_sync_tx_json(tx_hash, index, block);
    value["type"] = qty(u64::from(STATE_SYNC_TX_TYPE));
    value
}

/// Bor's pseudo transaction for a block's state syncs (before Madhugiri): a zero legacy
/// transaction with the derived hash, shown last.
pub fn state_sync_tx_json(tx_hash: B256, index: usize, block: &InBlock) -> Value {
    let zero = address(Address::ZERO);
    json!({
        "blockHash": hash(block.hash),
        "blockNumber": qty(block.number),
        "from": zero,
        "gas": qty(0),
        "gasPrice": qty(0),
        "hash": hash(tx_hash),
        "input": bytes(&[]),
        "nonce": qty(0),
        "to": zero,
        "transactionIndex": qty(index as u64),
        "value": qty(0),
        "type": qty(0),
        "v": qty(0),
        "r": qty(0),
        "s": qty(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_post_madhugiri_state_sync_transaction_renders_without_a_signature() {
        // Type 0x7F and an RLP payload alloy does not model.
        let raw = RawTx::new(alloy_primitives::Bytes::from(vec![0x7f, 0xc3, 0x01, 0x02, 0x03])).expect("a typed transaction");
        let decoded = decode_transactions(std::slice::from_ref(&raw)).expect("not refused as corrupt");
        assert!(decoded[0].tx.is_none());
        let block = InBlock { hash: B256::repeat_byte(1), number: 7, base_fee: Some(7) };
        let json = tx_json(&decoded[0], 3, &block);
        assert_eq!((json["type"].as_str(), json["hash"].as_str()), (Some("0x7f"), Some(format!("{:#x}", raw.hash()).as_str())));
        assert_eq!(json["transactionIndex"], "0x3");
        let receipts = crate::render::receipts_json(
            &[hypasis_chain::Receipt { tx_type: 0x7f, status: true.into(), cumulative_gas_used: 0, logs: vec![] }],
            &decoded,
            &block,
            None,
        )
        .expect("rendered");
        assert_eq!(receipts[0]["from"], json!(Address::ZERO));
        assert!(crate::render::receipts_json(&[], &decoded, &block, None).is_err(), "count mismatch refused");
    }
}
