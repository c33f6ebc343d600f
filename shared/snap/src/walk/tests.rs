//! The walk against tries built by alloy-trie's HashBuilder, every node kept by path: a source
//! that answers by path from them (honestly, or altering one node, or sending nothing).

use super::*;
use crate::trie_path::{TERMINATOR, key_path};
use alloy_trie::{HashBuilder, Nibbles, proof::ProofRetainer};
use std::collections::BTreeMap;

struct Trie {
    root: B256,
    /// Every node on a path to a key, by path (embedded ones too).
    nodes: BTreeMap<Vec<u8>, Bytes>,
    entries: Vec<(B256, Vec<u8>)>,
}

/// A trie of `n` keys whose values are `value_len` bytes long.
fn trie(n: u64, value_len: usize) -> Trie {
    trie_of((0..n).map(|i| (keccak256(i.to_be_bytes()), vec![(i % 250) as u8 + 1; value_len])).collect())
}

fn trie_of(mut entries: Vec<(B256, Vec<u8>)>) -> Trie {
    entries.sort();
    let targets = entries.iter().map(|(k, _)| Nibbles::unpack(k)).collect();
    let mut builder = HashBuilder::default().with_proof_retainer(ProofRetainer::new(targets));
    for (k, v) in &entries {
        builder.add_leaf(Nibbles::unpack(k), v);
    }
    let root = builder.root();
    let nodes = builder.take_proof_nodes().into_inner().into_iter().map(|(path, node)| (path.to_vec(), node)).collect();
    Trie { root, nodes, entries }
}

#[derive(Default)]
struct Source<'a> {
    nodes: Option<&'a BTreeMap<Vec<u8>, Bytes>>,
    /// Path whose node is altered.
    lie_at: Option<Vec<u8>>,
    /// Nodes sent per round at most.
    per_round: Option<usize>,
    /// Leave out the first node asked for in a round of several (as geth skips a path whose lookup
    /// fails), sending the rest.
    skip_first: bool,
    calls: usize,
}

impl NodeSource for Source<'_> {
    async fn fetch(&mut self, wanted: &[Wanted]) -> Result<Vec<Bytes>, WalkError> {
        self.calls += 1;
        let Some(nodes) = self.nodes else { return Ok(vec![]) };
        let mut out = Vec::new();
        let skip = usize::from(self.skip_first && wanted.len() > 1);
        for w in wanted.iter().skip(skip).take(self.per_round.unwrap_or(usize::MAX)) {
            let mut node = nodes.get(&w.path).cloned().expect("asked only for nodes on a path").to_vec();
            if self.lie_at.as_ref() == Some(&w.path) {
                let last = node.len() - 1;
                node[last] ^= 1;
            }
            out.push(node.into());
        }
        Ok(out)
    }
}

fn node_query(root: B256, path: Vec<u8>) -> Query {
    Query { owner: None, root, path, want: Want::Node }
}

fn value_query(root: B256, key: &B256) -> Query {
    Query { owner: None, root, path: key_path(key), want: Want::Value }
}

#[tokio::test]
async fn values_and_nodes_are_found_and_proven_from_the_root() {
    let t = trie(300, 70);
    let cache = node_cache(1 << 20);
    let mut source = Source { nodes: Some(&t.nodes), ..Default::default() };
    let mut queries: Vec<Query> = t.entries.iter().map(|(k, _)| value_query(t.root, k)).collect();
    queries.push(value_query(t.root, &keccak256(b"absent")));
    queries.push(node_query(t.root, vec![]));
    let found = walk(&queries, &cache, &mut source).await.unwrap();
    for ((_, value), found) in t.entries.iter().zip(&found) {
        assert_eq!(found, &Found::Value(value.clone().into()));
    }
    assert_eq!(found[300], Found::Nothing, "an absent key");
    let Found::Node(root) = &found[301] else { panic!("the root node: {:?}", found[301]) };
    assert_eq!(keccak256(root), t.root);
    assert!(source.calls <= 6, "all walk together, one round per level: {} rounds", source.calls);
    // Everything is cached now: a second walk asks nothing.
    let again = walk(&queries, &cache, &mut source).await.unwrap();
    assert_eq!(again, found);
    assert!(source.calls <= 6);
}

