//! The JSON-RPC edge's settings (`rpc_*`).

use super::{
    Raw,
    parse::{Check, Refused, number, port},
};

/// Highest `--rpc-read-through-max-blocks`: one miss holds its whole run in memory.
const MAX_READ_THROUGH_BLOCKS: u64 = 8_192;

/// The JSON-RPC edge's settings.
#[derive(Debug, Clone)]
pub struct RpcSettings {
    /// Port (0 = any free port).
    pub port: u16,
    /// Most requests in one batch.
    pub batch_limit: usize,
    /// Most bytes answered to one body.
    pub response_max_bytes: usize,
    /// Largest request body.
    pub body_max_bytes: usize,
    /// CORS origins.
    pub cors_origins: Vec<String>,
    /// Bytes of rendered answers kept.
    pub cache_bytes: u64,
    /// Most blocks fetched for one miss (0: no read-through).
    pub read_through_max_blocks: u64,
}

fn origin(v: &str) -> Check<String> {
    let ok = v == "*" || ((v.starts_with("http://") || v.starts_with("https://")) && !v.ends_with('/') && !v.contains(char::is_whitespace));
    if ok { Ok(v.to_owned()) } else { Err(Refused(format!("{v:?} is not an origin; use e.g. https://app.example.com (no path) or *"))) }
}

pub(super) fn settings(raw: &mut Raw) -> RpcSettings {
    RpcSettings {
        port: raw.one("rpc_port", |v| port(v, true)),
        batch_limit: raw.one("rpc_batch_limit", |v| number(v, 1, 100_000)) as usize,
        response_max_bytes: raw.one("rpc_response_max_bytes", |v| number(v, 1_024, 1 << 32)) as usize,
        body_max_bytes: raw.one("rpc_body_max_bytes", |v| number(v, 1_024, 1 << 30)) as usize,
        cors_origins: raw.list("rpc_cors_origins", true, origin),
        cache_bytes: raw.one("rpc_cache_mb", |v| number(v, 0, 1 << 20)) << 20,
        read_through_max_blocks: raw.one("rpc_read_through_max_blocks", |v| number(v, 0, MAX_READ_THROUGH_BLOCKS)),
    }
}
