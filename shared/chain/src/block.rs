//! A whole block as the cache holds it.

use crate::{BlockBody, BodyMismatch, Receipt, ReceiptsMismatch, SealedHeader, receipt};
use alloy_primitives::{B256, U256};

/// A block with everything a peer may ask for: header, body, receipts and total difficulty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// The sealed header.
    pub header: SealedHeader,
    /// The body.
    pub body: BlockBody,
    /// Consensus receipts, one per transaction.
    pub receipts: Vec<Receipt>,
    /// Total difficulty up to and including this block.
    pub total_difficulty: U256,
}

/// A block whose parts do not agree.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlockError {
    /// The body does not match the header.
    #[error("block {number}: {source}")]
    Body {
        /// Block number.
        number: u64,
        /// What differs.
        source: BodyMismatch,
    },
    /// The receipts do not match the header.
    #[error("block {number}: {source}")]
    Receipts {
        /// Block number.
        number: u64,
        /// What differs.
        source: ReceiptsMismatch,
    },
    /// Not as many receipts as transactions.
    #[error("block {number}: {receipts} receipts for {transactions} transactions")]
    ReceiptCount {
        /// Block number.
        number: u64,
        /// Receipts given.
        receipts: usize,
        /// Transactions in the body.
        transactions: usize,
    },
}

impl Block {
    /// Block number.
    pub fn number(&self) -> u64 {
        self.header.number()
    }

    /// Block hash.
    pub fn hash(&self) -> B256 {
        self.header.hash()
    }

    /// Checks the body and receipts against the header's roots.
    ///
    /// # Errors
    /// The first [`BlockError`] found.
    pub fn verify(&self) -> Result<(), BlockError> {
        let number = self.number();
        self.body.verify(&self.header).map_err(|source| BlockError::Body { number, source })?;
        if self.receipts.len() != self.body.transactions.len() {
            return Err(BlockError::ReceiptCount { number, receipts: self.receipts.len(), transactions: self.body.transactions.len() });
        }
        receipt::verify_receipts(&self.header, &self.receipts).map_err(|source| BlockError::Receipts { number, source })
    }
}
