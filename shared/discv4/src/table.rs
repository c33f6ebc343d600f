//! The Kademlia table: for each log distance `0..256` from our id, a bucket of up to
//! [`BUCKET_SIZE`] nodes, least recently seen first.

use crate::message::NodeRecord;
use alloy_primitives::{B256, keccak256};
use hypasis_rlpx::NodeId;
use std::collections::VecDeque;

/// Nodes per bucket (`k`).
pub const BUCKET_SIZE: usize = 16;
/// Number of buckets.
const BUCKETS: usize = 256;

/// What [`Table::add`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Added {
    /// New entry.
    Inserted,
    /// Already present; moved to the most-recent end.
    Refreshed,
    /// The bucket is full; the least recently seen node should be revalidated.
    Full(NodeRecord),
    /// That's us.
    Local,
}

/// The routing table.
#[derive(Debug)]
pub struct Table {
    local: B256,
    buckets: Vec<VecDeque<NodeRecord>>,
}

/// `floor(log2(keccak(a) ^ keccak(b)))`, or `None` when equal.
pub fn log_distance(a: &B256, b: &B256) -> Option<usize> {
    let x = *a ^ *b;
    let leading = x.iter().position(|byte| *byte != 0)?;
    Some((31 - leading) * 8 + (7 - x[leading].leading_zeros() as usize))
}

impl Table {
    /// An empty table around `local`.
    pub fn new(local: &NodeId) -> Self {
        Self { local: keccak256(local), buckets: vec![VecDeque::new(); BUCKETS] }
    }

    /// Adds or refreshes a node.
    pub fn add(&mut self, node: NodeRecord) -> Added {
        let Some(d) = log_distance(&self.local, &keccak256(node.id)) else { return Added::Local };
        let bucket = &mut self.buckets[d];
        if let Some(i) = bucket.iter().position(|n| n.id == node.id) {
            bucket.remove(i);
            bucket.push_back(node);
            return Added::Refreshed;
        }
        if bucket.len() >= BUCKET_SIZE {
            return Added::Full(bucket[0]);
        }
        bucket.push_back(node);
        Added::Inserted
    }

    /// Removes a node.
    pub fn remove(&mut self, id: &NodeId) {
        if let Some(d) = log_distance(&self.local, &keccak256(id)) {
            self.buckets[d].retain(|n| n.id != *id);
        }
    }

    /// The `n` known nodes closest to `target`.
    pub fn closest(&self, target: &NodeId, n: usize) -> Vec<NodeRecord> {
        let t = keccak256(target);
        let mut all: Vec<(B256, NodeRecord)> = self.buckets.iter().flatten().map(|r| (keccak256(r.id) ^ t, *r)).collect();
        all.sort_unstable_by_key(|(d, _)| *d);
        all.into_iter().take(n).map(|(_, r)| r).collect()
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.buckets.iter().map(VecDeque::len).sum()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Endpoint;
    use alloy_primitives::B512;

    fn node(i: u8) -> NodeRecord {
        NodeRecord { endpoint: Endpoint { ip: [127, 0, 0, 1].into(), udp: 1, tcp: 1 }, id: B512::repeat_byte(i) }
    }

    #[test]
    fn distances() {
        assert_eq!(log_distance(&B256::ZERO, &B256::ZERO), None);
        assert_eq!(log_distance(&B256::ZERO, &B256::with_last_byte(1)), Some(0));
        assert_eq!(log_distance(&B256::ZERO, &B256::with_last_byte(0x80)), Some(7));
        assert_eq!(log_distance(&B256::ZERO, &B256::repeat_byte(0xff)), Some(255));
    }

    #[test]
    fn add_refresh_and_closest() {
        let mut t = Table::new(&B512::ZERO);
        for i in 1..=40 {
            assert_ne!(t.add(node(i)), Added::Local);
        }
        assert_eq!(t.add(node(3)), Added::Refreshed);
        assert_eq!(t.add(NodeRecord { id: B512::ZERO, ..node(0) }), Added::Local);
        let closest = t.closest(&B512::repeat_byte(7), 5);
        assert_eq!(closest.len(), 5);
        assert_eq!(closest[0].id, B512::repeat_byte(7));
        t.remove(&B512::repeat_byte(7));
        assert_ne!(t.closest(&B512::repeat_byte(7), 1)[0].id, B512::repeat_byte(7));
    }
}
