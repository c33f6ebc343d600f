//! A chain made by real Bor v1.5.5 with its own consensus (validator-set contract, sprints,
//! spans, a real seal on every block), with no Heimdall: `bor server --bor.withoutheimdall
//! --mine` on Bor's own test genesis with a chain config of ours (sprints of 4, as the genesis
//! contract's first span expects, then of 16 from block 16; Cancun from block 12 so both
//! extra-data layouts appear), sealed by Bor's public test key.
//!
//! - Our node checks every seal of it from the genesis validator contract's set, in `--import`
//!   and in upstream mode, and a fresh Bor full-syncs it from us with identical hashes.
//! - The same chain with one block re-sealed by a key outside the set, one with a wrong
//!   difficulty for its signer, and one with a sprint-end validator list altered (each re-sealed
//!   so only that rule is broken) is refused at `--import`, naming the block and the reason.
//!
//! Real Bor v1.5.5 in full sync drops its peer once per sprint on such a chain ("Synchronisation
//! failed, dropping peer … retrieved hash chain is invalid: header for hash not found": checking a
//! sprint-end header it calls the validator contract at the parent's state, which it has not
//! executed yet) and redials about 35 s later, having imported the blocks before that sprint end.
//! It does the same syncing from the Bor validator itself. So the follower takes a round per
//! sprint, and the chain is kept short with long sprints after the first span.

mod support;

use alloy_primitives::{U256, keccak256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use hypasis_chain::{
    BorSpec, ChainSpec, SealedHeader,
    bor::{self, Validator},
    genesis::GenesisDoc,
    import::{read_blocks, write_blocks},
};
use hypasis_test_support::bor::{Bor, TEST_VALIDATOR_KEY, consensus_genesis};
use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant},
};
use support::{Node, eventually, run_to_exit};

/// Blocks the validator makes (past Cancun at 12 and the sprint change at 16).
const BLOCKS: u64 = 36;
/// The last block of the forged files: a sprint end (sprints of 16 from block 16).
const FORGED: u64 = 31;
/// Time the fresh Bor gets: a round of about 35 s per sprint (see above).
const FOLLOW_DEADLINE: Duration = Duration::from_secs(480);

struct ConsensusChain {
    validator: Bor,
    dir: tempfile::TempDir,
    spec: BorSpec,
}

impl ConsensusChain {
    fn make() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let genesis = consensus_genesis();
        std::fs::write(dir.path().join("genesis.json"), genesis.to_string()).expect("genesis.json");
        let spec = ChainSpec::from_genesis("bor-test", GenesisDoc::from_json(genesis).expect("genesis")).expect("spec");
        let validator = Bor::validator(&dir.path().join("genesis.json"), &TEST_VALIDATOR_KEY);
        let started = Instant::now();
        while validator.head() < BLOCKS {
            assert!(started.elapsed() < Duration::from_secs(300), "Bor made only {} blocks:\n{}", validator.head(), validator.log_tail(40));
            std::thread::sleep(Duration::from_millis(500));
        }
        eprintln!("Bor (no Heimdall) sealed {BLOCKS} blocks in {:?}", started.elapsed());
        std::fs::write(dir.path().join("chain.rlp"), validator.export_chain(BLOCKS)).expect("chain.rlp");
        Self { validator, dir, spec: spec.bor.expect("a Bor chain") }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

fn metric(node: &Node, line_start: &str) -> f64 {
    let (_, metrics) = node.get("/metrics");
    metrics.lines().filter(|l| l.starts_with(line_start)).filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok()).sum()
}

