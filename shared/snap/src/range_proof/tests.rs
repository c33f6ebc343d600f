//! Tries built with alloy-trie's `HashBuilder`, their edge proofs retained by its
//! `ProofRetainer` (an implementation independent of the verifier), and every kind of answer a
//! server could send: honest ranges, empty tails, and altered, shortened or padded ones.

use super::*;
use alloy_primitives::U256;
use alloy_trie::proof::ProofRetainer;
use proptest::prelude::*;

/// A trie's sorted entries and root.
struct Trie {
    keys: Vec<B256>,
    values: Vec<Vec<u8>>,
    root: B256,
}

fn trie(seeds: &[u64]) -> Trie {
    let mut entries: Vec<(B256, Vec<u8>)> =
        seeds.iter().map(|s| (keccak256(s.to_be_bytes()), alloy_rlp::encode(U256::from(*s) << 100))).collect();
    entries.sort();
    entries.dedup_by(|a, b| a.0 == b.0);
    let mut builder = HashBuilder::default();
    for (k, v) in &entries {
        builder.add_leaf(Nibbles::unpack(k), v);
    }
    let root = builder.root();
    let (keys, values) = entries.into_iter().unzip();
    Trie { keys, values, root }
}

/// The proof nodes of the paths to `targets`, as a snap/1 server sends them.
fn proof(t: &Trie, targets: &[B256]) -> Vec<Bytes> {
    let retainer = ProofRetainer::new(targets.iter().map(Nibbles::unpack).collect());
    let mut builder = HashBuilder::default().with_proof_retainer(retainer);
    for (k, v) in t.keys.iter().zip(&t.values) {
        builder.add_leaf(Nibbles::unpack(k), v);
    }
    assert_eq!(builder.root(), t.root);
    let mut nodes: Vec<Bytes> = builder.take_proof_nodes().into_inner().into_values().collect();
    nodes.sort();
    nodes
}

/// An honest answer: entries `from..to` for a request starting at `origin`.
fn answer(t: &Trie, origin: B256, from: usize, to: usize) -> (Vec<B256>, Vec<Vec<u8>>, Vec<Bytes>) {
    let keys = t.keys[from..to].to_vec();
    let values = t.values[from..to].to_vec();
    let last = keys.last().copied().unwrap_or(origin);
    let nodes = proof(t, &[origin, last]);
    (keys, values, nodes)
}

#[test]
fn the_whole_trie_without_a_proof_verifies() {
    let t = trie(&(0..200).collect::<Vec<_>>());
    assert_eq!(verify_range(t.root, B256::ZERO, &t.keys, &t.values, &[]), Ok(()));
    let short = &t.keys[1..];
    assert!(matches!(verify_range(t.root, B256::ZERO, short, &t.values[1..], &[]), Err(RangeProofError::RootMismatch { .. })));
}

#[test]
fn honest_ranges_verify_from_a_present_or_absent_origin() {
    let t = trie(&(0..300).collect::<Vec<_>>());
    for (from, to) in [(0, 1), (0, 50), (10, 11), (37, 120), (150, 300), (299, 300), (0, 300)] {
        let (keys, values, nodes) = answer(&t, t.keys[from], from, to);
        assert_eq!(verify_range(t.root, t.keys[from], &keys, &values, &nodes), Ok(()), "{from}..{to}");
        // An origin between two keys: the proof shows nothing lies between it and the first.
        if from > 0 {
            let origin = B256::from(U256::from_be_bytes(t.keys[from - 1].0) + U256::from(1));
            let (keys, values, nodes) = answer(&t, origin, from, to);
            assert_eq!(verify_range(t.root, origin, &keys, &values, &nodes), Ok(()), "absent origin, {from}..{to}");
        }
    }
}

#[test]
fn an_empty_tail_verifies_only_when_nothing_follows() {
    let t = trie(&(0..100).collect::<Vec<_>>());
    let past_the_end = B256::from(U256::from_be_bytes(t.keys[99].0) + U256::from(1));
    let nodes = proof(&t, &[past_the_end]);
    assert_eq!(verify_range::<Vec<u8>>(t.root, past_the_end, &[], &[], &nodes), Ok(()));
    // "Nothing from here on" said where entries follow.
    let nodes = proof(&t, &[t.keys[50]]);
    assert!(verify_range::<Vec<u8>>(t.root, t.keys[50], &[], &[], &nodes).is_err());
}

