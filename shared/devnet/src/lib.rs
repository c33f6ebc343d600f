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
//! - [`mainnet_shape`]: transactions and receipts sized like Polygon mainnet's, for load tests.
//!
//! The devnet served as a JSON-RPC upstream (with a fake RootChain and Heimdall, and lies) is
//! test tooling and lives apart, in `hypasis-fake-upstream`, so the node never links it.

pub mod config;
pub mod generator;
pub mod genesis;
pub mod keys;
pub mod mainnet_shape;

pub use config::DevnetConfig;
pub use generator::Devnet;
