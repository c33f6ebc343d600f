//! [`BlockFetcher`]: verified blocks by number from the pool.
//!
//! One batch of consecutive blocks comes from one endpoint (so a wrong answer is attributable)
//! in JSON-RPC batch requests cut to the size it takes ([`calls`](crate::calls)). Raw consensus
//! encodings are preferred (`debug_getRawBlock`, `debug_getRawReceipts`); an endpoint without
//! the debug namespace is remembered and asked `eth_getBlockByNumber(n, true)` +
//! `eth_getBlockReceipts(n)` instead, converted by [`hypasis_chain::rpc_json`] (which strips
//! Bor's pseudo state-sync transaction before Madhugiri). Every block must match its roots,
//! carry the number asked for and link to the previous block of the batch; otherwise the
//! endpoint is banned and another one is asked.
//!
//! Total difficulty: Bor has no `eth_getTdByNumber` but puts `totalDifficulty` in block JSON, so
//! the first block's comes from there (`eth_getBlockByNumber(first, false)` on the raw path), or
//! from `eth_getTdByNumber` where the endpoint has it; each later block's is its parent's plus its
//! own difficulty.

use crate::{
    endpoint::{Capability, Endpoint},
    error::UpstreamError,
    pool::UpstreamPool,
};
use alloy_primitives::{B256, Bytes, U256};
use hypasis_chain::{Block, Receipt, import::read_blocks, receipt::state_sync_receipt, rpc_json, spec::BorSpec};
use serde_json::{Value, json};
use std::sync::Arc;

/// Most blocks asked for in one batch.
pub const MAX_BATCH: u64 = 256;

/// A verified batch and who sent it.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// Consecutive verified blocks, lowest first.
    pub blocks: Vec<Block>,
    /// Pseudo state-sync receipts stripped from the RPC answers, by block number.
    pub state_sync_receipts: Vec<(u64, Receipt)>,
    /// The endpoint that sent them.
    pub upstream: Arc<Endpoint>,
}

/// Fetches and verifies blocks.
#[derive(Debug, Clone)]
pub struct BlockFetcher {
    pool: Arc<UpstreamPool>,
    bor: Option<BorSpec>,
}

fn hex(n: u64) -> String {
    format!("{n:#x}")
}

fn bad(endpoint: &Endpoint, reason: impl Into<String>) -> UpstreamError {
    UpstreamError::BadData { upstream: endpoint.name().to_owned(), reason: reason.into() }
}

impl BlockFetcher {
    /// A fetcher over `pool` for a chain with `bor` parameters (sprints and the Madhugiri fork
    /// decide where state-sync receipts are).
    pub fn new(pool: Arc<UpstreamPool>, bor: Option<BorSpec>) -> Self {
        Self { pool, bor }
    }

    fn madhugiri_block(&self) -> Option<u64> {
        self.bor.as_ref().and_then(|b| b.madhugiri_block)
    }

    /// Whether block `n` may carry a separate state-sync receipt (a pre-Madhugiri sprint start: Bor
    /// commits state syncs when it finalizes the first block of a sprint).
    fn has_state_sync(&self, n: u64) -> bool {
        self.bor.as_ref().is_some_and(|b| b.is_sprint_start(n) && n > 0 && b.madhugiri_block.is_none_or(|m| n < m))
    }

    /// The pool.
    pub fn pool(&self) -> &Arc<UpstreamPool> {
        &self.pool
    }

    /// The best endpoint's head block number.
    ///
    /// # Errors
    /// When no endpoint answers.
    pub async fn head(&self) -> Result<u64, UpstreamError> {
        let (head, _) = self
            .pool
            .call(|endpoint| async move {
                let value: String = endpoint.request("eth_blockNumber", ()).await?;
                let head = u64::from_str_radix(value.trim_start_matches("0x"), 16)
                    .map_err(|_| bad(&endpoint, format!("eth_blockNumber answered {value:?}")))?;
                endpoint.set_head(head);
                Ok(head)
            })
            .await?;
        Ok(head)
    }

    /// Fetches and verifies `start..=end` (at most [`MAX_BATCH`] blocks).
    ///
    /// # Errors
    /// When no endpoint gives a verified answer.
    pub async fn fetch(&self, start: u64, end: u64) -> Result<Fetched, UpstreamError> {
        let end = end.min(start.saturating_add(MAX_BATCH - 1));
        let ((blocks, state_sync_receipts), upstream) = self.pool.call(|endpoint| self.fetch_from(endpoint, start, end)).await?;
        Ok(Fetched { blocks, state_sync_receipts, upstream })
    }

