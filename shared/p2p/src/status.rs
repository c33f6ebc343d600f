//! Our Status and the checks on the peer's.

use alloy_eip2124::{ForkFilter, ForkFilterKey, Head};
use alloy_primitives::U256;
use hypasis_chain::ChainSpec;
use hypasis_eth_wire::{DisconnectReason, eth::status::Status};
use hypasis_store::{ChainHead, StoredRange};

/// Our Status for eth `version` at `head`, advertising `range` on eth/69.
pub fn ours(spec: &ChainSpec, version: u64, head: &ChainHead, range: Option<StoredRange>) -> Status {
    Status {
        version,
        network_id: spec.network_id,
        total_difficulty: Some(head.total_difficulty),
        genesis: spec.genesis_hash,
        fork_id: spec.fork_id(head.number, head.timestamp),
        head: head.hash,
        range: Some(range.map_or((0, head.number), |r| (r.lowest, head.number.max(r.lowest)))),
    }
}

/// The head we advertise before any block is stored: genesis.
pub fn genesis_head(spec: &ChainSpec) -> ChainHead {
    let (difficulty, timestamp) = spec.genesis_header.as_ref().map_or((U256::ZERO, 0), |h| (h.difficulty, h.timestamp));
    ChainHead { number: 0, hash: spec.genesis_hash, total_difficulty: difficulty, timestamp }
}

/// Checks a peer's Status against our chain: network id, genesis, EIP-2124 fork id.
///
/// # Errors
/// The Disconnect reason and a description when the peer is on another chain or incompatible.
pub fn check(spec: &ChainSpec, head: &ChainHead, theirs: &Status) -> Result<(), (DisconnectReason, String)> {
    if theirs.network_id != spec.network_id {
        return Err((DisconnectReason::SubprotocolError, format!("network id {} is not ours ({})", theirs.network_id, spec.network_id)));
    }
    if theirs.genesis != spec.genesis_hash {
        return Err((DisconnectReason::SubprotocolError, format!("genesis {} is not ours ({})", theirs.genesis, spec.genesis_hash)));
    }
    let forks = spec.forks.blocks.iter().map(|b| ForkFilterKey::Block(*b)).chain(spec.forks.times.iter().map(|t| ForkFilterKey::Time(*t)));
    let genesis_time = spec.genesis_header.as_ref().map_or(0, |h| h.timestamp);
    let filter = ForkFilter::new(
        Head { number: head.number, timestamp: head.timestamp, ..Default::default() },
        spec.genesis_hash,
        genesis_time,
        forks,
    );
    filter.validate(theirs.fork_id).map_err(|e| (DisconnectReason::SubprotocolError, format!("fork id: {e}")))
}
