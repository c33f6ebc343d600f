//! A deterministic, Polygon-shaped devnet: the chain the node serves in embedded mode and the
//! chain tests sync.
//!
//! Same [`DevnetConfig`], same chain, byte for byte: keys, transactions, timestamps and seals are
//! all derived from the seed. Each block carries real signed transactions (legacy with EIP-155,
//! EIP-2930 and EIP-1559) from funded test accounts, receipts whose root matches the header, a
//! Bor-style `extraData` sealed by the in-turn validator (validator set on sprint-end blocks, raw
//! before the devnet's Cancun block and RLP from it on), and a total difficulty.
//!
//! The devnet does not execute transactions: receipts are synthesised (every transaction
//! succeeds) and the state root stays the genesis state root. Peers that re-execute blocks
//! therefore cannot import it; everything we serve (headers, bodies, receipts) is consistent.
//!
//! - [`config`]: the knobs and their defaults.
//! - [`keys`]: deterministic validator and account keys.
//! - [`genesis`]: the geth-style genesis JSON.
//! - [`generator`]: the block generator.
//! - [`rpc`]: the devnet served as a JSON-RPC 2.0 upstream over HTTP (blocks, receipts, raw
//!   `debug_*` encodings, a fake RootChain contract for checkpoints, optional lies), for sync
//!   tests over a real socket.

pub mod config;
pub mod generator;
pub mod genesis;
pub mod keys;
pub mod rpc;

pub use config::DevnetConfig;
pub use generator::Devnet;
pub use rpc::{DevnetRpc, DevnetRpcConfig, Lie, ROOTCHAIN_ADDRESS};
