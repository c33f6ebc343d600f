//! What the server holds: the chain (true and served), the published checkpoints and the call
//! counters.

use crate::{
    RpcLimits,
    lies::Liar,
    producer::Producer,
    rootchain::{self, Checkpoint},
};
use alloy_primitives::{Address, B256};
use hypasis_chain::{Block, checkpoint};
use parking_lot::{Mutex, RwLock};
use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

/// Distinct method names counted one by one; calls to further unknown names are counted under
/// [`OTHER_METHODS`], so a client cannot grow the table without bound.
const MAX_COUNTED_METHODS: usize = 256;

/// The name calls to methods past [`MAX_COUNTED_METHODS`] are counted under.
const OTHER_METHODS: &str = "<other>";

/// Everything the request handlers and the producer share.
#[derive(Debug)]
pub(crate) struct Shared {
    /// The chain.
    pub(crate) chain: RwLock<Chain>,
    /// Call counters.
    pub(crate) counters: Counters,
    /// EIP-155 chain id, answered by `eth_chainId` and `net_version`.
    pub(crate) chain_id: u64,
    /// Whether `debug_getRaw*` are served.
    pub(crate) raw_methods: bool,
    /// Whether `eth_getTdBy*` are served.
    pub(crate) td_methods: bool,
    /// Batch, response-size and rate limits (changed at run time by `DevnetRpc::set_limits`).
    pub(crate) limits: RwLock<Limits>,
    /// Blocks per fake Heimdall milestone.
    pub(crate) milestone_interval: u64,
    /// Whether milestones name a wrong hash.
    pub(crate) wrong_milestone: bool,
    /// The devnet's validators (the producers of the fake Heimdall's span).
    pub(crate) validators: Vec<Address>,
    /// The devnet producing the chain (locked before `chain` by whoever takes both).
    pub(crate) producer: Mutex<Producer>,
    /// How long every HTTP request waits before it is answered, in milliseconds (0: not at all).
    pub(crate) stall_ms: AtomicU64,
}

/// The limits and the rate limiter that enforces the rate.
#[derive(Debug)]
pub(crate) struct Limits {
    /// As configured.
    pub(crate) config: RpcLimits,
    /// The rate limit, when there is one.
    pub(crate) rate: Option<governor::DefaultDirectRateLimiter>,
}

impl Limits {
    /// Limits enforcing `config`.
    pub(crate) fn new(config: RpcLimits) -> Self {
        Self { config, rate: config.requests_per_second.map(|rps| governor::RateLimiter::direct(governor::Quota::per_second(rps))) }
    }
}

/// The chain in memory, indexed by block number.
#[derive(Debug)]
pub(crate) struct Chain {
    /// The devnet's blocks.
    truth: Vec<Arc<Block>>,
    /// The blocks served (the same `Arc` where no lie applies).
    served: Vec<Arc<Block>>,
    /// Served block hash → number.
    by_hash: HashMap<B256, u64>,
    /// Published checkpoints; checkpoint `k` at index `k - 1`.
    checkpoints: Vec<Checkpoint>,
    liar: Liar,
    checkpoint_interval: u64,
    proposer: Address,
}

impl Chain {
    /// A chain holding `genesis` only.
    pub(crate) fn new(genesis: Block, liar: Liar, checkpoint_interval: u64, proposer: Address) -> Self {
        let mut chain = Self {
            truth: Vec::new(),
            served: Vec::new(),
            by_hash: HashMap::new(),
            checkpoints: Vec::new(),
            liar,
            checkpoint_interval,
            proposer,
        };
        chain.push(genesis);
        chain
    }

    /// Appends the next devnet block, and publishes a checkpoint when one becomes due.
    pub(crate) fn push(&mut self, block: Block) {
        debug_assert_eq!(block.number(), self.truth.len() as u64, "blocks are appended in order");
        let truth = Arc::new(block);
        let served = self.liar.serve(&truth, self.served.last().map(|b| &**b));
        self.by_hash.insert(served.hash(), served.number());
        let head = truth.number();
        self.truth.push(truth);
        self.served.push(served);
        if let Some(k) = rootchain::published_at(head, self.checkpoint_interval) {
            self.publish(k);
        }
    }

    /// Drops every block above `head` (and the checkpoints published after it, which are
    /// published again, the same, when blocks are pushed up to their height).
    pub(crate) fn truncate(&mut self, head: u64) {
        let keep = usize::try_from(head).map_or(usize::MAX, |h| h.saturating_add(1));
        for dropped in self.served.drain(keep.min(self.served.len())..) {
            self.by_hash.remove(&dropped.hash());
        }
        self.truth.truncate(keep);
        self.checkpoints.retain(|cp| cp.end + rootchain::CHECKPOINT_DELAY <= head);
    }

