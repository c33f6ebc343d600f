//! The methods served, by name. Each returns its result as JSON text.

use crate::{
    blocks::{Blocks, View},
    envelope::Raw,
    error::RpcError,
    params::{self, BlockRef, BlockTag, arg, at_most},
    render,
};
use hypasis_chain::{bor, checkpoint, rpc_json::state_sync_tx_hash};
use hypasis_store::Parts;
use serde_json::{Value, json};
use std::sync::Arc;

/// Methods answered from the cache, in the order docs/API.md lists them.
pub const METHODS: &[&str] = &[
    "eth_chainId",
    "net_version",
    "web3_clientVersion",
    "eth_syncing",
    "eth_blockNumber",
    "eth_getBlockByNumber",
    "eth_getBlockByHash",
    "eth_getHeaderByNumber",
    "eth_getHeaderByHash",
    "eth_getBlockReceipts",
    "eth_getTransactionByBlockNumberAndIndex",
    "eth_getTransactionByBlockHashAndIndex",
    "eth_getBlockTransactionCountByNumber",
    "eth_getBlockTransactionCountByHash",
    "eth_getUncleCountByBlockNumber",
    "eth_getUncleCountByBlockHash",
    "eth_getTdByNumber",
    "eth_getTdByHash",
    "bor_getAuthor",
    "bor_getRootHash",
    "eth_getRootHash",
];

/// Most blocks `bor_getRootHash` covers (Bor's `MaxCheckpointLength`, 2^15).
pub const MAX_ROOT_HASH_BLOCKS: u64 = 1 << 15;

/// The label of a method for metrics: its name when served, else `other` (so that clients
/// cannot create series).
pub fn label(method: &str) -> &'static str {
    METHODS.iter().find(|m| **m == method).copied().unwrap_or("other")
}

fn raw(value: &Value) -> Raw {
    Arc::from(value.to_string())
}

const NULL: &str = "null";

fn null() -> Raw {
    Arc::from(NULL)
}

/// Answers `method(params)`.
///
/// # Errors
/// The JSON-RPC error to send.
pub async fn call(blocks: &Blocks, client_version: &str, method: &str, params: &[Value]) -> Result<Raw, RpcError> {
    match method {
        "eth_chainId" => Ok(raw(&render::qty(blocks.spec.chain_id))),
        "net_version" => Ok(raw(&json!(blocks.spec.chain_id.to_string()))),
        "web3_clientVersion" => Ok(raw(&json!(client_version))),
        "eth_syncing" => Ok(raw(&match blocks.view.syncing() {
            None => json!(false),
            Some((start, current, highest)) => {
                json!({ "startingBlock": render::qty(start), "currentBlock": render::qty(current), "highestBlock": render::qty(highest) })
            }
        })),
        "eth_blockNumber" => Ok(raw(&render::qty(blocks.head().await?))),
        "eth_getBlockByNumber" | "eth_getBlockByHash" => {
            at_most(params, 2)?;
            let block = if method == "eth_getBlockByHash" { BlockRef::Hash(params::hash(arg(params, 0), 0)?) } else { number(params)? };
            let view = if params::boolean(arg(params, 1), 1)? { View::BlockFull } else { View::BlockHashes };
            Ok(blocks.rendered(block, view).await?.unwrap_or_else(null))
        }
        "eth_getHeaderByNumber" | "eth_getHeaderByHash" => {
            at_most(params, 1)?;
            let block = if method == "eth_getHeaderByHash" { BlockRef::Hash(params::hash(arg(params, 0), 0)?) } else { number(params)? };
            Ok(blocks.rendered(block, View::Header).await?.unwrap_or_else(null))
        }
        "eth_getBlockReceipts" => {
            at_most(params, 1)?;
            Ok(blocks.rendered(params::block_ref(arg(params, 0), 0)?, View::Receipts).await?.unwrap_or_else(null))
        }
        "eth_getTransactionByBlockNumberAndIndex" | "eth_getTransactionByBlockHashAndIndex" => {
            at_most(params, 2)?;
            let block = by(method, params)?;
            let index = params::quantity(arg(params, 1), 1)?;
            transaction_at(blocks, block, index).await
        }
        "eth_getBlockTransactionCountByNumber" | "eth_getBlockTransactionCountByHash" => {
            at_most(params, 1)?;
            let Some(stored) = blocks.find(by(method, params)?, Parts::ALL).await? else { return Ok(null()) };
            let body = stored.body.as_deref().map_or(0, |b| b.transactions.len());
            let pseudo = usize::from(blocks.block_json(&stored, &Default::default(), &[]).state_sync.is_some());
            Ok(raw(&render::qty((body + pseudo) as u64)))
        }
        "eth_getUncleCountByBlockNumber" | "eth_getUncleCountByBlockHash" => {
            at_most(params, 1)?;
            let Some(stored) = blocks.find(by(method, params)?, Parts::BODY).await? else { return Ok(null()) };
            Ok(raw(&render::qty(stored.body.as_deref().map_or(0, |b| b.ommers.len()) as u64)))
        }
        "eth_getTdByNumber" | "eth_getTdByHash" => {
            at_most(params, 1)?;
            let Some(stored) = blocks.find(by(method, params)?, Parts::HEADER).await? else { return Ok(null()) };
            Ok(raw(&render::big(stored.total_difficulty)))
        }
        "bor_getAuthor" => {
            at_most(params, 1)?;
            let block = match arg(params, 0) {
                Value::Null => BlockRef::Number(BlockTag::Latest),
                other => params::block_ref(other, 0)?,
            };
            let Some(header) = blocks.header(block).await? else { return Err(RpcError::server("unknown block")) };
            let signer = match &blocks.spec.bor {
                Some(spec) => bor::recover_signer_with(&header, spec.seals_base_fee(header.number())),
                None => bor::recover_signer(&header),
            };
            let signer = signer.map_err(|e| RpcError::server(format!("block {}: {e}", header.number())))?;
            Ok(raw(&render::address(signer)))
        }
        "bor_getRootHash" | "eth_getRootHash" => {
            at_most(params, 2)?;
            root_hash(blocks, params::uint(arg(params, 0), 0)?, params::uint(arg(params, 1), 1)?).await
        }
        other => Err(RpcError::method_not_found(other)),
    }
}

