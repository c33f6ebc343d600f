//! Method dispatch: each JSON-RPC method, its parameters and its answer.
//!
//! A block parameter is a hex quantity (`"0x1a"`) or a tag: `"earliest"` is genesis,
//! `"latest"`, `"pending"`, `"safe"` and `"finalized"` are the head. A block the chain does not
//! have (yet) answers `null`.

use crate::{
    error::RpcError,
    json,
    rootchain::{self, ROOTCHAIN_ADDRESS},
    state::Shared,
};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, B256, Bytes, hex};
use hypasis_chain::{Block, block::encode_block};
use serde_json::{Value, json};
use std::sync::Arc;

/// Answers one call, counting it first.
pub(crate) fn call(shared: &Shared, method: &str, params: &Value) -> Result<Value, RpcError> {
    shared.counters.call(method);
    let params = Params::new(params);
    let head = shared.chain.read().head();
    match method {
        "eth_chainId" => Ok(quantity(shared.chain_id)),
        "net_version" => Ok(Value::String(shared.chain_id.to_string())),
        "web3_clientVersion" => Ok(Value::String(concat!("hypasis-devnet/v", env!("CARGO_PKG_VERSION")).to_owned())),
        "eth_blockNumber" => Ok(quantity(head)),
        "eth_getBlockByNumber" => {
            let number = params.block_number(0, head)?;
            let full = params.flag(1)?;
            block(shared, Lookup::Number(number), full)
        }
        "eth_getBlockByHash" => {
            let hash = params.hash(0)?;
            let full = params.flag(1)?;
            block(shared, Lookup::Hash(hash), full)
        }
        "eth_getBlockReceipts" => fetch(shared, params.block(0, head)?, json::receipts),
        "eth_getTdByNumber" if shared.td_methods => {
            Ok(lookup(shared, Lookup::Number(params.block_number(0, head)?))
                .map_or(Value::Null, |(served, _)| json!(served.total_difficulty)))
        }
        "eth_getTdByHash" if shared.td_methods => {
            Ok(lookup(shared, Lookup::Hash(params.hash(0)?)).map_or(Value::Null, |(served, _)| json!(served.total_difficulty)))
        }
        "eth_call" => eth_call(shared, &params),
        // Bor: the state-sync receipt of a block (null when it has none). Not a block fetch.
        // Bor answers -32000 "not found" for a block without one, not null.
        "eth_getBorBlockReceipt" => match lookup(shared, Lookup::Hash(params.hash(0)?)) {
            Some((served, _)) if served.state_sync_receipt.is_some() => json::state_sync_receipt(&served),
            _ => Err(RpcError::NotFound),
        },
        "debug_getRawHeader" if shared.raw_methods => {
            fetch(shared, params.block(0, head)?, |served, _| Ok(Value::String(hex::encode_prefixed(served.header.rlp()))))
        }
        "debug_getRawBlock" if shared.raw_methods => fetch(shared, params.block(0, head)?, |served, _| {
            let mut rlp = Vec::new();
            encode_block(&served.header, &served.body, &mut rlp);
            Ok(Value::String(hex::encode_prefixed(rlp)))
        }),
        "debug_getRawReceipts" if shared.raw_methods => fetch(shared, params.block(0, head)?, |served, _| {
            let receipts = served.receipts.as_deref().unwrap_or_default();
            Ok(receipts.iter().map(|r| Value::String(hex::encode_prefixed(r.encoded_2718()))).collect())
        }),
        _ => Err(RpcError::MethodNotFound(method.to_owned())),
    }
}

/// `eth_call`: the fake RootChain contract answers; any other address has no code and answers
/// empty bytes. The block parameter is ignored (the contract is read at its latest state).
fn eth_call(shared: &Shared, params: &Params<'_>) -> Result<Value, RpcError> {
    let call =
        params.get(0, "call object")?.as_object().ok_or_else(|| RpcError::InvalidParams("the call object must be an object".into()))?;
    let to: Option<Address> = match call.get("to") {
        None | Some(Value::Null) => None,
        Some(to) => Some(parse(to, "call object field \"to\" (an address)")?),
    };
    let data: Bytes = match call.get("input").or_else(|| call.get("data")) {
        None | Some(Value::Null) => Bytes::new(),
        Some(data) => parse(data, "call object field \"input\"/\"data\" (hex bytes)")?,
    };
    if to != Some(ROOTCHAIN_ADDRESS) {
        return Ok(Value::String("0x".into()));
    }
    let answer = rootchain::call(shared.chain.read().checkpoints(), &data)?;
    Ok(Value::String(hex::encode_prefixed(answer)))
}

