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
    /// Consensus receipts, one per transaction; `None` when not known (a chain imported from
    /// `chain.rlp` carries no receipts).
    pub receipts: Option<Vec<Receipt>>,
    /// Total difficulty up to and including this block.
    pub total_difficulty: U256,
    /// Polygon before Madhugiri: the receipt of the block's state-sync ("bor") transaction,
    /// which is not part of the body nor of `receiptsRoot`. Served appended to the block's
    /// receipts over eth/69 only, as Bor expects.
    pub state_sync_receipt: Option<Receipt>,
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

/// Encodes a whole block, `[header, transactions, ommers(, withdrawals)]`, as in `chain.rlp`
/// files and the eth `NewBlock` message.
pub fn encode_block(header: &SealedHeader, body: &BlockBody, out: &mut dyn alloy_rlp::BufMut) {
    use alloy_rlp::Encodable;
    let body_rlp = alloy_rlp::encode(body);
    let mut fields = &body_rlp[..];
    alloy_rlp::Header::decode(&mut fields).expect("an encoded body starts with a list header");
    alloy_rlp::Header { list: true, payload_length: header.length() + fields.len() }.encode(out);
    header.encode(out);
    out.put_slice(fields);
}

impl Block {
    /// A genesis block: empty body and receipts, total difficulty = its difficulty.
    pub fn genesis(header: SealedHeader) -> Self {
        let total_difficulty = header.difficulty;
        Self { header, body: BlockBody::default(), receipts: Some(Vec::new()), total_difficulty, state_sync_receipt: None }
    }

    /// Block number.
    pub fn number(&self) -> u64 {
        self.header.number()
    }

    /// Block hash.
    pub fn hash(&self) -> B256 {
        self.header.hash()
    }

    /// Checks the body and (when known) the receipts against the header's roots.
    ///
    /// # Errors
    /// The first [`BlockError`] found.
    pub fn verify(&self) -> Result<(), BlockError> {
        let number = self.number();
        self.body.verify(&self.header).map_err(|source| BlockError::Body { number, source })?;
        let Some(receipts) = &self.receipts else { return Ok(()) };
        if receipts.len() != self.body.transactions.len() {
            return Err(BlockError::ReceiptCount { number, receipts: receipts.len(), transactions: self.body.transactions.len() });
        }
        receipt::verify_receipts(&self.header, receipts).map_err(|source| BlockError::Receipts { number, source })
    }
}
