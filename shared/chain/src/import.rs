//! Chains from `chain.rlp`: the concatenated RLP of whole blocks (`[header, transactions,
//! ommers(, withdrawals)]`), the format `geth export` writes and `geth import` reads.

use crate::{Block, BlockBody, SealedHeader, block::BlockError};
use alloy_primitives::{B256, U256};
use alloy_rlp::{Decodable, Header as RlpHeader};

/// Why a chain file could not be imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// A block is not valid RLP.
    #[error("block #{index} in the file (byte {offset}): {source}")]
    Rlp {
        /// Position of the block in the file.
        index: usize,
        /// Byte offset.
        offset: usize,
        /// Decoder error.
        source: alloy_rlp::Error,
    },
    /// A block does not extend the one before it.
    #[error("block {number} has parent {parent}, expected {expected}")]
    NotLinked {
        /// Block number.
        number: u64,
        /// Its parent hash.
        parent: B256,
        /// Hash of the previous block.
        expected: B256,
    },
    /// A body does not match its header.
    #[error(transparent)]
    Mismatch(#[from] BlockError),
}

/// Reads every block in `bytes`.
///
/// # Errors
/// [`ImportError::Rlp`] at the first malformed block.
pub fn read_blocks(bytes: &[u8]) -> Result<Vec<(SealedHeader, BlockBody)>, ImportError> {
    let mut buf = bytes;
    let mut out = Vec::new();
    while !buf.is_empty() {
        let offset = bytes.len() - buf.len();
        let err = |source| ImportError::Rlp { index: out.len(), offset, source };
        let mut payload = RlpHeader::decode_bytes(&mut buf, true).map_err(err)?;
        let header = SealedHeader::decode(&mut payload).map_err(err)?;
        let body = BlockBody::decode_fields(payload).map_err(err)?;
        out.push((header, body));
    }
    Ok(out)
}

/// Links blocks onto `parent` (with total difficulty `parent_td`), checking parent hashes and
/// bodies, and computes each block's total difficulty. Receipts are unknown (`None`).
///
/// # Errors
/// [`ImportError`] at the first block that does not link or whose body does not match.
pub fn link(parent: &SealedHeader, parent_td: U256, blocks: Vec<(SealedHeader, BlockBody)>) -> Result<Vec<Block>, ImportError> {
    let (mut expected, mut td) = (parent.hash(), parent_td);
    let mut out = Vec::with_capacity(blocks.len());
    for (header, body) in blocks {
        if header.parent_hash() != expected {
            return Err(ImportError::NotLinked { number: header.number(), parent: header.parent_hash(), expected });
        }
        td += header.difficulty;
        expected = header.hash();
        let block = Block { header, body, receipts: None, total_difficulty: td, state_sync_receipt: None };
        block.verify()?;
        out.push(block);
    }
    Ok(out)
}

/// Writes blocks in `chain.rlp` form.
pub fn write_blocks(blocks: &[Block]) -> Vec<u8> {
    let mut out = Vec::new();
    for block in blocks {
        crate::block::encode_block(&block.header, &block.body, &mut out);
    }
    out
}
