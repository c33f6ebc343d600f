//! Bor's seal check (`hypasis_chain::bor_snapshot`) on devnet chains: every block the devnet
//! makes passes, and a block broken in one way (re-sealed by an outsider, a wrong difficulty for
//! its signer, too early, a sprint-end list altered) is refused with that reason even when it is
//! re-sealed by the key whose turn it is.

use alloy_primitives::{Address, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use hypasis_chain::{
    Block, Header, SealedHeader,
    bor::{self, Validator},
    bor_snapshot::{SealError, Snapshot, apply_all},
};
use hypasis_devnet::{
    Devnet, DevnetConfig,
    keys::{Role, derive},
};

fn chain(config: &DevnetConfig, blocks: usize) -> (Devnet, Vec<Block>) {
    let mut devnet = Devnet::new(config.clone());
    let blocks = devnet.next_blocks(blocks);
    (devnet, blocks)
}

fn anchor(devnet: &Devnet) -> Snapshot {
    let genesis = devnet.spec().genesis_header.clone().expect("genesis");
    Snapshot::anchor(&genesis, &devnet.genesis_validators()).expect("anchor")
}

/// `header` changed by `edit`, then sealed by `key`.
fn resealed(devnet: &Devnet, header: &SealedHeader, key: &PrivateKeySigner, edit: impl FnOnce(&mut Header)) -> SealedHeader {
    let mut header = header.header().clone();
    edit(&mut header);
    let bor = devnet.spec().bor.as_ref().expect("bor");
    let hash = bor::seal_hash_with(&header, bor.seals_base_fee(header.number)).expect("seal hash");
    bor::set_seal(&mut header, &key.sign_hash_sync(&hash).expect("sign")).expect("seal");
    SealedHeader::seal(header)
}

/// The key of the validator whose turn block `number` is.
fn proposer_key(config: &DevnetConfig, before: &Snapshot) -> PrivateKeySigner {
    let proposer = before.producers().proposer();
    (0..config.validators).map(|i| derive(config.seed, Role::Validator, i)).find(|k| k.address() == proposer).expect("a validator")
}

/// Checks the chain with block `at` replaced by `broken(before, header)`.
fn check_with(
    config: &DevnetConfig,
    at: usize,
    broken: impl FnOnce(&Devnet, &Snapshot, &SealedHeader) -> SealedHeader,
) -> Result<Snapshot, SealError> {
    let (devnet, blocks) = chain(config, at + 2);
    let bor = devnet.spec().bor.clone().expect("bor");
    let headers: Vec<SealedHeader> = blocks.iter().map(|b| b.header.clone()).collect();
    let before = apply_all(&bor, &anchor(&devnet), &headers[..at - 1]).expect("the blocks before are fine");
    let replaced = broken(&devnet, &before, &headers[at - 1]);
    apply_all(&bor, &before, [&replaced])
}

#[test]
fn every_devnet_block_passes_across_sprints_layouts_and_rotations() {
    for config in [DevnetConfig::default(), DevnetConfig { validators: 1, sprint: 4, cancun_block: 10, ..Default::default() }] {
        let (devnet, blocks) = chain(&config, 200);
        let bor = devnet.spec().bor.clone().expect("bor");
        let mut at = anchor(&devnet);
        let mut proposers = std::collections::BTreeSet::new();
        for block in &blocks {
            at = at.apply(&bor, &block.header).unwrap_or_else(|e| panic!("{e}"));
            proposers.insert(at.producers().proposer());
        }
        assert_eq!(at.number(), 200);
        assert_eq!(at.hash(), blocks[199].hash());
        assert_eq!(proposers.len(), config.validators, "every validator had a turn");
    }
}

#[test]
fn the_snapshot_at_any_block_follows_from_the_anchor_without_headers() {
    // The set never changes, so counting sprint ends gives the same proposer state as applying
    // every header.
    let (devnet, blocks) = chain(&DevnetConfig::default(), 120);
    let mut bor = devnet.spec().bor.clone().expect("bor");
    assert_eq!(hypasis_chain::bor_snapshot::sprint_ends_between(&bor, 0, 15), 1);
    assert_eq!(hypasis_chain::bor_snapshot::sprint_ends_between(&bor, 15, 47), 2);
    bor.sprints = vec![(0, 16), (40, 8)];
    // Sprints of 16, then of 8 from block 40: 15 and 31, then 47 (39 is in a sprint of 16).
    assert_eq!(hypasis_chain::bor_snapshot::sprint_ends_between(&bor, 0, 50), 3);
    let bor = devnet.spec().bor.clone().expect("bor");
    let start = anchor(&devnet);
    let mut at = start.clone();
    for block in &blocks {
        at = at.apply(&bor, &block.header).expect("valid");
        let header = &block.header;
        assert_eq!(start.advanced_to(&bor, header.number(), header.hash(), header.timestamp), at, "block {}", header.number());
    }
}

#[test]
fn a_block_sealed_by_an_outsider_is_unauthorized() {
    let config = DevnetConfig::default();
    let outsider = PrivateKeySigner::from_bytes(&[7u8; 32].into()).expect("key");
    let err = check_with(&config, 5, |d, _, h| resealed(d, h, &outsider, |_| {})).unwrap_err();
    assert_eq!(err, SealError::Unauthorized { number: 5, signer: outsider.address() });
    assert_eq!(err.reason(), "unauthorized_signer");
}

#[test]
fn a_wrong_difficulty_for_the_signer_is_refused() {
    let config = DevnetConfig::default();
    let err = check_with(&config, 5, |d, before, h| resealed(d, h, &proposer_key(&config, before), |h| h.difficulty = U256::from(2)))
        .unwrap_err();
    assert!(matches!(err, SealError::WrongDifficulty { number: 5, expected: 3, actual: 2, .. }), "{err}");
    // A backup signer (one place after the proposer) must claim difficulty 2 and wait its
    // backup delay: with difficulty 2 and the in-turn timestamp it is too soon.
    let backup = |before: &Snapshot| {
        let producers = before.producers();
        let next = producers.producers().iter().map(|p| p.address).find(|a| producers.succession(a) == Some(1)).expect("backup");
        (0..3).map(|i| derive(0, Role::Validator, i)).find(|k| k.address() == next).expect("key")
    };
    let err = check_with(&config, 5, |d, before, h| resealed(d, h, &backup(before), |h| h.difficulty = U256::from(2))).unwrap_err();
    assert!(matches!(err, SealError::TooSoon { number: 5, succession: 1, .. }), "{err}");
    let ok = check_with(&config, 5, |d, before, h| {
        resealed(d, h, &backup(before), |h| {
            h.difficulty = U256::from(2);
            h.timestamp += 2;
        })
    });
    assert!(ok.is_ok(), "a backup with its difficulty and delay is fine: {ok:?}");
}

#[test]
fn an_early_block_is_refused() {
    let config = DevnetConfig::default();
    let err = check_with(&config, 5, |d, before, h| resealed(d, h, &proposer_key(&config, before), |h| h.timestamp -= 1)).unwrap_err();
    assert!(matches!(err, SealError::TooSoon { number: 5, succession: 0, .. }), "{err}");
}

#[test]
fn an_altered_sprint_end_list_is_refused() {
    let config = DevnetConfig::default();
    let bor = DevnetConfig::default().sprint;
    let end = (bor - 1) as usize;
    let relist = |validators: Vec<Validator>| {
        let config = config.clone();
        move |d: &Devnet, before: &Snapshot, h: &SealedHeader| {
            let layout = d.spec().bor.as_ref().expect("bor").extra_layout(h.number());
            resealed(d, h, &proposer_key(&config, before), |h| h.extra_data = bor::build_extra([0; 32], &validators, layout))
        }
    };
    let set = Devnet::new(config.clone()).genesis_validators();
    let mut more_power = set.clone();
    more_power[0].power += 1;
    let mut added = set.clone();
    added.push(Validator { address: Address::repeat_byte(0xff), power: 100 });
    let mut unsorted = set.clone();
    unsorted.reverse();
    for list in [more_power, added, unsorted, set[..2].to_vec(), vec![]] {
        let err = check_with(&config, end, relist(list.clone())).unwrap_err();
        assert_eq!(err.reason(), "validator_list", "{list:?}: {err}");
    }
    assert!(check_with(&config, end, relist(set.clone())).is_ok(), "re-sealing the same list is fine");
    // A list on a block that ends no sprint is refused too.
    let err = check_with(&config, 5, relist(set)).unwrap_err();
    assert_eq!(err.reason(), "validator_list");
}

#[test]
fn a_block_that_does_not_follow_is_unlinked() {
    let (devnet, blocks) = chain(&DevnetConfig::default(), 3);
    let bor = devnet.spec().bor.clone().expect("bor");
    let err = anchor(&devnet).apply(&bor, &blocks[1].header).unwrap_err();
    assert_eq!(err.reason(), "unlinked");
}
