//! The devnet behind the served chain, with the states of its last blocks kept so the tip can be
//! replaced by another branch (a reorg, as a real upstream's tip sometimes is).

use crate::state::Chain;
use hypasis_chain::Block;
use hypasis_devnet::Devnet;
use std::collections::VecDeque;

/// Most blocks one reorg replaces (the devnet's states before each of the newest blocks are
/// kept).
pub const MAX_REORG_DEPTH: u64 = 64;

/// Why a reorg was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReorgError {
    /// The fork point is above the head.
    #[error("cannot fork at block {fork}: the head is {head}")]
    AboveHead {
        /// The block asked to be replaced first.
        fork: u64,
        /// The head.
        head: u64,
    },
    /// The fork point is deeper than the states kept (or is genesis).
    #[error("cannot fork at block {fork}: at most the newest {MAX_REORG_DEPTH} blocks (up to the head {head}) can be replaced")]
    TooDeep {
        /// The block asked to be replaced first.
        fork: u64,
        /// The head.
        head: u64,
    },
    /// The fork point is covered by a published checkpoint or the latest milestone: final
    /// blocks are never replaced (Bor refuses such reorgs too).
    #[error("cannot fork at block {fork}: blocks up to {final_block} are final (checkpoint or milestone)")]
    Final {
        /// The block asked to be replaced first.
        fork: u64,
        /// The highest final block.
        final_block: u64,
    },
}

/// The devnet and its states after each of its last [`MAX_REORG_DEPTH`] blocks.
#[derive(Debug)]
pub(crate) struct Producer {
    devnet: Devnet,
    /// The devnet as it was after each of the newest blocks, oldest first (the last one equals
    /// `devnet`).
    recent: VecDeque<Devnet>,
}

impl Producer {
    pub(crate) fn new(devnet: Devnet) -> Self {
        Self { recent: VecDeque::from([devnet.clone()]), devnet }
    }

    /// Addresses of the devnet's validators.
    pub(crate) fn validator_addresses(&self) -> Vec<alloy_primitives::Address> {
        self.devnet.validator_addresses()
    }

    /// The next block (the devnet's state after it kept).
    pub(crate) fn next_block(&mut self) -> Block {
        let block = self.devnet.next_block();
        if self.recent.len() as u64 > MAX_REORG_DEPTH {
            self.recent.pop_front();
        }
        self.recent.push_back(self.devnet.clone());
        block
    }

    /// Replaces blocks `fork..=head` of `chain` by as many blocks of branch `branch`; the
    /// blocks produced later follow the branch. Returns how many blocks were replaced.
    pub(crate) fn reorg_from(&mut self, chain: &mut Chain, fork: u64, branch: u64, final_block: u64) -> Result<u64, ReorgError> {
        let head = chain.head();
        if fork > head {
            return Err(ReorgError::AboveHead { fork, head });
        }
        if fork <= final_block {
            return Err(ReorgError::Final { fork, final_block });
        }
        let oldest = self.recent.front().map_or(head, |d| d.tip().number());
        if fork == 0 || fork - 1 < oldest {
            return Err(ReorgError::TooDeep { fork, head });
        }
        let keep = usize::try_from(fork - 1 - oldest).expect("at most MAX_REORG_DEPTH states");
        self.recent.truncate(keep + 1);
        self.devnet = self.recent.back().expect("the fork's parent state is kept").clone();
        self.devnet.set_branch(branch);
        chain.truncate(fork - 1);
        for _ in fork..=head {
            let block = self.next_block();
            chain.push(block);
        }
        Ok(head - fork + 1)
    }
}
