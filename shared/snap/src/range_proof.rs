//! Merkle range proofs: does a run of consecutive trie entries, with the proof a snap/1 server
//! sends beside it, belong to the trie of a given root, with nothing left out?
//!
//! A snap/1 range answer holds the entries from the requested `origin` up to its last key, and
//! the trie nodes on the paths to `origin` and to that last key. Everything outside the range
//! hangs off those two paths as subtrees the proof names by hash; everything inside is the
//! answer's entries. So the root is rebuilt from (subtrees left of the range, by hash) + (the
//! entries) + (subtrees right of it, by hash), in key order, with alloy-trie's `HashBuilder`; it
//! matches `root` only if the entries are exactly the trie's entries in the range: an entry
//! altered, dropped or invented changes it. An empty answer with a proof claims the trie holds
//! nothing from `origin` on: every subtree at or after `origin` must then be absent. An answer
//! without a proof must be the whole trie.
//!
//! Subtrees outside the range are taken by hash; nodes embedded in their parent (RLP under 32
//! bytes, which hashed keys make vanishingly rare) are decoded and their entries taken instead.

use alloy_primitives::{B256, Bytes, keccak256};
use alloy_trie::{EMPTY_ROOT_HASH, HashBuilder, Nibbles, nodes::RlpNode, nodes::TrieNode};
use std::collections::HashMap;

/// Nibbles of a 32-byte key.
const KEY_NIBBLES: usize = 64;

/// Why a range does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangeProofError {
    /// Keys and values differ in number.
    #[error("{keys} keys but {values} values")]
    Lengths {
        /// Keys.
        keys: usize,
        /// Values.
        values: usize,
    },
    /// Keys are not strictly ascending.
    #[error("keys not strictly ascending at entry {0}")]
    NotAscending(usize),
    /// A key lies before the requested origin.
    #[error("key {0} lies before the requested origin")]
    BeforeOrigin(B256),
    /// A trie never stores an empty value.
    #[error("empty value for key {0}")]
    EmptyValue(B256),
    /// A proof node is not a trie node, or the nodes do not form a trie of 32-byte keys.
    #[error("malformed proof: {0}")]
    Malformed(String),
    /// A node on the range's edges is missing from the proof.
    #[error("the proof lacks node {0} on the range's edge")]
    MissingNode(B256),
    /// Everything checks out but the root.
    #[error("the range hashes to root {computed}, not {expected}")]
    RootMismatch {
        /// Root rebuilt from the answer.
        computed: B256,
        /// Root asked for.
        expected: B256,
    },
}

/// Checks that `keys`/`values` are exactly the entries of the trie of `root` from `origin` up to
/// the last key (or, when `keys` is empty, that the trie has none from `origin` on), given the
/// proof nodes of the range's edges. An empty `proof` means the entries are the whole trie.
///
/// # Errors
/// [`RangeProofError`] saying what does not hold.
pub fn verify_range<V: AsRef<[u8]>>(root: B256, origin: B256, keys: &[B256], values: &[V], proof: &[Bytes]) -> Result<(), RangeProofError> {
    if keys.len() != values.len() {
        return Err(RangeProofError::Lengths { keys: keys.len(), values: values.len() });
    }
    if let Some(i) = (1..keys.len()).find(|&i| keys[i] <= keys[i - 1]) {
        return Err(RangeProofError::NotAscending(i));
    }
    if let Some(first) = keys.first().filter(|k| **k < origin) {
        return Err(RangeProofError::BeforeOrigin(*first));
    }
    if let Some(i) = values.iter().position(|v| v.as_ref().is_empty()) {
        return Err(RangeProofError::EmptyValue(keys[i]));
    }
    let mut items: Vec<(Nibbles, Item)> =
        keys.iter().zip(values).map(|(k, v)| (Nibbles::unpack(k), Item::Leaf(v.as_ref().to_vec()))).collect();
    if !proof.is_empty() && root != EMPTY_ROOT_HASH {
        let edges = Edges { origin, last: keys.last().copied(), nodes: proof.iter().map(|n| (keccak256(n), n.as_ref())).collect() };
        let top = edges.node(root)?;
        edges.walk(&top, Nibbles::default(), &mut items)?;
    }
    let computed = rebuild(items)?;
    if computed == root { Ok(()) } else { Err(RangeProofError::RootMismatch { computed, expected: root }) }
}

/// What goes into the rebuilt trie at a path.
enum Item {
    /// A subtree, by hash.
    Subtree(B256),
    /// An entry.
    Leaf(Vec<u8>),
}

/// Where a subtree lies against the range.
#[derive(Debug, PartialEq, Eq)]
enum Place {
    /// Wholly before `origin` or after the last key: taken from the proof.
    Outside,
    /// Wholly within: its entries are the answer's.
    Inside,
    /// Across an edge: its node must be in the proof.
    Edge,
}

