//! Trie nodes found by path and proven from the root: the walk behind GetTrieNodes answers and
//! the storage roots of requested accounts. Every node comes from an untrusted backend and is
//! kept only when it hashes to the reference its (already proven) parent holds, starting from a
//! state root we verified, so whatever the walk finds is part of the trie at that root.
//!
//! Paths lead where geth's `GetNode` leads them (`trie/trie.go`): to a hashed node (its RLP), to
//! nothing (an empty answer), or to an embedded node or a value, which geth does not answer with
//! a node ([`Found::NotConsensus`]). All queries walk together: each round asks the backend, in
//! one request, for every hashed node some query needs next; what comes back is matched to what
//! was asked by hash.

use alloy_primitives::{B256, Bytes, keccak256};
use alloy_trie::{
    EMPTY_ROOT_HASH,
    nodes::{RlpNode, TrieNode},
};
use std::{collections::HashSet, future::Future};

/// Most request rounds of one walk: a 32-byte key is 64 nibbles deep at most, and a backend
/// that sends part of a round's nodes costs a round more.
pub const MAX_ROUNDS: usize = 128;

/// Verified trie nodes by hash (content under a hash never changes).
pub type NodeCache = quick_cache::sync::Cache<B256, Bytes, NodeWeight>;

/// A cached node's weight: its bytes and the key's.
#[derive(Debug, Clone, Copy)]
pub struct NodeWeight;

impl quick_cache::Weighter<B256, Bytes> for NodeWeight {
    fn weight(&self, _key: &B256, node: &Bytes) -> u64 {
        node.len() as u64 + 64
    }
}

/// A node cache of at most `bytes`.
pub fn node_cache(bytes: u64) -> NodeCache {
    // quick_cache wants an estimate of the entry count; a branch node is about 500 bytes.
    let estimate = usize::try_from(bytes / 500).unwrap_or(usize::MAX).max(16);
    NodeCache::with_weighter(estimate, bytes.max(1), NodeWeight)
}

/// What a walk looks for at the end of its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// The node there (GetTrieNodes).
    Node,
    /// The value there (an account's body; the path ends with the terminator).
    Value,
}

/// One path to walk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// `None`: the account trie; `Some(account hash)`: that account's storage trie.
    pub owner: Option<B256>,
    /// The root of the trie walked.
    pub root: B256,
    /// The nibbles (a trailing 16 is the terminator).
    pub path: Vec<u8>,
    /// What is wanted at its end.
    pub want: Want,
}

/// Where a path led.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// A hashed node: its RLP.
    Node(Bytes),
    /// A leaf's value ([`Want::Value`]).
    Value(Bytes),
    /// Nothing is there (geth answers an empty node).
    Nothing,
    /// An embedded node or a value where a node was wanted (geth skips the path).
    NotConsensus,
}

/// A hashed node to fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    /// The trie it is in (as [`Query::owner`]).
    pub owner: Option<B256>,
    /// Its path (nibbles, no terminator).
    pub path: Vec<u8>,
    /// Its hash.
    pub hash: B256,
}

/// Why a walk did not finish.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WalkError {
    /// The backend sent a node that is none of those asked for (by hash): it lies.
    #[error("the backend sent a node hashing to {got}, which was not asked for")]
    Unasked {
        /// The hash of what was sent.
        got: B256,
    },
    /// The backend sent none of the nodes asked for (it lacks the state).
    #[error("the backend sent none of the {0} nodes asked for")]
    Unavailable(usize),
    /// A node that hashes right but does not decode (cannot be part of a real trie).
    #[error("node {0} does not decode: {1}")]
    Malformed(B256, String),
    /// More rounds than [`MAX_ROUNDS`].
    #[error("the walk took more than {MAX_ROUNDS} rounds")]
    TooManyRounds,
    /// The backend failed (connection, timeout).
    #[error("backend: {0}")]
    Source(String),
}

/// Where hashed nodes come from (a backend session).
pub trait NodeSource {
    /// The nodes of `wanted`, in order; fewer when the source stops early.
    fn fetch(&mut self, wanted: &[Wanted]) -> impl Future<Output = Result<Vec<Bytes>, WalkError>> + Send;
}

