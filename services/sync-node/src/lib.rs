//! The Hypasis Sync node: configuration, wiring, REST API, metrics and shutdown. The
//! `hypasis-sync` binary (`main.rs`) is a thin shell over this crate.
//!
//! - [`config`] — flags, environment and YAML merged and checked, every error at once.
//! - [`node`] — builds the components and runs them until shutdown.
//! - [`api`] — REST API, health endpoints and `/metrics`; [`admin`] — admin tokens (JWT), minted by
//!   [`token`] (`hypasis-sync token`).
//! - [`devnet_source`] — the embedded block source (the built-in devnet).
//! - [`metrics`] — the Prometheus recorder and node metrics.
//! - [`limits`] — process limits raised at start (open files).
//! - [`operators`] — the operators registry: alone from the file, on Redis shared and edited.
//! - [`shutdown`] — SIGINT/SIGTERM.

pub mod admin;
pub mod api;
pub mod config;
pub mod devnet_source;
pub mod limits;
pub mod metrics;
pub mod node;
pub mod operators;
pub mod shutdown;
pub mod token;