/// How a block is asked for.
#[derive(Debug, Clone, Copy)]
enum Lookup {
    Number(u64),
    Hash(B256),
}

/// The served and the true block, when the chain has it.
fn lookup(shared: &Shared, lookup: Lookup) -> Option<(Arc<Block>, Arc<Block>)> {
    let chain = shared.chain.read();
    let served = match lookup {
        Lookup::Number(number) => chain.served(number)?,
        Lookup::Hash(hash) => chain.served_by_hash(&hash)?,
    };
    let truth = chain.truth(served.number())?;
    Some((served, truth))
}

/// Block JSON; with transaction hashes only (`full` false) it is a header read, not counted as
/// a fetch of the block.
fn block(shared: &Shared, lookup_by: Lookup, full: bool) -> Result<Value, RpcError> {
    if full {
        return fetch(shared, lookup_by, |served, _| json::block(served, full));
    }
    lookup(shared, lookup_by).map_or(Ok(Value::Null), |(served, _)| json::block(&served, false))
}

/// Renders a block with `render`, counting the fetch; `null` when the chain lacks the block.
fn fetch(shared: &Shared, block: Lookup, render: impl FnOnce(&Block, &Block) -> Result<Value, RpcError>) -> Result<Value, RpcError> {
    let Some((served, truth)) = lookup(shared, block) else { return Ok(Value::Null) };
    shared.counters.fetch(served.number());
    render(&served, &truth)
}

fn quantity(n: u64) -> Value {
    Value::String(format!("{n:#x}"))
}

fn parse<T: serde::de::DeserializeOwned>(value: &Value, what: &str) -> Result<T, RpcError> {
    serde_json::from_value(value.clone()).map_err(|e| RpcError::InvalidParams(format!("{what}: {e}")))
}

/// Positional parameters; `None` when they were not given as an array (an error only for
/// methods that take parameters).
#[derive(Debug)]
struct Params<'a>(Option<&'a [Value]>);

impl<'a> Params<'a> {
    fn new(params: &'a Value) -> Self {
        match params {
            Value::Null => Self(Some(&[])),
            Value::Array(items) => Self(Some(items)),
            _ => Self(None),
        }
    }

    fn items(&self) -> Result<&'a [Value], RpcError> {
        self.0.ok_or_else(|| RpcError::InvalidParams("parameters are given by position, as a JSON array".into()))
    }

    fn get(&self, index: usize, what: &str) -> Result<&'a Value, RpcError> {
        self.items()?.get(index).ok_or_else(|| RpcError::InvalidParams(format!("missing parameter {index} ({what})")))
    }

    /// A block number or tag.
    fn block_number(&self, index: usize, head: u64) -> Result<u64, RpcError> {
        let value = self.get(index, "block number or tag")?;
        let bad = || RpcError::InvalidParams(format!("parameter {index} must be a hex block number or a tag, got {value}"));
        match value.as_str().ok_or_else(bad)? {
            "earliest" => Ok(0),
            "latest" | "pending" | "safe" | "finalized" => Ok(head),
            s => s.strip_prefix("0x").filter(|h| !h.is_empty()).and_then(|h| u64::from_str_radix(h, 16).ok()).ok_or_else(bad),
        }
    }

    /// A block hash, number or tag.
    fn block(&self, index: usize, head: u64) -> Result<Lookup, RpcError> {
        match self.get(index, "block hash, number or tag")?.as_str() {
            Some(s) if s.len() == 66 => Ok(Lookup::Hash(self.hash(index)?)),
            _ => Ok(Lookup::Number(self.block_number(index, head)?)),
        }
    }

    /// A 32-byte hash.
    fn hash(&self, index: usize) -> Result<B256, RpcError> {
        parse(self.get(index, "block hash")?, &format!("parameter {index} (a 32-byte hex block hash)"))
    }

    /// An optional boolean, `false` when absent.
    fn flag(&self, index: usize) -> Result<bool, RpcError> {
        match self.items()?.get(index) {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(other) => Err(RpcError::InvalidParams(format!("parameter {index} (full transactions) must be a boolean, got {other}"))),
        }
    }
}