/// The block of a `…ByNumber` / `…ByHash` method's first argument.
fn by(method: &str, params: &[Value]) -> Result<BlockRef, RpcError> {
    if method.ends_with("Hash") || method.ends_with("HashAndIndex") {
        params::hash(arg(params, 0), 0).map(BlockRef::Hash)
    } else {
        number(params)
    }
}

fn number(params: &[Value]) -> Result<BlockRef, RpcError> {
    params::block_tag(arg(params, 0), 0).map(BlockRef::Number)
}

async fn transaction_at(blocks: &Blocks, block: BlockRef, index: u64) -> Result<Raw, RpcError> {
    let Some(stored) = blocks.find(block, Parts::ALL).await? else { return Ok(null()) };
    let Some(body) = stored.body.as_deref() else { return Ok(null()) };
    let Ok(index) = usize::try_from(index) else { return Ok(null()) };
    if index < body.transactions.len() {
        let txs = render::decode_transactions(&body.transactions[index..=index])
            .map_err(|e| RpcError::server(format!("corrupt cached block: {e}")))?;
        let view = blocks.block_json(&stored, body, &txs);
        return Ok(raw(&render::tx_json(&txs[0], index, &view.in_block())));
    }
    let view = blocks.block_json(&stored, body, &[]);
    match view.state_sync {
        Some(_) if index == body.transactions.len() => {
            let pseudo = state_sync_tx_hash(stored.header.number(), stored.header.hash());
            Ok(raw(&render::state_sync_tx_json(pseudo, index, &view.in_block())))
        }
        _ => Ok(null()),
    }
}

/// `bor_getRootHash(start, end)`: the checkpoint root of the blocks `start..=end`, as 64 hex
/// digits without `0x` (Bor's format). Blocks not cached are read through once (one fetch fills
/// the run up to the cached chain); a range still not whole is refused.
async fn root_hash(blocks: &Blocks, start: u64, end: u64) -> Result<Raw, RpcError> {
    let length = end.checked_sub(start).and_then(|d| d.checked_add(1));
    let length = length.ok_or_else(|| RpcError::server(format!("invalid parameters: start {start} is after end {end}")))?;
    if length > MAX_ROOT_HASH_BLOCKS {
        return Err(RpcError::server(format!("{length} blocks in range, at most {MAX_ROOT_HASH_BLOCKS}")));
    }
    let head = blocks.head().await?;
    if end > head {
        return Err(RpcError::server(format!("end block {end} is beyond the head {head}")));
    }
    let numbers: Vec<u64> = (start..=end).collect();
    let read = || async { blocks.store.by_numbers(&numbers, Parts::HEADER).await.map_err(|e| RpcError::server(e.to_string())) };
    let mut found = read().await?;
    if let Some(missing) = found.iter().position(Option::is_none) {
        blocks.by_number(start + missing as u64, Parts::HEADER).await?;
        found = read().await?;
    }
    let headers: Vec<_> = found
        .into_iter()
        .zip(start..=end)
        .map(|(b, n)| b.ok_or(n))
        .collect::<Result<_, _>>()
        .map_err(|n| RpcError::server(format!("block {n} is not cached yet; try again once backfill has reached it")))?;
    let root = checkpoint::root(headers.iter().map(|b| b.header.header())).map_err(|e| RpcError::server(e.to_string()))?;
    Ok(raw(&json!(alloy_primitives::hex::encode(root))))
}
