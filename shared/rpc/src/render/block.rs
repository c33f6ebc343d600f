//! Header and block JSON (`RPCMarshalHeader` / `RPCMarshalBlock`), with Bor's `totalDifficulty`
//! and, before Madhugiri, the state-sync pseudo transaction appended to a sprint-start block
//! with state syncs.

use super::{InBlock, big, bytes, hash, qty, tx};
use crate::render::{Decoded, address};
use alloy_primitives::{B256, U256};
use hypasis_chain::{BlockBody, Receipt, SealedHeader, block::encode_block, rpc_json::state_sync_tx_hash};
use serde_json::{Map, Value};

/// A header's JSON, with `totalDifficulty` when given.
pub fn header_json(sealed: &SealedHeader, total_difficulty: Option<U256>) -> Map<String, Value> {
    let h = sealed.header();
    let mut out = Map::new();
    out.insert("number".into(), qty(h.number));
    out.insert("hash".into(), hash(sealed.hash()));
    out.insert("parentHash".into(), hash(h.parent_hash));
    out.insert("nonce".into(), bytes(h.nonce.as_slice()));
    out.insert("mixHash".into(), hash(h.mix_hash));
    out.insert("sha3Uncles".into(), hash(h.ommers_hash));
    out.insert("logsBloom".into(), bytes(h.logs_bloom.as_slice()));
    out.insert("stateRoot".into(), hash(h.state_root));
    out.insert("miner".into(), address(h.beneficiary));
    out.insert("difficulty".into(), big(h.difficulty));
    out.insert("extraData".into(), bytes(&h.extra_data));
    out.insert("gasLimit".into(), qty(h.gas_limit));
    out.insert("gasUsed".into(), qty(h.gas_used));
    out.insert("timestamp".into(), qty(h.timestamp));
    out.insert("transactionsRoot".into(), hash(h.transactions_root));
    out.insert("receiptsRoot".into(), hash(h.receipts_root));
    if let Some(fee) = h.base_fee_per_gas {
        out.insert("baseFeePerGas".into(), qty(fee));
    }
    if let Some(root) = h.withdrawals_root {
        out.insert("withdrawalsRoot".into(), hash(root));
    }
    if let Some(used) = h.blob_gas_used {
        out.insert("blobGasUsed".into(), qty(used));
    }
    if let Some(excess) = h.excess_blob_gas {
        out.insert("excessBlobGas".into(), qty(excess));
    }
    if let Some(root) = h.parent_beacon_block_root {
        out.insert("parentBeaconBlockRoot".into(), hash(root));
    }
    if let Some(requests) = h.requests_hash {
        out.insert("requestsHash".into(), hash(requests));
    }
    if let Some(td) = total_difficulty {
        out.insert("totalDifficulty".into(), big(td));
    }
    out
}

/// What a block's JSON is built from.
#[derive(Debug, Clone, Copy)]
pub struct BlockJson<'a> {
    /// The header.
    pub header: &'a SealedHeader,
    /// Total difficulty through it.
    pub total_difficulty: U256,
    /// The body.
    pub body: &'a BlockBody,
    /// Its transactions, decoded.
    pub txs: &'a [Decoded],
    /// The state-sync receipt to show as Bor's pseudo transaction (only before Madhugiri).
    pub state_sync: Option<&'a Receipt>,
}

impl BlockJson<'_> {
    /// Where its transactions sit.
    pub fn in_block(&self) -> InBlock {
        InBlock { hash: self.header.hash(), number: self.header.number(), base_fee: self.header.base_fee_per_gas }
    }

    /// The pseudo transaction's hash, when one is shown.
    pub fn state_sync_hash(&self) -> Option<B256> {
        self.state_sync.map(|_| state_sync_tx_hash(self.header.number(), self.header.hash()))
    }
}

/// A block's JSON: the header, `size`, `totalDifficulty`, `uncles`, `withdrawals` when the
/// block has them, and the transactions as hashes or full objects.
pub fn block_json(block: &BlockJson<'_>, full: bool) -> Value {
    let mut out = header_json(block.header, Some(block.total_difficulty));
    let mut rlp = Vec::new();
    encode_block(block.header, block.body, &mut rlp);
    out.insert("size".into(), qty(rlp.len() as u64));
    let in_block = block.in_block();
    let mut txs: Vec<Value> = if full {
        block.txs.iter().enumerate().map(|(i, d)| tx::tx_json(d, i, &in_block)).collect()
    } else {
        block.txs.iter().map(|d| hash(d.hash)).collect()
    };
    if let Some(pseudo) = block.state_sync_hash() {
        txs.push(if full { tx::state_sync_tx_json(pseudo, block.txs.len(), &in_block) } else { hash(pseudo) });
    }
    out.insert("transactions".into(), Value::Array(txs));
    let uncles = block.body.ommers.iter().map(|o| hash(SealedHeader::seal(o.clone()).hash())).collect();
    out.insert("uncles".into(), Value::Array(uncles));
    if let Some(withdrawals) = &block.body.withdrawals {
        out.insert("withdrawals".into(), serde_json::to_value(withdrawals).unwrap_or(Value::Null));
    }
    Value::Object(out)
}
