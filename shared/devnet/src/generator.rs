//! The block generator.

use crate::{
    DevnetConfig,
    genesis::{GAS_LIMIT, genesis_json},
    keys::{self, Role},
};
use alloy_consensus::{EMPTY_OMMER_ROOT_HASH, Header, SignableTransaction, TxEip1559, TxEip2930, TxEnvelope, TxLegacy};
use alloy_eips::{
    eip1559::BaseFeeParams,
    eip2718::Encodable2718,
    eip2930::{AccessList, AccessListItem},
};
use alloy_primitives::{Address, B256, Bloom, Bytes, Log, LogData, TxKind, U256, keccak256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use hypasis_chain::{
    Block, BlockBody, ChainSpec, RawTx, Receipt, SealedHeader,
    bor::{self, Validator},
    bor_snapshot::Snapshot,
    genesis::GenesisDoc,
    receipt::receipts_root,
};

/// Priority fee paid by devnet transactions: 1 gwei.
const TIP: u128 = 1_000_000_000;
/// Intrinsic gas of a plain transfer.
const TRANSFER_GAS: u64 = 21_000;
/// Intrinsic gas of a transfer with one access-list address and one storage key (EIP-2930).
const ACCESS_LIST_TRANSFER_GAS: u64 = 21_000 + 2_400 + 1_900;
/// Voting power given to every devnet validator.
const VALIDATOR_POWER: u64 = 100;

fn validator_set(validators: &[PrivateKeySigner]) -> Vec<Validator> {
    let mut set: Vec<Validator> = validators.iter().map(|v| Validator { address: v.address(), power: VALIDATOR_POWER }).collect();
    set.sort_by_key(|v| v.address);
    set
}

/// A devnet: its spec, its keys and a cursor that produces the next block. A clone is the same
/// devnet at the same tip, producing on independently (a branch once [`Devnet::set_branch`] is
/// told another number).
#[derive(Debug, Clone)]
pub struct Devnet {
    config: DevnetConfig,
    spec: ChainSpec,
    validators: Vec<PrivateKeySigner>,
    accounts: Vec<PrivateKeySigner>,
    nonces: Vec<u64>,
    tip: Block,
    /// Bor's producer state after the tip: who proposes next.
    snapshot: Snapshot,
    /// Which branch the next blocks belong to: 0 is the devnet's own chain; another number
    /// changes every transaction's value, so the same heights get other blocks (a reorg).
    branch: u64,
}

impl Devnet {
    /// Builds the devnet's genesis; [`Devnet::next_block`] then produces block 1, 2, …
    ///
    /// # Panics
    /// Never for configs with at least one validator and one account; those are checked by the
    /// node's config validation.
    pub fn new(config: DevnetConfig) -> Self {
        let validators: Vec<_> = (0..config.validators.max(1)).map(|i| keys::derive(config.seed, Role::Validator, i)).collect();
        let accounts: Vec<_> = (0..config.accounts.max(2)).map(|i| keys::derive(config.seed, Role::Account, i)).collect();
        let json = genesis_json(&config, &addresses(&validators), &addresses(&accounts));
        let doc = GenesisDoc::from_json(json).expect("the devnet genesis is well-formed");
        let spec = ChainSpec::from_genesis("devnet", doc).expect("the devnet config is well-formed");
        let header = spec.genesis_header.clone().expect("genesis header is computed from the genesis file");
        let snapshot = Snapshot::anchor(&header, &validator_set(&validators)).expect("devnet validators are distinct with power > 0");
        let tip = Block::genesis(header);
        let nonces = vec![0; accounts.len()];
        Self { config, spec, validators, accounts, nonces, tip, snapshot, branch: 0 }
    }

    /// The validator set of the genesis block (every validator, equal power, address order):
    /// the anchor of the devnet's seal checks.
    pub fn genesis_validators(&self) -> Vec<Validator> {
        validator_set(&self.validators)
    }

    /// The chain spec (genesis JSON, ids, fork schedule, Bor parameters).
    pub fn spec(&self) -> &ChainSpec {
        &self.spec
    }

    /// The config this devnet was built from.
    pub fn config(&self) -> &DevnetConfig {
        &self.config
    }

    /// The latest block produced (genesis before the first call to [`Devnet::next_block`]).
    pub fn tip(&self) -> &Block {
        &self.tip
    }

    /// Addresses of the validators, in rotation order.
    pub fn validator_addresses(&self) -> Vec<Address> {
        addresses(&self.validators)
    }

    /// Blocks produced from now on belong to branch `branch` (0, the default, is the devnet's
    /// own chain). The blocks are as valid as the devnet's own (sealed in turn, on time); they
    /// differ in their transactions' values, so a clone told another branch forks the chain.
    pub fn set_branch(&mut self, branch: u64) {
        self.branch = branch;
    }

    /// Produces the next block.
    pub fn next_block(&mut self) -> Block {
        let parent = self.tip.header.clone();
        let number = parent.number() + 1;
        let base_fee = parent.next_block_base_fee(BaseFeeParams::ethereum()).unwrap_or(crate::genesis::GENESIS_BASE_FEE);
        let (transactions, receipts) = self.transactions(number, base_fee);
        let state_sync_receipt = self.spec.bor.as_ref().filter(|b| b.is_sprint_start(number)).map(|_| state_sync(number));
        let logs_bloom = receipts.iter().fold(Bloom::ZERO, |acc, r| acc | r.bloom());
        let gas_used = receipts.last().map_or(0, |r| r.cumulative_gas_used);
        let bor = self.spec.bor.as_ref().expect("the devnet is a Bor chain");
        let set: Vec<Validator> = if bor.is_sprint_end(number) { self.genesis_validators() } else { Vec::new() };
        let mut vanity = [0u8; bor::EXTRA_VANITY];
        vanity[..14].copy_from_slice(b"hypasis-devnet");
        let body = BlockBody { transactions, ommers: Vec::new(), withdrawals: None };
        let difficulty = U256::from(self.validators.len());
        let mut header = Header {
            parent_hash: parent.hash(),
            ommers_hash: EMPTY_OMMER_ROOT_HASH,
            beneficiary: Address::ZERO,
            state_root: parent.state_root,
            transactions_root: body.transactions_root(),
            receipts_root: receipts_root(&receipts),
            logs_bloom,
            difficulty,
            number,
            gas_limit: GAS_LIMIT,
            gas_used,
            timestamp: self.config.genesis_timestamp + number * self.config.block_time,
            extra_data: bor::build_extra(vanity, &set, bor.extra_layout(number)),
            base_fee_per_gas: Some(base_fee),
            ..Default::default()
        };
        // The sprint's proposer seals every block, in turn (difficulty = set size) and on time
        // (the devnet's period and producer delay are both its block time).
        let proposer = self.snapshot.producers().proposer();
        let producer = self.validators.iter().find(|v| v.address() == proposer).expect("the proposer is a devnet validator");
        let seal_hash = bor::seal_hash_with(&header, bor.seals_base_fee(number)).expect("extra data has room for the seal");
        let signature = producer.sign_hash_sync(&seal_hash).expect("signing a hash cannot fail with a local key");
        bor::set_seal(&mut header, &signature).expect("extra data has room for the seal");
        let header = SealedHeader::seal(header);
        self.snapshot = self.snapshot.apply(bor, &header).expect("the devnet follows Bor's rules");
        let block =
            Block { header, body, receipts: Some(receipts), total_difficulty: self.tip.total_difficulty + difficulty, state_sync_receipt };
        self.tip = block.clone();
        block
    }

    /// Produces the next `count` blocks.
    pub fn next_blocks(&mut self, count: usize) -> Vec<Block> {
        (0..count).map(|_| self.next_block()).collect()
    }

    fn transactions(&mut self, number: u64, base_fee: u64) -> (Vec<RawTx>, Vec<Receipt>) {
        if self.config.txs_per_block > 0 {
            return self.mainnet_shaped(number, base_fee);
        }
        let count = 2 + (number % 4) as usize;
        let mut txs = Vec::with_capacity(count);
        let mut receipts = Vec::with_capacity(count);
        let mut cumulative = 0;
        for j in 0..count {
            let from = (number as usize * 7 + j) % self.accounts.len();
            let to = self.accounts[(from + 1) % self.accounts.len()].address();
            let nonce = self.nonces[from];
            self.nonces[from] += 1;
            let value = U256::from(number * 1_000 + j as u64) + (U256::from(self.branch) << 64);
            let gas = if (number as usize + j) % 3 == 1 { ACCESS_LIST_TRANSFER_GAS } else { TRANSFER_GAS };
            let call = Call { to, value, input: Bytes::new(), gas };
            let envelope = self.sign(from, (number as usize + j) % 3, nonce, &call, base_fee);
            cumulative += gas;
            let logs =
                if envelope.tx_type() as u8 == 1 { vec![transfer_log(self.accounts[from].address(), to, value)] } else { Vec::new() };
            receipts.push(Receipt { tx_type: envelope.tx_type() as u8, status: true.into(), cumulative_gas_used: cumulative, logs });
            txs.push(RawTx::new(Bytes::from(envelope.encoded_2718())).expect("an encoded envelope is a valid raw transaction"));
        }
        (txs, receipts)
    }

    /// Block `number`'s transactions shaped like Polygon mainnet's: `txs_per_block` of them,
    /// each from the next account in turn.
    fn mainnet_shaped(&mut self, number: u64, base_fee: u64) -> (Vec<RawTx>, Vec<Receipt>) {
        let count = self.config.txs_per_block;
        let mut txs = Vec::with_capacity(count);
        let mut receipts = Vec::with_capacity(count);
        let mut cumulative = 0;
        for j in 0..count {
            let from = (number as usize * count + j) % self.accounts.len();
            let nonce = self.nonces[from];
            self.nonces[from] += 1;
            let shaped = crate::mainnet_shape::transaction(number, j, count, self.accounts[from].address(), self.branch);
            let envelope = self.sign(from, shaped.kind, nonce, &shaped.call, base_fee);
            cumulative += shaped.call.gas;
            receipts.push(Receipt {
                tx_type: envelope.tx_type() as u8,
                status: true.into(),
                cumulative_gas_used: cumulative,
                logs: shaped.logs,
            });
            txs.push(RawTx::new(Bytes::from(envelope.encoded_2718())).expect("an encoded envelope is a valid raw transaction"));
        }
        (txs, receipts)
    }

    /// `call` signed by account `from` as a transaction of kind `kind` (0 legacy with EIP-155,
    /// 1 EIP-2930, else EIP-1559); its gas limit is the gas it uses.
    fn sign(&self, from: usize, kind: usize, nonce: u64, call: &Call, base_fee: u64) -> TxEnvelope {
        let key = &self.accounts[from];
        let chain_id = self.config.chain_id;
        let price = u128::from(base_fee) + TIP;
        let sign = |hash: B256| key.sign_hash_sync(&hash).expect("signing a hash cannot fail with a local key");
        let (to, value, input, gas_limit) = (TxKind::Call(call.to), call.value, call.input.clone(), call.gas);
        match kind {
            0 => {
                let tx = TxLegacy { chain_id: Some(chain_id), nonce, gas_price: price, gas_limit, to, value, input };
                let sig = sign(tx.signature_hash());
                tx.into_signed(sig).into()
            }
            1 => {
                let access_list = AccessList(vec![AccessListItem { address: call.to, storage_keys: vec![B256::with_last_byte(1)] }]);
                let tx = TxEip2930 { chain_id, nonce, gas_price: price, gas_limit, to, value, access_list, input };
                let sig = sign(tx.signature_hash());
                tx.into_signed(sig).into()
            }
            _ => {
                let tx = TxEip1559 {
                    chain_id,
                    nonce,
                    gas_limit,
                    max_fee_per_gas: u128::from(base_fee) * 2 + TIP,
                    max_priority_fee_per_gas: TIP,
                    to,
                    value,
                    access_list: AccessList::default(),
                    input,
                };
                let sig = sign(tx.signature_hash());
                tx.into_signed(sig).into()
            }
        }
    }
}

/// What a transaction does: the call, and the gas it uses (its gas limit).
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub(crate) to: Address,
    pub(crate) value: U256,
    pub(crate) input: Bytes,
    pub(crate) gas: u64,
}