    async fn fetch_from(&self, endpoint: Arc<Endpoint>, start: u64, end: u64) -> Result<(Vec<Block>, Vec<(u64, Receipt)>), UpstreamError> {
        let fetched = if endpoint.capability(Capability::RawBlocks) == Some(false) {
            self.fetch_json(&endpoint, start, end).await?
        } else {
            match self.fetch_raw(&endpoint, start, end).await {
                Ok(blocks) => (blocks, Vec::new()),
                Err(RawError::Missing) => self.fetch_json(&endpoint, start, end).await?,
                Err(RawError::Other(e)) => return Err(e),
            }
        };
        let (blocks, _) = &fetched;
        for (i, block) in blocks.iter().enumerate() {
            let n = start + i as u64;
            if block.number() != n {
                return Err(bad(&endpoint, format!("asked for block {n}, got block {}", block.number())));
            }
            block.verify().map_err(|e| bad(&endpoint, format!("block {n}: {e}")))?;
            if i > 0 && block.header.parent_hash != blocks[i - 1].hash() {
                return Err(bad(&endpoint, format!("block {n} does not link to block {}", n - 1)));
            }
        }
        metrics::counter!("hypasis_upstream_blocks_fetched_total", "upstream" => endpoint.name().to_owned()).increment(blocks.len() as u64);
        Ok(fetched)
    }

    /// The batch from the raw methods; [`RawError::Missing`] when the endpoint lacks them (then
    /// remembered).
    async fn fetch_raw(&self, endpoint: &Endpoint, start: u64, end: u64) -> Result<Vec<Block>, RawError> {
        // The first block's JSON carries its total difficulty (Bor, geth before 1.14.9).
        let mut calls = vec![("eth_getBlockByNumber", json!([hex(start), false]))];
        for n in start..=end {
            calls.push(("debug_getRawBlock", json!([hex(n)])));
            calls.push(("debug_getRawReceipts", json!([hex(n)])));
        }
        let mut answers = endpoint.batch(&calls).await?.into_iter();
        let anchor = next(&mut answers);
        let mut blocks = Vec::new();
        for n in start..=end {
            let (raw, receipts) = match (next(&mut answers), next(&mut answers)) {
                (Err(e), _) | (_, Err(e)) if e.is_method_missing() => {
                    endpoint.set_capability(Capability::RawBlocks, false);
                    return Err(RawError::Missing);
                }
                (raw, receipts) => (raw?, receipts?),
            };
            if raw.is_null() || receipts.is_null() {
                return Err(UpstreamError::NotAvailable { upstream: endpoint.name().to_owned(), number: n }.into());
            }
            let raw = bytes(&raw).ok_or_else(|| bad(endpoint, format!("debug_getRawBlock({n}) is not hex")))?;
            let mut decoded = read_blocks(&raw).map_err(|e| bad(endpoint, format!("debug_getRawBlock({n}): {e}")))?;
            if decoded.len() != 1 {
                return Err(bad(endpoint, format!("debug_getRawBlock({n}) holds {} blocks", decoded.len())).into());
            }
            let (header, body) = decoded.remove(0);
            let receipts = receipts
                .as_array()
                .ok_or_else(|| bad(endpoint, format!("debug_getRawReceipts({n}) is not a list")))?
                .iter()
                .map(|r| bytes(r).and_then(|b| Receipt::decode_2718(&b).ok()))
                .collect::<Option<Vec<Receipt>>>()
                .ok_or_else(|| bad(endpoint, format!("debug_getRawReceipts({n}) holds a malformed receipt")))?;
            blocks.push(Block { header, body, receipts: Some(receipts), total_difficulty: U256::ZERO, state_sync_receipt: None });
        }
        endpoint.set_capability(Capability::RawBlocks, true);
        let anchor = anchor?;
        if anchor.is_null() {
            return Err(UpstreamError::NotAvailable { upstream: endpoint.name().to_owned(), number: start }.into());
        }
        if let Some(first) = blocks.first() {
            let hash = anchor.get("hash").and_then(Value::as_str).and_then(|h| h.parse::<B256>().ok());
            if hash != Some(first.hash()) {
                // Both answers came in one exchange; a reorg between them is possible at the tip.
                return Err(endpoint.transport(format!("block {start} changed while it was fetched (reorg?)")).into());
            }
            let td = match anchor.get("totalDifficulty").and_then(quantity) {
                Some(td) => td,
                None => self.td_by_number(endpoint, start).await?,
            };
            add_up_total_difficulty(&mut blocks, td);
        }
        self.attach_state_syncs(endpoint, &mut blocks).await?;
        Ok(blocks)
    }

    /// Asks `eth_getBorBlockReceipt` for the state-sync receipts of the pre-Madhugiri sprint-start
    /// blocks among `blocks` (raw encodings do not carry them). An endpoint without the method
    /// is remembered; blocks then go without (peers still verify them; the state-sync logs are
    /// just not served).
    async fn attach_state_syncs(&self, endpoint: &Endpoint, blocks: &mut [Block]) -> Result<(), UpstreamError> {
        if endpoint.capability(Capability::BorReceipts) == Some(false) {
            return Ok(());
        }
        let wanted: Vec<usize> = (0..blocks.len()).filter(|i| self.has_state_sync(blocks[*i].number())).collect();
        if wanted.is_empty() {
            return Ok(());
        }
        let calls: Vec<_> = wanted.iter().map(|i| ("eth_getBorBlockReceipt", json!([format!("{:#x}", blocks[*i].hash())]))).collect();
        for (i, answer) in wanted.into_iter().zip(endpoint.batch(&calls).await?) {
            match answer {
                // Bor answers -32000 "not found" for a block without one (some servers null).
                Ok(Value::Null) => {}
                Err(e) if e.is_not_found() => {}
                Ok(receipt) => {
                    let receipt: alloy_rpc_types_eth::TransactionReceipt = serde_json::from_value(receipt)
                        .map_err(|e| bad(endpoint, format!("eth_getBorBlockReceipt({}): {e}", blocks[i].number())))?;
                    let logs = receipt.inner.logs().iter().map(|l| l.inner.clone()).collect();
                    blocks[i].state_sync_receipt = Some(state_sync_receipt(logs));
                }
                Err(e) if e.is_method_missing() => {
                    endpoint.set_capability(Capability::BorReceipts, false);
                    return Ok(());
                }
                Err(e) => return Err(e),
            }
        }
        endpoint.set_capability(Capability::BorReceipts, true);
        Ok(())
    }

