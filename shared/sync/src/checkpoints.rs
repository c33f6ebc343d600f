//! Checkpoints: Polygon's Merkle roots of block ranges, read from the RootChain contract on L1
//! (`currentHeaderBlock()`, `headerBlocks(uint256)`; checkpoint `n` is at `headerBlocks(n *
//! 10000)`), and the verification of held ranges against them.
//!
//! A checkpoint whose range the store holds is verified by recomputing its root from the stored
//! headers ([`hypasis_chain::checkpoint::root`]). A match marks it verified; a mismatch means we
//! hold a wrong block: the range is evicted (backward sync fetches it again) and
//! `hypasis_checkpoint_mismatches_total` is raised for alerting.

use crate::context::SyncContext;
use alloy_primitives::{Address, B256, U256, keccak256};
use hypasis_store::Parts;
use hypasis_upstream::{UpstreamError, UpstreamPool};
use parking_lot::Mutex;
use serde::Serialize;
use serde_json::json;
use std::{collections::BTreeMap, sync::Arc, time::Duration};
use tokio_util::sync::CancellationToken;

/// RootChain's checkpoint id step: checkpoint `n` is stored at `n * 10000`.
pub const HEADER_BLOCK_STEP: u64 = 10_000;
/// Mainnet RootChain proxy.
pub const MAINNET_ROOTCHAIN: Address = alloy_primitives::address!("86E4Dc95c7FBdBf52e33D563BbDB00823894C287");
/// Amoy RootChain proxy (on Sepolia).
pub const AMOY_ROOTCHAIN: Address = alloy_primitives::address!("bd07D7E1E93c8d4b2a261327F3C28a8EA7167209");
/// Most headers read from the store per call while verifying.
const READ_CHUNK: u64 = 1024;
/// Checkpoints read from L1 per poll (the rest on the next poll).
const MAX_NEW_PER_POLL: u64 = 64;

/// Checkpoint settings.
#[derive(Debug, Clone)]
pub struct CheckpointConfig {
    /// The RootChain contract.
    pub rootchain: Address,
    /// How often L1 is polled.
    pub poll: Duration,
}

/// One checkpoint and what we know about it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Checkpoint {
    /// Checkpoint number.
    pub number: u64,
    /// First block.
    pub start: u64,
    /// Last block.
    pub end: u64,
    /// Merkle root on L1.
    pub root: B256,
    /// `pending` (range not fully held yet, or evicted and waiting to be refilled) or
    /// `verified`.
    pub state: &'static str,
    /// Times the held range failed the root and was evicted.
    pub evictions: u32,
}

/// The checkpoints seen on L1.
#[derive(Debug, Clone, Default)]
pub struct Checkpoints {
    inner: Arc<Mutex<BTreeMap<u64, Checkpoint>>>,
}

impl Checkpoints {
    /// The newest `limit` checkpoints, newest first.
    pub fn latest(&self, limit: usize) -> Vec<Checkpoint> {
        self.inner.lock().values().rev().take(limit).cloned().collect()
    }

    /// (verified, pending, evictions so far).
    pub fn counts(&self) -> (usize, usize, u64) {
        let inner = self.inner.lock();
        let count = |s| inner.values().filter(|c| c.state == s).count();
        (count("verified"), count("pending"), inner.values().map(|c| u64::from(c.evictions)).sum())
    }

    /// Highest block covered by a verified checkpoint.
    pub fn verified_through(&self) -> Option<u64> {
        self.inner.lock().values().filter(|c| c.state == "verified").map(|c| c.end).max()
    }
}

fn selector(signature: &str) -> [u8; 4] {
    let hash = keccak256(signature.as_bytes());
    [hash[0], hash[1], hash[2], hash[3]]
}

async fn eth_call(l1: &UpstreamPool, to: Address, data: Vec<u8>) -> Result<Vec<u8>, UpstreamError> {
    let params = json!([{ "to": format!("{to:#x}"), "data": format!("0x{}", hex_encode(&data)) }, "latest"]);
    let (answer, _) = l1
        .call(|endpoint| {
            let params = params.clone();
            async move {
                let value: String = endpoint.request("eth_call", params).await?;
                value.parse::<alloy_primitives::Bytes>().map(|b| b.to_vec()).map_err(|_| UpstreamError::BadData {
                    upstream: endpoint.name().to_owned(),
                    reason: format!("eth_call answered {value:?}"),
                })
            }
        })
        .await?;
    Ok(answer)
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn word(data: &[u8], index: usize) -> Option<U256> {
    data.get(index * 32..index * 32 + 32).map(U256::from_be_slice)
}

/// `currentHeaderBlock()`: the newest checkpoint number.
async fn current_checkpoint(l1: &UpstreamPool, rootchain: Address) -> Result<u64, UpstreamError> {
    let answer = eth_call(l1, rootchain, selector("currentHeaderBlock()").to_vec()).await?;
    current_from_answer(&answer).ok_or_else(|| UpstreamError::NoUpstream("currentHeaderBlock answer too short".into()))
}

/// The checkpoint number in a `currentHeaderBlock()` answer; `None` when it is too short.
pub fn current_from_answer(answer: &[u8]) -> Option<u64> {
    Some(u64::try_from(word(answer, 0)?).unwrap_or(u64::MAX) / HEADER_BLOCK_STEP)
}

/// (root, start, end) in a `headerBlocks(uint256)` answer: `Ok(None)` for an empty slot (zero
/// root), `Err` when the answer is too short.
///
/// # Errors
/// A message when the answer holds fewer than three words.
pub fn header_block_from_answer(answer: &[u8]) -> Result<Option<(B256, u64, u64)>, &'static str> {
    let (Some(start), Some(end)) = (word(answer, 1), word(answer, 2)) else {
        return Err("headerBlocks answer too short");
    };
    let root = B256::from_slice(&answer[..32]);
    if root.is_zero() {
        return Ok(None);
    }
    let (start, end) = (u64::try_from(start).unwrap_or(u64::MAX), u64::try_from(end).unwrap_or(u64::MAX));
    if start > end || end - start >= MAX_CHECKPOINT_SPAN {
        return Err("headerBlocks answer with an inverted or oversized block range");
    }
    Ok(Some((root, start, end)))
}