    /// The highest block covered by a published checkpoint (0 before the first).
    pub(crate) fn checkpointed(&self) -> u64 {
        self.checkpoints.last().map_or(0, |cp| cp.end)
    }

    fn publish(&mut self, k: u64) {
        debug_assert_eq!(k, self.checkpoints.len() as u64 + 1, "checkpoints are published in order");
        let start = (k - 1) * self.checkpoint_interval + 1;
        let end = k * self.checkpoint_interval;
        let covered = &self.truth[start as usize..=end as usize];
        let root = checkpoint::root(covered.iter().map(|b| b.header.header())).expect("a checkpoint covers consecutive devnet blocks");
        let created_at = covered.last().expect("a checkpoint covers at least one block").header.timestamp;
        self.checkpoints.push(Checkpoint { root, start, end, created_at, proposer: self.proposer });
    }

    /// The latest block number.
    pub(crate) fn head(&self) -> u64 {
        self.truth.len() as u64 - 1
    }

    /// The served block `number`.
    pub(crate) fn served(&self, number: u64) -> Option<Arc<Block>> {
        self.served.get(usize::try_from(number).ok()?).cloned()
    }

    /// The served block with hash `hash`.
    pub(crate) fn served_by_hash(&self, hash: &B256) -> Option<Arc<Block>> {
        self.by_hash.get(hash).and_then(|n| self.served(*n))
    }

    /// The devnet's own block `number`.
    pub(crate) fn truth(&self, number: u64) -> Option<Arc<Block>> {
        self.truth.get(usize::try_from(number).ok()?).cloned()
    }

    /// The published checkpoints, checkpoint `k` at index `k - 1`.
    pub(crate) fn checkpoints(&self) -> &[Checkpoint] {
        &self.checkpoints
    }
}

/// Calls per method and block fetches per block number.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// HTTP requests answered 429.
    pub(crate) throttled: AtomicU64,
    /// Batches refused for the batch limit.
    pub(crate) refused_batches: AtomicU64,
    total: AtomicU64,
    by_method: Mutex<HashMap<String, u64>>,
    fetches: Mutex<HashMap<u64, u64>>,
}

impl Counters {
    /// Counts one call to `method`.
    pub(crate) fn call(&self, method: &str) {
        self.total.fetch_add(1, Ordering::Relaxed);
        let mut by_method = self.by_method.lock();
        if let Some(count) = by_method.get_mut(method) {
            *count += 1;
        } else {
            let name = if by_method.len() < MAX_COUNTED_METHODS { method } else { OTHER_METHODS };
            *by_method.entry(name.to_owned()).or_default() += 1;
        }
    }

    /// Counts one fetch of block `number`.
    pub(crate) fn fetch(&self, number: u64) {
        *self.fetches.lock().entry(number).or_default() += 1;
    }

    /// Calls to `method` so far.
    pub(crate) fn calls(&self, method: &str) -> u64 {
        self.by_method.lock().get(method).copied().unwrap_or(0)
    }

    /// Fetches of block `number` so far.
    pub(crate) fn fetches(&self, number: u64) -> u64 {
        self.fetches.lock().get(&number).copied().unwrap_or(0)
    }

    /// All calls so far.
    pub(crate) fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Lie;
    use hypasis_devnet::{Devnet, DevnetConfig};

    #[test]
    fn checkpoints_are_published_after_the_delay() {
        let mut devnet = Devnet::new(DevnetConfig::default());
        let proposer = devnet.validator_addresses()[0];
        let liar = Liar::new(Lie::None, 0, crate::lies::Sealers::of(&devnet));
        let mut chain = Chain::new(devnet.tip().clone(), liar, 8, proposer);
        for _ in 0..(8 + rootchain::CHECKPOINT_DELAY - 1) {
            chain.push(devnet.next_block());
        }
        assert!(chain.checkpoints().is_empty());
        chain.push(devnet.next_block());
        let cp = &chain.checkpoints()[0];
        assert_eq!((cp.start, cp.end, cp.proposer), (1, 8, proposer));
        let headers: Vec<_> = (1..=8).map(|n| chain.truth(n).unwrap().header.header().clone()).collect();
        assert_eq!(cp.root, checkpoint::root(&headers).unwrap());
        assert_eq!(cp.created_at, headers[7].timestamp);
    }

    #[test]
    fn method_table_is_bounded() {
        let counters = Counters::default();
        for i in 0..MAX_COUNTED_METHODS + 10 {
            counters.call(&format!("m{i}"));
        }
        counters.call("m0");
        assert_eq!(counters.calls("m0"), 2);
        assert_eq!(counters.calls(OTHER_METHODS), 10);
        assert_eq!(counters.total(), MAX_COUNTED_METHODS as u64 + 11);
    }
}
