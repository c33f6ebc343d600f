//! Fuzz targets for every decoder that reads bytes from outside: RLPx auth/ack (EIP-8 and
//! legacy) and frames, snappy, p2p Hello/Disconnect, every eth/68 and eth/69 message (both Status
//! dialects), discv4 packets and ENRs, the PROXY protocol header, JSON-RPC request bodies,
//! upstream JSON (blocks with receipts, Heimdall, L1 `eth_call` answers), chain RLP, and the
//! config, operators and genesis files.
//!
//! Each [`Target`] runs one input and panics only on a bug: a decoder panicking, or a value that
//! decodes but does not survive an encode/decode round trip. The same functions run under
//! cargo-fuzz (`fuzz/`, driven by `scripts/fuzz`) and, on their seeds and on every input saved in
//! `fuzz/regressions/<target>/`, in the normal test suite.

mod discovery;
mod edge;
mod files;
mod upstream;
mod wire;

/// One fuzz target.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    /// Its name (the cargo-fuzz binary and the corpus directory).
    pub name: &'static str,
    /// Runs one input; panics on a bug.
    pub run: fn(&[u8]),
    /// Starting inputs, from spec vectors, real data and our own encoders.
    pub seeds: fn() -> Vec<Vec<u8>>,
}

/// Every target.
pub const TARGETS: &[Target] = &[
    Target { name: "rlpx_handshake", run: wire::rlpx_handshake, seeds: wire::rlpx_handshake_seeds },
    Target { name: "rlpx_frames", run: wire::rlpx_frames, seeds: wire::rlpx_frames_seeds },
    Target { name: "snappy", run: wire::snappy, seeds: wire::snappy_seeds },
    Target { name: "p2p_messages", run: wire::p2p_messages, seeds: wire::p2p_messages_seeds },
    Target { name: "eth_messages", run: wire::eth_messages, seeds: wire::eth_messages_seeds },
    Target { name: "discv4_packets", run: discovery::discv4_packets, seeds: discovery::discv4_packets_seeds },
    Target { name: "enr", run: discovery::enr, seeds: discovery::enr_seeds },
    Target { name: "proxy_header", run: edge::proxy_header, seeds: edge::proxy_header_seeds },
    Target { name: "jsonrpc_body", run: edge::jsonrpc_body, seeds: edge::jsonrpc_body_seeds },
    Target { name: "upstream_block_json", run: upstream::block_json, seeds: upstream::block_json_seeds },
    Target { name: "heimdall_json", run: upstream::heimdall_json, seeds: upstream::heimdall_json_seeds },
    Target { name: "l1_answers", run: upstream::l1_answers, seeds: upstream::l1_answers_seeds },
    Target { name: "chain_rlp", run: upstream::chain_rlp, seeds: upstream::chain_rlp_seeds },
    Target { name: "config_file", run: files::config_file, seeds: files::config_file_seeds },
    Target { name: "operators_file", run: files::operators_file, seeds: files::operators_file_seeds },
    Target { name: "genesis_file", run: files::genesis_file, seeds: files::genesis_file_seeds },
];

/// The target called `name`.
pub fn target(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.name == name)
}

/// The repository's `fuzz/` directory (seed-independent regressions live in
/// `fuzz/regressions/<target>/`).
pub fn fuzz_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}
