//! The served view of the chain: the devnet's blocks, or from `lie_from` on the lie configured.
//!
//! Lies are applied once, when a block is appended, so every method (raw and JSON alike)
//! renders the same served block.

use crate::Lie;
use alloy_primitives::{U256, keccak256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use hypasis_chain::{Block, BorSpec, Header, RawTx, SealedHeader, bor};
use std::sync::Arc;

/// Domain tag hashed with the true parent hash to make up a parent for [`Lie::WrongParent`].
const FABRICATED_PARENT_TAG: &[u8] = b"hypasis-devnet fabricated parent";

/// Domain tag of the key outside the validator set used by [`Lie::ForeignSeal`].
const OUTSIDER_TAG: &[u8] = b"hypasis-devnet outsider";

/// What re-sealing needs: the chain's Bor rules and the validators' keys.
#[derive(Debug, Clone)]
pub(crate) struct Sealers {
    /// The chain's Bor parameters.
    pub(crate) bor: BorSpec,
    /// The validators' keys.
    pub(crate) keys: Vec<PrivateKeySigner>,
}

impl Sealers {
    /// The devnet's rules and validator keys.
    pub(crate) fn of(devnet: &hypasis_devnet::Devnet) -> Self {
        let config = devnet.config();
        let keys = (0..config.validators.max(1))
            .map(|i| hypasis_devnet::keys::derive(config.seed, hypasis_devnet::keys::Role::Validator, i))
            .collect();
        Self { bor: devnet.spec().bor.clone().expect("the devnet is a Bor chain"), keys }
    }
}

/// Turns each true block into the block served.
#[derive(Debug)]
pub(crate) struct Liar {
    lie: Lie,
    from: u64,
    sealers: Sealers,
    /// The last transaction of the latest earlier block that had any (for [`Lie::WrongTx`]).
    recent_tx: Option<RawTx>,
}

impl Liar {
    /// A liar telling `lie` about blocks numbered `from` and up.
    pub(crate) fn new(lie: Lie, from: u64, sealers: Sealers) -> Self {
        Self { lie, from, sealers, recent_tx: None }
    }

    /// The block to serve for `truth`, given the block served just before it.
    pub(crate) fn serve(&mut self, truth: &Arc<Block>, previous_served: Option<&Block>) -> Arc<Block> {
        let served = if self.lie == Lie::None || truth.number() < self.from {
            Arc::clone(truth)
        } else {
            Arc::new(self.tell(truth, previous_served))
        };
        if let Some(tx) = truth.body.transactions.last() {
            self.recent_tx = Some(tx.clone());
        }
        served
    }

    fn tell(&self, truth: &Block, previous_served: Option<&Block>) -> Block {
        let mut block = truth.clone();
        match self.lie {
            Lie::None => {}
            Lie::WrongTx => {
                let txs = &mut block.body.transactions;
                match (txs.last_mut(), &self.recent_tx) {
                    (Some(last), Some(other)) => *last = other.clone(),
                    (Some(_), None) => {
                        txs.pop();
                    }
                    (None, Some(other)) => txs.push(other.clone()),
                    // genesis: there is no transaction to lie with
                    (None, None) => {}
                }
            }
            Lie::WrongParent => {
                let parent = match previous_served {
                    Some(previous) if truth.number() > self.from => previous.hash(),
                    _ => keccak256([FABRICATED_PARENT_TAG, truth.header.parent_hash().as_slice()].concat()),
                };
                let mut header = truth.header.header().clone();
                header.parent_hash = parent;
                block.header = SealedHeader::seal(header);
            }
            Lie::ReorderedReceipts => {
                if let Some(receipts) = block.receipts.as_mut().filter(|r| r.len() >= 2) {
                    receipts.swap(0, 1);
                }
            }
            Lie::ForeignSeal | Lie::WrongDifficulty | Lie::AlteredValidators => block.header = self.reseal(truth, previous_served),
        }
        block
    }

    /// The true header re-linked to the block served before it, changed by the seal lie, and
    /// sealed again.
    fn reseal(&self, truth: &Block, previous_served: Option<&Block>) -> SealedHeader {
        let bor_spec = &self.sealers.bor;
        let mut header: Header = truth.header.header().clone();
        let signer = bor::recover_signer_with(&header, bor_spec.seals_base_fee(header.number)).ok();
        if let Some(previous) = previous_served.filter(|_| truth.number() > self.from) {
            header.parent_hash = previous.hash();
        }
        let true_key = self.sealers.keys.iter().find(|k| Some(k.address()) == signer).cloned();
        let key = match self.lie {
            Lie::ForeignSeal => PrivateKeySigner::from_bytes(&keccak256(OUTSIDER_TAG)).expect("a valid secret"),
            _ => true_key.expect("devnet blocks are sealed by devnet validators"),
        };
        match self.lie {
            Lie::WrongDifficulty => header.difficulty = (header.difficulty - U256::from(1)).max(U256::from(1)),
            Lie::AlteredValidators if bor_spec.is_sprint_end(header.number) => {
                let layout = bor_spec.extra_layout(header.number);
                let mut list = bor::validators(&header, layout).expect("devnet extra data is well-formed");
                if let Some(first) = list.first_mut() {
                    first.power += 1;
                }
                let vanity: [u8; bor::EXTRA_VANITY] = header.extra_data[..bor::EXTRA_VANITY].try_into().expect("vanity");
                header.extra_data = bor::build_extra(vanity, &list, layout);
            }
            _ => {}
        }
        let hash = bor::seal_hash_with(&header, bor_spec.seals_base_fee(header.number)).expect("room for the seal");
        bor::set_seal(&mut header, &key.sign_hash_sync(&hash).expect("local signing")).expect("room for the seal");
        SealedHeader::seal(header)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hypasis_chain::block::BlockError;
    use hypasis_devnet::{Devnet, DevnetConfig};

    fn serve_all(lie: Lie, from: u64, count: usize) -> (Vec<Arc<Block>>, Vec<Arc<Block>>) {
        let mut devnet = Devnet::new(DevnetConfig::default());
        let mut liar = Liar::new(lie, from, Sealers::of(&devnet));
        let mut truth = vec![Arc::new(devnet.tip().clone())];
        truth.extend(devnet.next_blocks(count).into_iter().map(Arc::new));
        let mut served: Vec<Arc<Block>> = Vec::new();
        for block in &truth {
            let next = liar.serve(block, served.last().map(|b| &**b));
            served.push(next);
        }
        (truth, served)
    }

    #[test]
    fn honest_before_lie_from_and_lying_after() {
        for lie in [Lie::WrongTx, Lie::ReorderedReceipts] {
            let (truth, served) = serve_all(lie, 5, 10);
            for (t, s) in truth.iter().zip(&served) {
                assert_eq!(t.hash(), s.hash(), "{lie}: headers are never changed");
                assert_eq!(t.total_difficulty, s.total_difficulty);
                if s.number() < 5 {
                    assert!(Arc::ptr_eq(t, s));
                } else {
                    let err = s.verify().unwrap_err();
                    match lie {
                        Lie::WrongTx => assert!(matches!(err, BlockError::Body { .. }), "{err}"),
                        _ => assert!(matches!(err, BlockError::Receipts { .. }), "{err}"),
                    }
                }
            }
        }
    }

    #[test]
    fn wrong_tx_covers_block_one_and_genesis() {
        let (truth, served) = serve_all(Lie::WrongTx, 0, 2);
        assert_eq!(served[0], truth[0], "nothing to lie with at genesis");
        assert_eq!(served[1].body.transactions.len(), truth[1].body.transactions.len() - 1);
        assert_eq!(served[2].body.transactions.last(), truth[1].body.transactions.last());
    }

    #[test]
    fn seal_lies_keep_the_chain_linked_and_break_one_seal_rule() {
        use hypasis_chain::bor_snapshot::Snapshot;
        for (lie, reason, first_lie) in [
            (Lie::ForeignSeal, "unauthorized_signer", 4),
            (Lie::WrongDifficulty, "wrong_difficulty", 4),
            (Lie::AlteredValidators, "validator_list", 15),
        ] {
            let devnet = Devnet::new(DevnetConfig::default());
            let bor = devnet.spec().bor.clone().unwrap();
            let (truth, served) = serve_all(lie, 4, 40);
            let mut at = Snapshot::anchor(&truth[0].header, &devnet.genesis_validators()).unwrap();
            for n in 1..=40 {
                assert_eq!(served[n].header.parent_hash(), served[n - 1].hash(), "{lie}: linked at {n}");
                served[n].verify().unwrap();
                match at.apply(&bor, &served[n].header) {
                    Ok(next) => {
                        assert!(n < first_lie, "{lie}: block {n} should break a rule");
                        at = next;
                    }
                    Err(e) => {
                        assert_eq!((n, e.reason()), (first_lie, reason), "{lie}: {e}");
                        break;
                    }
                }
            }
        }
    }

    #[test]
    fn wrong_parent_fabricates_a_linked_chain() {
        let (truth, served) = serve_all(Lie::WrongParent, 4, 10);
        assert_eq!(served[3].hash(), truth[3].hash());
        assert_ne!(served[4].header.parent_hash(), served[3].hash());
        for n in 5..=10 {
            assert_eq!(served[n].header.parent_hash(), served[n - 1].hash());
            assert_ne!(served[n].hash(), truth[n].hash());
            served[n].verify().unwrap();
        }
    }
}