#[tokio::test]
async fn every_prefix_of_a_key_leads_where_geth_leads_it() {
    let t = trie(300, 70);
    let cache = node_cache(1 << 20);
    let mut source = Source { nodes: Some(&t.nodes), ..Default::default() };
    let key = key_path(&t.entries[7].0);
    let queries: Vec<Query> = (0..=key.len()).map(|n| node_query(t.root, key[..n].to_vec())).collect();
    let found = walk(&queries, &cache, &mut source).await.unwrap();
    let mut nodes = 0;
    for (n, found) in found.iter().enumerate() {
        match found {
            Found::Node(node) => {
                nodes += 1;
                assert_eq!(t.nodes.get(&key[..n]), Some(node), "the node at {n} nibbles");
            }
            Found::Nothing => assert!(!t.nodes.contains_key(&key[..n]), "a node at {n} nibbles was missed"),
            // The full path with its terminator ends at the leaf's value.
            Found::NotConsensus => assert_eq!(n, key.len()),
            Found::Value(_) => panic!("a node query found a value"),
        }
    }
    assert!(nodes >= 2, "root and at least the leaf");
    let long: Vec<u8> = (0..104).map(|i| i % 9).collect();
    assert_eq!(walk(&[node_query(t.root, long)], &cache, &mut source).await.unwrap(), vec![Found::Nothing]);
}

#[tokio::test]
async fn embedded_leaves_are_values_not_nodes() {
    // One-byte values under keys that differ in their last nibble only: the leaves are shorter
    // than 32 bytes and live inside their parent branch, 63 nibbles down.
    let mut entries: Vec<(B256, Vec<u8>)> = (0..16u8).map(|i| (B256::with_last_byte(i), vec![i + 1])).collect();
    entries.extend((0..50u64).map(|i| (keccak256(i.to_be_bytes()), vec![7])));
    let t = trie_of(entries);
    let cache = node_cache(1 << 20);
    let mut source = Source { nodes: Some(&t.nodes), ..Default::default() };
    let mut embedded = key_path(&B256::with_last_byte(5));
    embedded.pop();
    let found = walk(&[node_query(t.root, embedded)], &cache, &mut source).await.unwrap();
    assert_eq!(found, vec![Found::NotConsensus]);
    let values: Vec<Query> = t.entries.iter().map(|(k, _)| value_query(t.root, k)).collect();
    let found = walk(&values, &cache, &mut source).await.unwrap();
    assert!(found.iter().zip(&t.entries).all(|(f, (_, v))| f == &Found::Value(v.clone().into())));
    let mut with_terminator = key_path(&t.entries[0].0);
    with_terminator.truncate(3);
    with_terminator.push(TERMINATOR);
    assert_eq!(walk(&[node_query(t.root, with_terminator)], &cache, &mut source).await.unwrap(), vec![Found::Nothing]);
}

#[tokio::test]
async fn a_lie_an_empty_answer_and_partial_rounds() {
    let t = trie(300, 70);
    let key = t.entries[42].0;
    let second_level = key_path(&key)[..1].to_vec();
    let mut liar = Source { nodes: Some(&t.nodes), lie_at: Some(second_level.clone()), ..Default::default() };
    let err = walk(&[value_query(t.root, &key)], &node_cache(1 << 20), &mut liar).await.unwrap_err();
    assert!(matches!(err, WalkError::Unasked { .. }), "{err}");
    let mut empty = Source::default();
    let err = walk(&[value_query(t.root, &key)], &node_cache(1 << 20), &mut empty).await.unwrap_err();
    assert_eq!(err, WalkError::Unavailable(1));
    let mut skipping = Source { nodes: Some(&t.nodes), skip_first: true, ..Default::default() };
    let queries: Vec<Query> = t.entries.iter().take(20).map(|(k, _)| value_query(t.root, k)).collect();
    let found = walk(&queries, &node_cache(1 << 20), &mut skipping).await.unwrap();
    assert!(found.iter().all(|f| matches!(f, Found::Value(_))), "a skipped node is asked again, the rest matched by hash");
    let mut slow = Source { nodes: Some(&t.nodes), per_round: Some(1), ..Default::default() };
    let queries: Vec<Query> = t.entries.iter().take(20).map(|(k, _)| value_query(t.root, k)).collect();
    let found = walk(&queries, &node_cache(1 << 20), &mut slow).await.unwrap();
    assert!(found.iter().all(|f| matches!(f, Found::Value(_))));
    let empty_trie = walk(&[value_query(EMPTY_ROOT_HASH, &key)], &node_cache(1 << 20), &mut Source::default()).await.unwrap();
    assert_eq!(empty_trie, vec![Found::Nothing], "an empty trie needs no backend");
}