fn arg(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

#[test]
fn every_seal_of_a_real_bor_chain_is_checked_and_forged_blocks_are_refused() {
    let chain = ConsensusChain::make();
    let genesis = chain.path("genesis.json");

    // Import: every block checked from the genesis contract's set.
    let imported = Node::start(&["--chain", arg(&genesis), "--import", arg(&chain.path("chain.rlp"))]);
    let status = imported.get_json("/api/v1/status");
    assert_eq!(status["head"]["number"], BLOCKS, "{status}");
    assert_eq!(status["seal_check"]["mode"], "snapshot", "{status}");
    let anchor = status["seal_check"]["anchor"].as_str().unwrap_or_default();
    assert!(anchor.contains("genesis validator contract") && anchor.contains("1 validators at block 0"), "{anchor}");
    assert_eq!(metric(&imported, "hypasis_blocks_seal_checked_total"), BLOCKS as f64, "every block checked");

    // A fresh Bor full-syncs it from us.
    let follower = Bor::follower_without_heimdall(&genesis, &imported.enodes[..1]);
    eventually(FOLLOW_DEADLINE, "the fresh Bor reaches our head", || (follower.head() >= BLOCKS).then_some(()));
    assert_eq!(follower.hashes(0, BLOCKS), chain.validator.hashes(0, BLOCKS), "identical hashes");
    drop(follower);

    // Upstream mode: the node starts at Bor's tip (its proposer computed from the anchor) and
    // checks every block it follows as Bor keeps sealing; history below is hash-linked to it.
    let upstream = format!("http://{}", chain.validator.http);
    let synced = Node::start(&["--chain", arg(&genesis), "--upstream", &upstream, "--upstream-rps", "100000"]);
    let started_at = eventually(Duration::from_secs(60), "a head from Bor's JSON-RPC", || {
        synced.get_json("/api/v1/status")["head"]["number"].as_u64().filter(|n| *n >= BLOCKS)
    });
    eventually(Duration::from_secs(120), "eight more blocks followed, history complete", || {
        let gaps = synced.get_json("/api/v1/gaps");
        (gaps["head"].as_u64()? >= started_at + 8 && gaps["missing_blocks"] == 0).then_some(())
    });
    assert!(metric(&synced, "hypasis_blocks_seal_checked_total") >= 9.0, "the start block and every block followed");
    assert_eq!(metric(&synced, "hypasis_blocks_rejected_total{"), 0.0, "nothing refused from honest Bor");

    // Forged files: one rule broken each, the forged block re-sealed.
    let blocks = read_blocks(&std::fs::read(chain.path("chain.rlp")).expect("chain.rlp")).expect("blocks");
    let outsider = PrivateKeySigner::from_bytes(&keccak256(b"hypasis outsider")).expect("key");
    let validator = PrivateKeySigner::from_bytes(&TEST_VALIDATOR_KEY).expect("key");
    let forgeries: [(&str, &PrivateKeySigner, Box<HeaderEdit<'_>>); 3] = [
        ("unauthorized_signer", &outsider, Box::new(|_| {})),
        ("wrong_difficulty", &validator, Box::new(|h| h.difficulty = U256::from(2))),
        (
            "validator_list",
            &validator,
            Box::new(|h| {
                let extra = bor::build_extra([0; 32], &[Validator { address: validator.address(), power: 11 }], bor::ExtraLayout::Rlp);
                h.extra_data = extra;
            }),
        ),
    ];
    for (reason, key, edit) in forgeries {
        let mut forged: Vec<_> = blocks[..FORGED as usize].to_vec();
        let (last, _) = forged.last_mut().expect("blocks");
        *last = reseal(&chain.spec, last, key, &edit);
        let file = chain.path(&format!("forged-{reason}.rlp"));
        let linked = hypasis_chain::import::link(&chain_genesis(&genesis), U256::from(1), forged).expect("still linked");
        std::fs::write(&file, write_blocks(&linked)).expect("forged file");
        let key = chain.path("node.key");
        let args = [
            "--chain",
            arg(&genesis),
            "--import",
            arg(&file),
            "--api-port",
            "0",
            "--rpc-port",
            "0",
            "--p2p-port",
            "0",
            "--node-key-file",
            arg(&key),
        ];
        let (code, stderr) = run_to_exit(&args);
        assert_ne!(code, 0, "{reason}: a forged chain must be refused");
        assert!(stderr.contains(&format!("block {FORGED}")), "{reason}: names the block: {stderr}");
        let expected = match reason {
            "unauthorized_signer" => "not a producer",
            "wrong_difficulty" => "difficulty 2, expected 1",
            _ => "validator list",
        };
        assert!(stderr.contains(expected), "{reason}: says why ({expected}): {stderr}");
    }
}

/// A change made to a header before it is re-sealed.
type HeaderEdit<'a> = dyn Fn(&mut hypasis_chain::Header) + 'a;

fn chain_genesis(genesis: &Path) -> SealedHeader {
    let doc = GenesisDoc::parse(&std::fs::read_to_string(genesis).expect("genesis")).expect("genesis");
    SealedHeader::seal(doc.header())
}

/// `header` changed by `edit`, sealed by `key` as Bor seals it.
fn reseal(spec: &BorSpec, header: &SealedHeader, key: &PrivateKeySigner, edit: &HeaderEdit<'_>) -> SealedHeader {
    let mut header = header.header().clone();
    let vanity: [u8; 32] = header.extra_data[..32].try_into().expect("vanity");
    edit(&mut header);
    if header.extra_data.len() >= 32 {
        let mut extra = header.extra_data.to_vec();
        extra[..32].copy_from_slice(&vanity);
        header.extra_data = extra.into();
    }
    let hash = bor::seal_hash_with(&header, spec.seals_base_fee(header.number)).expect("seal hash");
    bor::set_seal(&mut header, &key.sign_hash_sync(&hash).expect("sign")).expect("seal");
    SealedHeader::seal(header)
}