#[test]
fn altered_dropped_or_invented_entries_fail() {
    let t = trie(&(0..300).collect::<Vec<_>>());
    let (keys, values, nodes) = answer(&t, t.keys[40], 40, 140);
    let mismatch = |keys: &[B256], values: &[Vec<u8>]| verify_range(t.root, t.keys[40], keys, values, &nodes);

    let mut altered = values.clone();
    altered[17] = alloy_rlp::encode(U256::from(7));
    assert!(matches!(mismatch(&keys, &altered), Err(RangeProofError::RootMismatch { .. })));

    for dropped in [0, 50] {
        let (mut k, mut v) = (keys.clone(), values.clone());
        k.remove(dropped);
        v.remove(dropped);
        assert!(mismatch(&k, &v).is_err(), "entry {dropped} dropped");
    }

    let (mut k, mut v) = (keys.clone(), values.clone());
    let invented = B256::from(U256::from_be_bytes(k[5].0) + U256::from(1));
    k.insert(6, invented);
    v.insert(6, alloy_rlp::encode(U256::from(1)));
    assert!(matches!(mismatch(&k, &v), Err(RangeProofError::RootMismatch { .. })));

    // The last entry dropped: the proof is of a different last key.
    assert!(mismatch(&keys[..99], &values[..99]).is_err());
    // A proof node missing.
    assert!(verify_range(t.root, t.keys[40], &keys, &values, &nodes[1..]).is_err());
}

#[test]
fn malformed_answers_are_refused_with_a_reason() {
    let t = trie(&(0..50).collect::<Vec<_>>());
    let (keys, values, nodes) = answer(&t, t.keys[0], 0, 10);
    assert_eq!(verify_range(t.root, t.keys[0], &keys, &values[..9], &nodes), Err(RangeProofError::Lengths { keys: 10, values: 9 }));
    let mut reversed = keys.clone();
    reversed.swap(3, 4);
    assert_eq!(verify_range(t.root, t.keys[0], &reversed, &values, &nodes), Err(RangeProofError::NotAscending(4)));
    assert_eq!(verify_range(t.root, t.keys[1], &keys, &values, &nodes), Err(RangeProofError::BeforeOrigin(keys[0])));
    let mut empty = values.clone();
    empty[2].clear();
    assert_eq!(verify_range(t.root, t.keys[0], &keys, &empty, &nodes), Err(RangeProofError::EmptyValue(keys[2])));
    let garbage = vec![Bytes::from_static(&[0xc3, 0x01, 0x02])];
    assert!(verify_range(t.root, t.keys[0], &keys, &values, &garbage).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn random_tries_and_ranges(seeds in prop::collection::vec(any::<u64>(), 1..400), a in any::<prop::sample::Index>(), b in any::<prop::sample::Index>()) {
        let t = trie(&seeds);
        let (i, j) = (a.index(t.keys.len()), b.index(t.keys.len()));
        let (from, to) = (i.min(j), i.max(j) + 1);
        let (keys, values, nodes) = answer(&t, t.keys[from], from, to);
        prop_assert_eq!(verify_range(t.root, t.keys[from], &keys, &values, &nodes), Ok(()));
        if to - from > 1 {
            let mut v = values.clone();
            v[(to - from) / 2][0] ^= 1;
            prop_assert!(verify_range(t.root, t.keys[from], &keys, &v, &nodes).is_err());
        }
    }

    #[test]
    fn arbitrary_proofs_never_panic(nodes in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..120), 0..6), root in any::<[u8; 32]>()) {
        let nodes: Vec<Bytes> = nodes.into_iter().map(Bytes::from).collect();
        let keys = [B256::repeat_byte(0x11)];
        let values = [vec![1u8]];
        let _ = verify_range(B256::from(root), B256::ZERO, &keys, &values, &nodes);
        let root = nodes.first().map_or(B256::from(root), keccak256);
        let _ = verify_range(root, B256::ZERO, &keys, &values, &nodes);
        let _ = verify_range::<Vec<u8>>(root, B256::repeat_byte(0x80), &[], &[], &nodes);
    }
}
