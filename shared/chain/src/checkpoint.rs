//! Polygon checkpoint roots: the Merkle root Heimdall submits to the RootChain contract on L1
//! for a block range `[start, end]`.
//!
//! Leaf of block `n`: `keccak256(pad32(n) ‖ pad32(timestamp) ‖ transactionsRoot ‖ receiptsRoot)`.
//! The leaves are padded with zero leaves (32 zero bytes) to a power of two; a parent is
//! `keccak256(left ‖ right)`.

use crate::Header;
use alloy_primitives::{B256, keccak256};

/// The leaf of one block.
pub fn leaf(header: &Header) -> B256 {
    let mut data = [0u8; 128];
    data[24..32].copy_from_slice(&header.number.to_be_bytes());
    data[56..64].copy_from_slice(&header.timestamp.to_be_bytes());
    data[64..96].copy_from_slice(header.transactions_root.as_slice());
    data[96..128].copy_from_slice(header.receipts_root.as_slice());
    keccak256(data)
}

/// Why a checkpoint root cannot be computed from the given headers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    /// No headers.
    #[error("a checkpoint covers at least one block")]
    Empty,
    /// The headers are not consecutive.
    #[error("header {index} is block {found}, expected {expected}")]
    NotConsecutive {
        /// Position in the list.
        index: usize,
        /// Number found.
        found: u64,
        /// Number expected.
        expected: u64,
    },
}

/// The checkpoint root of consecutive `headers` (the checkpoint's `start..=end`, in order).
///
/// # Errors
/// [`CheckpointError`] when the list is empty or not consecutive.
pub fn root<'a>(headers: impl IntoIterator<Item = &'a Header>) -> Result<B256, CheckpointError> {
    let mut level = Vec::new();
    let mut expected = None;
    for (index, header) in headers.into_iter().enumerate() {
        let want = expected.unwrap_or(header.number);
        if header.number != want {
            return Err(CheckpointError::NotConsecutive { index, found: header.number, expected: want });
        }
        expected = Some(want + 1);
        level.push(leaf(header));
    }
    if level.is_empty() {
        return Err(CheckpointError::Empty);
    }
    level.resize(level.len().next_power_of_two(), B256::ZERO);
    while level.len() > 1 {
        level = level
            .chunks_exact(2)
            .map(|pair| {
                let mut both = [0u8; 64];
                both[..32].copy_from_slice(pair[0].as_slice());
                both[32..].copy_from_slice(pair[1].as_slice());
                keccak256(both)
            })
            .collect();
    }
    Ok(level[0])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(number: u64) -> Header {
        Header {
            number,
            timestamp: 1_700_000_000 + number * 2,
            transactions_root: B256::repeat_byte(number as u8),
            receipts_root: B256::repeat_byte(!(number as u8)),
            ..Default::default()
        }
    }

    #[test]
    fn leaf_layout() {
        let h = header(0x0102);
        let mut expected = Vec::new();
        expected.extend_from_slice(&[0u8; 30]);
        expected.extend_from_slice(&[0x01, 0x02]);
        expected.extend_from_slice(&[0u8; 24]);
        expected.extend_from_slice(&h.timestamp.to_be_bytes());
        expected.extend_from_slice(h.transactions_root.as_slice());
        expected.extend_from_slice(h.receipts_root.as_slice());
        assert_eq!(leaf(&h), keccak256(&expected));
    }

    #[test]
    fn root_by_hand_for_three_blocks() {
        let hs: Vec<Header> = (10..13).map(header).collect();
        let pair = |a: B256, b: B256| keccak256([a.as_slice(), b.as_slice()].concat());
        let expected = pair(pair(leaf(&hs[0]), leaf(&hs[1])), pair(leaf(&hs[2]), B256::ZERO));
        assert_eq!(root(&hs), Ok(expected));
        assert_eq!(root(&hs[..1]), Ok(leaf(&hs[0])), "one block: the leaf itself");
    }

    #[test]
    fn any_changed_block_changes_the_root() {
        let hs: Vec<Header> = (100..356).map(header).collect();
        let good = root(&hs).expect("root");
        for i in [0, 17, 255] {
            let mut bad = hs.clone();
            bad[i].receipts_root = B256::ZERO;
            assert_ne!(root(&bad).expect("root"), good, "block {i}");
        }
        assert_eq!(root(&[]), Err(CheckpointError::Empty));
        assert!(matches!(root(&[header(1), header(3)]), Err(CheckpointError::NotConsecutive { index: 1, .. })));
    }
}