struct Edges<'a> {
    origin: B256,
    /// The answer's last key; `None` for an empty answer (it claims nothing exists from origin on).
    last: Option<B256>,
    nodes: HashMap<B256, &'a [u8]>,
}

impl Edges<'_> {
    fn node(&self, hash: B256) -> Result<TrieNode, RangeProofError> {
        let rlp = self.nodes.get(&hash).ok_or(RangeProofError::MissingNode(hash))?;
        decode(rlp)
    }

    fn place(&self, path: &Nibbles) -> Place {
        let (low, high) = span(path);
        let after_last = self.last.is_some_and(|last| low > last);
        if high < self.origin || after_last {
            Place::Outside
        } else if low >= self.origin && self.last.is_some_and(|last| high <= last) {
            Place::Inside
        } else {
            Place::Edge
        }
    }

    /// Adds to `items` what lies outside the range under `node`, found at `path`.
    fn walk(&self, node: &TrieNode, path: Nibbles, items: &mut Vec<(Nibbles, Item)>) -> Result<(), RangeProofError> {
        match node {
            TrieNode::EmptyRoot => Err(malformed("an empty node inside the trie")),
            TrieNode::Leaf(leaf) => {
                let key = extend(&path, &leaf.key)?;
                if key.len() != KEY_NIBBLES {
                    return Err(malformed("a leaf whose key is not 32 bytes"));
                }
                if self.place(&key) == Place::Outside {
                    items.push((key, Item::Leaf(leaf.value.clone())));
                }
                Ok(())
            }
            TrieNode::Extension(extension) => {
                if extension.key.is_empty() {
                    return Err(malformed("an extension with an empty path"));
                }
                self.child(extend(&path, &extension.key)?, &extension.child, items)
            }
            TrieNode::Branch(branch) => {
                if path.len() >= KEY_NIBBLES {
                    return Err(malformed("a branch below the key length"));
                }
                for (nibble, child) in branch.as_ref().children() {
                    if let Some(child) = child {
                        let mut at = path;
                        at.push(nibble);
                        self.child(at, child, items)?;
                    }
                }
                Ok(())
            }
        }
    }

    fn child(&self, path: Nibbles, child: &RlpNode, items: &mut Vec<(Nibbles, Item)>) -> Result<(), RangeProofError> {
        match (self.place(&path), child.as_hash()) {
            (Place::Inside, _) => Ok(()),
            (Place::Outside, Some(hash)) => {
                items.push((path, Item::Subtree(hash)));
                Ok(())
            }
            (Place::Edge, Some(hash)) => self.walk(&self.node(hash)?, path, items),
            (_, None) => self.walk(&decode(child.as_slice())?, path, items),
        }
    }
}

/// The lowest and highest 32-byte keys under `path`.
fn span(path: &Nibbles) -> (B256, B256) {
    let mut low = [0u8; 32];
    let mut high = [0xffu8; 32];
    for (i, nibble) in path.to_vec().into_iter().enumerate().take(KEY_NIBBLES) {
        let (byte, shift) = (i / 2, if i % 2 == 0 { 4 } else { 0 });
        low[byte] = (low[byte] & !(0x0f << shift)) | (nibble << shift);
        high[byte] = (high[byte] & !(0x0f << shift)) | (nibble << shift);
    }
    (B256::from(low), B256::from(high))
}

fn extend(path: &Nibbles, more: &Nibbles) -> Result<Nibbles, RangeProofError> {
    if path.len() + more.len() > KEY_NIBBLES {
        return Err(malformed("a path longer than 32 bytes"));
    }
    Ok(path.join(more))
}

fn decode(mut rlp: &[u8]) -> Result<TrieNode, RangeProofError> {
    let node = alloy_rlp::Decodable::decode(&mut rlp).map_err(|e| malformed(&format!("a node does not decode: {e}")))?;
    if !rlp.is_empty() {
        return Err(malformed("bytes after a node"));
    }
    Ok(node)
}

fn malformed(what: &str) -> RangeProofError {
    RangeProofError::Malformed(what.to_owned())
}

/// The root of the trie made of `items` (sorted here; no path may be a prefix of another).
fn rebuild(mut items: Vec<(Nibbles, Item)>) -> Result<B256, RangeProofError> {
    items.sort_by_key(|a| a.0);
    if items.windows(2).any(|w| w[1].0.starts_with(&w[0].0)) {
        return Err(malformed("overlapping subtrees"));
    }
    let mut builder = HashBuilder::default();
    for (path, item) in items {
        match item {
            Item::Subtree(hash) => builder.add_branch(path, hash, false),
            Item::Leaf(value) => builder.add_leaf(path, &value),
        }
    }
    Ok(builder.root())
}

#[cfg(test)]
mod tests;