/// Most blocks one checkpoint may cover (Polygon's are a few hundred to a few thousand); a
/// larger or inverted range from L1 is refused rather than verified.
pub const MAX_CHECKPOINT_SPAN: u64 = 65_536;

/// `headerBlocks(n * 10000)` → (root, start, end).
async fn checkpoint(l1: &UpstreamPool, rootchain: Address, number: u64) -> Result<Option<(B256, u64, u64)>, UpstreamError> {
    let mut data = selector("headerBlocks(uint256)").to_vec();
    data.extend_from_slice(&U256::from(number * HEADER_BLOCK_STEP).to_be_bytes::<32>());
    let answer = eth_call(l1, rootchain, data).await?;
    header_block_from_answer(&answer).map_err(|reason| UpstreamError::NoUpstream(reason.into()))
}

/// Polls L1 and verifies held ranges until `cancel`.
pub async fn run(ctx: SyncContext, l1: Arc<UpstreamPool>, config: CheckpointConfig, checkpoints: Checkpoints, cancel: CancellationToken) {
    let mut next = 1u64;
    let mut ticker = tokio::time::interval(config.poll);
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            _ = ticker.tick() => {}
        }
        if let Err(e) = poll_l1(&l1, &config, &checkpoints, &mut next).await {
            tracing::warn!(target: "sync::checkpoints", error = %e, "reading checkpoints from L1 failed");
        }
        verify_pending(&ctx, &checkpoints).await;
    }
}

/// Reads checkpoints `next..` up to the newest on L1 (at most [`MAX_NEW_PER_POLL`], starting
/// near the newest) into `checkpoints`, advancing `next`.
///
/// # Errors
/// When L1 cannot be read; what was read so far is kept.
pub async fn poll_l1(l1: &UpstreamPool, config: &CheckpointConfig, checkpoints: &Checkpoints, next: &mut u64) -> Result<(), UpstreamError> {
    let latest = current_checkpoint(l1, config.rootchain).await?;
    metrics::gauge!("hypasis_checkpoint_latest").set(latest as f64);
    *next = (*next).max(latest.saturating_sub(MAX_NEW_PER_POLL - 1)).max(1);
    while *next <= latest {
        if let Some((root, start, end)) = checkpoint(l1, config.rootchain, *next).await? {
            let number = *next;
            checkpoints.inner.lock().entry(number).or_insert(Checkpoint { number, start, end, root, state: "pending", evictions: 0 });
        }
        *next += 1;
    }
    Ok(())
}

/// Verifies every pending checkpoint whose range is held.
pub async fn verify_pending(ctx: &SyncContext, checkpoints: &Checkpoints) {
    let pending: Vec<Checkpoint> = checkpoints.inner.lock().values().filter(|c| c.state == "pending").cloned().collect();
    let Ok(held) = ctx.store.held().await else { return };
    for cp in pending {
        if !held.gaps(cp.start, cp.end).is_empty() {
            continue;
        }
        let state = match verify(ctx, &cp).await {
            Ok(true) => {
                metrics::counter!("hypasis_checkpoint_verified_total").increment(1);
                "verified"
            }
            Ok(false) => {
                metrics::counter!("hypasis_checkpoint_mismatches_total").increment(1);
                crate::context::count_rejected("checkpoint", "checkpoint_root", cp.end - cp.start + 1);
                tracing::error!(target: "sync::checkpoints", number = cp.number, start = cp.start, end = cp.end, "checkpoint root mismatch: evicting the range");
                if let Err(e) = ctx.store.remove_range(cp.start, cp.end).await {
                    tracing::error!(target: "sync::checkpoints", error = %e, "evicting the range failed");
                    continue;
                }
                if let Some(entry) = checkpoints.inner.lock().get_mut(&cp.number) {
                    entry.evictions += 1;
                }
                // Pending again: backward sync refills the range and it is verified anew.
                "pending"
            }
            Err(e) => {
                tracing::warn!(target: "sync::checkpoints", error = %e, number = cp.number, "reading the range failed");
                continue;
            }
        };
        if let Some(entry) = checkpoints.inner.lock().get_mut(&cp.number) {
            entry.state = state;
        }
        if state == "verified"
            && let Some(events) = ctx.events()
        {
            let _ = events.publish(hypasis_cluster::Event::Checkpoint { number: cp.number, start: cp.start, end: cp.end }).await;
        }
    }
}

async fn verify(ctx: &SyncContext, cp: &Checkpoint) -> Result<bool, hypasis_store::StoreError> {
    let mut headers = Vec::with_capacity((cp.end - cp.start + 1) as usize);
    let mut n = cp.start;
    while n <= cp.end {
        let count = (cp.end - n + 1).min(READ_CHUNK);
        for block in ctx.store.by_range(n, count, 0, false, Parts::HEADER).await? {
            let Some(block) = block else { return Ok(false) };
            headers.push(block.header.header().clone());
        }
        n += count;
    }
    Ok(hypasis_chain::checkpoint::root(&headers).is_ok_and(|root| root == cp.root))
}