/// A synthetic `DevnetTransfer(address,address,uint256)` log, so receipts exercise logs and
/// blooms.
fn transfer_log(from: Address, to: Address, value: U256) -> Log {
    let topic0 = keccak256("DevnetTransfer(address,address,uint256)");
    let topics = vec![topic0, from.into_word(), to.into_word()];
    Log { address: to, data: LogData::new_unchecked(topics, Bytes::from(value.to_be_bytes::<32>().to_vec())) }
}

fn addresses(keys: &[PrivateKeySigner]) -> Vec<Address> {
    keys.iter().map(PrivateKeySigner::address).collect()
}

/// The devnet's state-sync receipt of sprint-start block `number`: one `StateCommitted(uint256
/// indexed stateId, bool success)` event from the StateReceiver, the state id being the sprint
/// index (as if one deposit arrived per sprint).
fn state_sync(number: u64) -> Receipt {
    let topic0 = keccak256("StateCommitted(uint256,bool)");
    let state_id = B256::from(U256::from(number));
    let mut success = [0u8; 32];
    success[31] = 1;
    let data = LogData::new_unchecked(vec![topic0, state_id], Bytes::copy_from_slice(&success));
    hypasis_chain::receipt::state_sync_receipt(vec![Log { address: hypasis_chain::receipt::STATE_RECEIVER, data }])
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_consensus::transaction::SignerRecoverable;
    use alloy_eips::Decodable2718;
    use hypasis_chain::bor::ExtraLayout;

    #[test]
    fn a_branch_forks_the_chain_with_blocks_as_valid() {
        let mut devnet = Devnet::new(DevnetConfig::default());
        let common = devnet.next_blocks(10);
        let mut fork = devnet.clone();
        let ours = devnet.next_blocks(5);
        fork.set_branch(1);
        let theirs = fork.next_blocks(5);
        assert_eq!(theirs[0].header.parent_hash, common[9].hash());
        for (a, b) in ours.iter().zip(&theirs) {
            assert_eq!((a.number(), a.header.timestamp, a.header.difficulty), (b.number(), b.header.timestamp, b.header.difficulty));
            assert_ne!(a.hash(), b.hash());
            b.verify().expect("the branch's bodies and receipts match their headers");
        }
        // The branch's blocks follow Bor's rules from the common ancestor on.
        let bor = devnet.spec().bor.clone().expect("a Bor chain");
        let mut snapshot = Snapshot::anchor(devnet.spec().genesis_header.as_ref().unwrap(), &devnet.genesis_validators()).unwrap();
        for block in common.iter().chain(&theirs) {
            snapshot = snapshot.apply(&bor, &block.header).expect("sealed by the right producer");
        }
    }

    #[test]
    fn same_seed_same_chain_other_seed_other_chain() {
        let a = Devnet::new(DevnetConfig::default()).next_blocks(20);
        let b = Devnet::new(DevnetConfig::default()).next_blocks(20);
        assert_eq!(a, b);
        let c = Devnet::new(DevnetConfig { seed: 1, ..Default::default() }).next_blocks(1);
        assert_ne!(a[0].hash(), c[0].hash());
    }

    #[test]
    fn blocks_link_verify_and_are_sealed_by_the_in_turn_validator() {
        let mut devnet = Devnet::new(DevnetConfig::default());
        let mut validators = devnet.validator_addresses();
        validators.sort();
        let mut parent = devnet.tip().clone();
        let mut tx_types = std::collections::BTreeSet::new();
        for block in devnet.next_blocks(100) {
            assert_eq!(block.header.parent_hash(), parent.hash());
            block.verify().unwrap();
            assert_eq!(block.total_difficulty, parent.total_difficulty + block.header.difficulty);
            let signer = bor::recover_signer(&block.header).unwrap();
            // Equal powers: the proposer turns in address order, one sprint each.
            assert_eq!(signer, validators[((block.number() / 16) as usize) % 3]);
            assert_eq!(block.header.difficulty, U256::from(3), "always in turn");
            let layout = if block.number() >= 64 { ExtraLayout::Rlp } else { ExtraLayout::Raw };
            let set = bor::validators(&block.header, layout).unwrap();
            assert_eq!(set.len(), if (block.number() + 1).is_multiple_of(16) { 3 } else { 0 }, "block {}", block.number());
            for raw in &block.body.transactions {
                tx_types.insert(raw.tx_type());
                let tx = TxEnvelope::decode_2718(&mut raw.as_bytes().as_ref()).unwrap();
                tx.recover_signer().unwrap();
            }
            parent = block;
        }
        assert_eq!(tx_types.into_iter().collect::<Vec<_>>(), vec![0, 1, 2]);
    }

    #[test]
    fn genesis_hash_matches_the_served_genesis_json() {
        let devnet = Devnet::new(DevnetConfig::default());
        let json = devnet.spec().genesis.as_ref().unwrap().json().clone();
        let reparsed = GenesisDoc::from_json(serde_json::from_str(&json.to_string()).unwrap()).unwrap();
        assert_eq!(reparsed.hash(), devnet.spec().genesis_hash);
        assert_eq!(devnet.spec().chain_id, 1337);
        assert_eq!(devnet.spec().fork_id(0, 0).next, 64);
    }
}