/// Walks every query; nodes not in `cache` are fetched from `source`, checked, and cached.
///
/// # Errors
/// [`WalkError`] when the source lies, lacks the nodes, or fails.
pub async fn walk<S: NodeSource>(queries: &[Query], cache: &NodeCache, source: &mut S) -> Result<Vec<Found>, WalkError> {
    let mut cursors: Vec<Cursor> = queries
        .iter()
        .map(|q| Cursor { at: if q.root == EMPTY_ROOT_HASH { Ref::Empty } else { Ref::Hash(q.root) }, pos: 0, found: None })
        .collect();
    for _ in 0..MAX_ROUNDS {
        let mut wanted = Vec::new();
        let mut asked = HashSet::new();
        for (query, cursor) in queries.iter().zip(&mut cursors) {
            if cursor.found.is_some() {
                continue;
            }
            if let Some(hash) = cursor.advance(query, cache)?
                && asked.insert(hash)
            {
                wanted.push(Wanted { owner: query.owner, path: query.path[..cursor.pos].to_vec(), hash });
            }
        }
        if wanted.is_empty() {
            return Ok(cursors.into_iter().map(|c| c.found.unwrap_or(Found::Nothing)).collect());
        }
        // Matched by hash, not by position: nodes are content-addressed, and a backend may skip
        // a path it cannot resolve (geth does) and go on with the next.
        let mut kept = 0;
        for node in source.fetch(&wanted).await? {
            let got = keccak256(&node);
            if !asked.contains(&got) {
                return Err(WalkError::Unasked { got });
            }
            cache.insert(got, node);
            kept += 1;
        }
        if kept == 0 {
            return Err(WalkError::Unavailable(wanted.len()));
        }
    }
    Err(WalkError::TooManyRounds)
}

/// A reference to what lies at a cursor's position.
#[derive(Debug, Clone)]
enum Ref {
    Empty,
    Hash(B256),
    /// An embedded node's RLP.
    Inline(Bytes),
    /// A leaf's value.
    Value(Bytes),
}

#[derive(Debug)]
struct Cursor {
    at: Ref,
    pos: usize,
    found: Option<Found>,
}

impl Cursor {
    /// Moves as far as the cache allows: sets `found`, or returns the hash of the node needed.
    fn advance(&mut self, query: &Query, cache: &NodeCache) -> Result<Option<B256>, WalkError> {
        let path = &query.path;
        loop {
            let at_end = self.pos >= path.len();
            let (node, hash) = match &self.at {
                Ref::Empty => return self.done(Found::Nothing),
                Ref::Value(value) if at_end && query.want == Want::Value => return self.done(Found::Value(value.clone())),
                Ref::Value(_) if at_end => return self.done(Found::NotConsensus),
                // A value before the path ends: the path leads past a leaf.
                Ref::Value(_) => return self.done(Found::Nothing),
                Ref::Inline(_) if at_end => {
                    return self.done(if query.want == Want::Node { Found::NotConsensus } else { Found::Nothing });
                }
                Ref::Inline(rlp) => (rlp.clone(), B256::ZERO),
                Ref::Hash(hash) => {
                    let Some(node) = cache.get(hash) else { return Ok(Some(*hash)) };
                    if at_end {
                        return self.done(if query.want == Want::Node { Found::Node(node) } else { Found::Nothing });
                    }
                    (node, *hash)
                }
            };
            let decoded = decode(&node).map_err(|e| WalkError::Malformed(hash, e))?;
            self.step(&decoded, path);
            if self.found.is_some() {
                return Ok(None);
            }
        }
    }

    /// Descends one node along `path` (the cursor is not at its end).
    fn step(&mut self, node: &TrieNode, path: &[u8]) {
        let rest = &path[self.pos..];
        match node {
            TrieNode::EmptyRoot => self.found = Some(Found::Nothing),
            TrieNode::Leaf(leaf) => {
                // geth keeps a leaf's key with its terminator.
                let mut key = leaf.key.to_vec();
                key.push(crate::trie_path::TERMINATOR);
                if rest.starts_with(&key) {
                    self.pos += key.len();
                    self.at = Ref::Value(Bytes::copy_from_slice(&leaf.value));
                } else {
                    self.found = Some(Found::Nothing);
                }
            }
            TrieNode::Extension(extension) => {
                let key = extension.key.to_vec();
                if rest.starts_with(&key) {
                    self.pos += key.len();
                    self.at = reference(&extension.child);
                } else {
                    self.found = Some(Found::Nothing);
                }
            }
            TrieNode::Branch(branch) => {
                let nibble = rest[0];
                self.pos += 1;
                self.at = branch.as_ref().children().find(|(n, _)| *n == nibble).and_then(|(_, child)| child).map_or(Ref::Empty, reference);
            }
        }
    }

    fn done(&mut self, found: Found) -> Result<Option<B256>, WalkError> {
        self.found = Some(found);
        Ok(None)
    }
}

fn reference(child: &RlpNode) -> Ref {
    match child.as_hash() {
        Some(hash) => Ref::Hash(hash),
        None => Ref::Inline(Bytes::copy_from_slice(child.as_slice())),
    }
}

fn decode(mut rlp: &[u8]) -> Result<TrieNode, String> {
    let node: TrieNode = alloy_rlp::Decodable::decode(&mut rlp).map_err(|e| e.to_string())?;
    if !rlp.is_empty() {
        return Err("bytes after the node".into());
    }
    Ok(node)
}

#[cfg(test)]
mod tests;