    async fn fetch_json(&self, endpoint: &Endpoint, start: u64, end: u64) -> Result<(Vec<Block>, Vec<(u64, Receipt)>), UpstreamError> {
        let mut calls = Vec::new();
        for n in start..=end {
            calls.push(("eth_getBlockByNumber", json!([hex(n), true])));
            calls.push(("eth_getBlockReceipts", json!([hex(n)])));
        }
        let mut answers = endpoint.batch(&calls).await?.into_iter();
        let (mut blocks, mut state_syncs) = (Vec::<Block>::new(), Vec::new());
        for n in start..=end {
            let (block, receipts) = (next(&mut answers)?, next(&mut answers)?);
            if block.is_null() || receipts.is_null() {
                return Err(UpstreamError::NotAvailable { upstream: endpoint.name().to_owned(), number: n });
            }
            let td = match (block.get("totalDifficulty").and_then(quantity), blocks.last()) {
                (Some(td), _) => td,
                (None, Some(parent)) => {
                    let difficulty =
                        block.get("difficulty").and_then(quantity).ok_or_else(|| bad(endpoint, format!("block {n} has no difficulty")))?;
                    parent.total_difficulty + difficulty
                }
                (None, None) => self.td_by_number(endpoint, n).await?,
            };
            let converted = rpc_json::block_from_rpc_polygon(&block, &receipts, Some(td), self.madhugiri_block())
                .map_err(|e| bad(endpoint, format!("block {n}: {e}")))?;
            let mut block = converted.block;
            if let Some(receipt) = converted.state_sync_receipt {
                state_syncs.push((n, receipt.clone()));
                block.state_sync_receipt = Some(state_sync_receipt(receipt.logs));
            }
            blocks.push(block);
        }
        Ok((blocks, state_syncs))
    }

    /// Block `n`'s total difficulty from `eth_getTdByNumber`, for endpoints whose block JSON has
    /// no `totalDifficulty`.
    async fn td_by_number(&self, endpoint: &Endpoint, n: u64) -> Result<U256, UpstreamError> {
        let unsupported = || UpstreamError::Unsupported {
            upstream: endpoint.name().to_owned(),
            what: "gives no total difficulty (no totalDifficulty in block JSON, no eth_getTdByNumber)".into(),
        };
        if endpoint.capability(Capability::TdByNumber) == Some(false) {
            return Err(unsupported());
        }
        match endpoint.request::<_, Value>("eth_getTdByNumber", [hex(n)]).await {
            Ok(Value::Null) => Err(UpstreamError::NotAvailable { upstream: endpoint.name().to_owned(), number: n }),
            Ok(td) => {
                endpoint.set_capability(Capability::TdByNumber, true);
                quantity(&td).ok_or_else(|| bad(endpoint, format!("eth_getTdByNumber({n}) answered {td}")))
            }
            Err(e) if e.is_method_missing() => {
                endpoint.set_capability(Capability::TdByNumber, false);
                Err(unsupported())
            }
            Err(e) => Err(e),
        }
    }
}

/// Why the raw path gave no batch.
#[derive(Debug)]
enum RawError {
    /// The endpoint lacks the raw methods; use JSON.
    Missing,
    /// Anything else.
    Other(UpstreamError),
}

impl From<UpstreamError> for RawError {
    fn from(e: UpstreamError) -> Self {
        Self::Other(e)
    }
}

/// Sets each block's total difficulty from the first block's `first`: a block's is its parent's
/// plus its own difficulty.
fn add_up_total_difficulty(blocks: &mut [Block], first: U256) {
    let mut td = first;
    for (i, block) in blocks.iter_mut().enumerate() {
        if i > 0 {
            td += block.header.difficulty;
        }
        block.total_difficulty = td;
    }
}

fn next(answers: &mut impl Iterator<Item = Result<Value, UpstreamError>>) -> Result<Value, UpstreamError> {
    answers.next().unwrap_or_else(|| Err(UpstreamError::NoUpstream("batch answer too short".into())))
}

fn bytes(value: &Value) -> Option<Bytes> {
    value.as_str()?.parse().ok()
}

fn quantity(value: &Value) -> Option<U256> {
    let s = value.as_str()?;
    U256::from_str_radix(s.strip_prefix("0x")?, 16).ok()
}
