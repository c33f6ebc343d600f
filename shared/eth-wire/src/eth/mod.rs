//! The eth protocol: eth/68 and eth/69 ([EIP-7642]), plus Bor's eth/69 Status dialect.
//!
//! - [`status`]: the Status handshake message in its three shapes.
//! - [`messages`]: request and response messages, decoded from untrusted peers and encoded from
//!   the store's data.
//!
//! [EIP-7642]: https://eips.ethereum.org/EIPS/eip-7642

pub mod inbound;
pub mod messages;
pub mod status;

/// Message ids, relative to the eth capability's offset (0x10).
pub mod id {
    /// Status.
    pub const STATUS: u8 = 0x00;
    /// NewBlockHashes.
    pub const NEW_BLOCK_HASHES: u8 = 0x01;
    /// Transactions.
    pub const TRANSACTIONS: u8 = 0x02;
    /// GetBlockHeaders.
    pub const GET_BLOCK_HEADERS: u8 = 0x03;
    /// BlockHeaders.
    pub const BLOCK_HEADERS: u8 = 0x04;
    /// GetBlockBodies.
    pub const GET_BLOCK_BODIES: u8 = 0x05;
    /// BlockBodies.
    pub const BLOCK_BODIES: u8 = 0x06;
    /// NewBlock.
    pub const NEW_BLOCK: u8 = 0x07;
    /// NewPooledTransactionHashes.
    pub const NEW_POOLED_TRANSACTION_HASHES: u8 = 0x08;
    /// GetPooledTransactions.
    pub const GET_POOLED_TRANSACTIONS: u8 = 0x09;
    /// PooledTransactions.
    pub const POOLED_TRANSACTIONS: u8 = 0x0a;
    /// GetReceipts.
    pub const GET_RECEIPTS: u8 = 0x0f;
    /// Receipts.
    pub const RECEIPTS: u8 = 0x10;
    /// BlockRangeUpdate (eth/69).
    pub const BLOCK_RANGE_UPDATE: u8 = 0x11;
}

/// Number of message ids an eth version uses (its share of the id space).
pub fn message_count(version: u64) -> u8 {
    if version >= 69 { 0x12 } else { 0x11 }
}

/// eth versions we speak, best first.
pub const SUPPORTED_VERSIONS: [u64; 2] = [69, 68];
