//! Chain model for Hypasis Sync: the consensus data we cache and serve, and the rules that say
//! whether it is genuine.
//!
//! - [`header`]: headers as they travel on the wire (RLP), sealed with their hash
//!   (`keccak256(rlp(header))`, see the [yellow paper] §4.3).
//! - [`body`]: block bodies (transactions kept as EIP-2718 bytes, ommers, withdrawals) and the
//!   check that a body belongs to its header.
//! - [`receipt`]: receipts in consensus form, their eth/68 and eth/69 wire encodings, and the
//!   receipts-root check.
//! - [`block`]: a whole block as the cache holds it (header, body, receipts, total difficulty).
//! - [`bor`]: Polygon Bor specifics: seal hash, signer recovery, extra-data layouts.
//! - [`bor_producers`]: Bor's producer rotation (proposer priorities) and expected difficulty.
//! - [`bor_snapshot`]: Bor's seal check block by block (signer, difficulty, timing, sprint-end
//!   validator lists).
//! - [`checkpoint`]: Polygon checkpoint roots (the Merkle root Heimdall puts on L1).
//! - [`genesis`]: geth-style genesis JSON to genesis header.
//! - [`forks`]: fork schedules and [EIP-2124] fork ids.
//! - [`import`]: chains from `chain.rlp` files (as `geth import` reads them).
//! - [`spec`]: chain specs for `polygon-mainnet`, `polygon-amoy`, the devnet and genesis files.
//! - [`rpc_json`]: conversion of `eth_getBlockByNumber` / `eth_getBlockReceipts` JSON into
//!   consensus form.
//!
//! [yellow paper]: https://ethereum.github.io/yellowpaper/paper.pdf
//! [EIP-2124]: https://eips.ethereum.org/EIPS/eip-2124

pub mod block;
pub mod body;
pub mod bor;
pub mod bor_producers;
pub mod bor_snapshot;
pub mod checkpoint;
pub mod forks;
pub mod genesis;
pub mod header;
pub mod import;
pub mod receipt;
pub mod rpc_json;
pub mod spec;

pub use alloy_consensus::Header;
pub use alloy_eip2124::{ForkHash, ForkId};
pub use alloy_primitives::{Address, B256, Bytes, U256};
pub use block::Block;
pub use body::{BlockBody, BodyMismatch, RawTx};
pub use forks::ForkSchedule;
pub use header::{HeaderError, SealedHeader};
pub use receipt::{Receipt, ReceiptsMismatch};
pub use spec::{BorSpec, ChainSpec, ChainSpecError};
