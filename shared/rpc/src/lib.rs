//! The JSON-RPC edge: what an ethers/viem/web3 client (or Heimdall's tooling) pointed at Hypasis
//! Sync sees. Answers come from the same verified block cache that serves devp2p peers, in Bor
//! v1.5.5's shapes; a block that is not cached is fetched through the verified read-through
//! ([`hypasis_syncer::ReadThrough`]) before it is answered.
//!
//! - [`envelope`]: JSON-RPC 2.0 requests and batches, responses written around cached JSON.
//! - [`error`]: error codes and messages as go-ethereum sends them.
//! - [`params`]: block numbers, tags, hashes.
//! - [`render`]: block, header, transaction and receipt JSON from consensus data.
//! - [`blocks`]: block lookups (tags, read-through) and the rendered-answer cache.
//! - [`methods`]: the methods served.
//! - [`server`]: HTTP (axum on hyper): limits, fair use (429), gzip, CORS, metrics;
//!   [`listener`]: listeners behind a PROXY-protocol load balancer, and the client address.
//!
//! Spec: <https://ethereum.org/en/developers/docs/apis/json-rpc/>, <https://www.jsonrpc.org/specification>.

pub mod blocks;
pub mod edge_stream;
pub mod envelope;
pub mod error;
pub mod listener;
pub mod methods;
pub mod params;
pub mod render;
pub mod server;
pub mod tls;

pub use blocks::{ChainView, RenderCache};
pub use edge_stream::EdgeStream;
pub use error::RpcError;
pub use listener::{ClientAddr, EdgeListener, EdgeOptions};
pub use server::{RpcConfig, RpcState, router, serve};
pub use tls::{ServerCert, TlsError};
