//! Upstream errors. [`UpstreamError::is_bad_data`] says the endpoint lied (ban it);
//! [`UpstreamError::is_retryable`] says another try (here or elsewhere) may work;
//! [`UpstreamError::counts_as_failure`] says whether it counts against the endpoint's health.

use std::time::Duration;

/// JSON-RPC "method not found".
pub const METHOD_NOT_FOUND: i64 = -32601;
/// JSON-RPC "invalid request" (geth and Bor answer a batch over their item limit with it).
pub const INVALID_REQUEST: i64 = -32600;
/// geth/Bor "response too large": the batch's answers passed `--rpc.batch-response-max-size`;
/// every call not answered yet gets it.
pub const RESPONSE_TOO_LARGE: i64 = -32003;
/// "Limit exceeded" (EIP-1474), used by providers for rate limits.
pub const LIMIT_EXCEEDED: i64 = -32005;

/// An HTTP client could not be built (for example no usable TLS backend).
#[derive(Debug, thiserror::Error)]
#[error("cannot build the HTTP client: {0}")]
pub struct ClientError(#[from] pub reqwest13::Error);

/// Why an upstream call failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum UpstreamError {
    /// The request did not complete (connect, timeout, HTTP status, bad JSON-RPC framing).
    #[error("upstream {upstream}: {message}")]
    Transport {
        /// Endpoint name.
        upstream: String,
        /// What happened.
        message: String,
    },
    /// The endpoint answered with a JSON-RPC error.
    #[error("upstream {upstream}: {method} failed with JSON-RPC error {code}: {message}")]
    Rpc {
        /// Endpoint name.
        upstream: String,
        /// Method called.
        method: String,
        /// JSON-RPC error code.
        code: i64,
        /// Its message.
        message: String,
    },
    /// The endpoint does not have the block yet.
    #[error("upstream {upstream}: block {number} not available")]
    NotAvailable {
        /// Endpoint name.
        upstream: String,
        /// Block number asked for.
        number: u64,
    },
    /// The answer is wrong: it does not verify against hashes, roots or links.
    #[error("upstream {upstream} sent bad data: {reason}")]
    BadData {
        /// Endpoint name.
        upstream: String,
        /// What did not verify.
        reason: String,
    },
    /// The endpoint's own rate budget is used up for now.
    #[error("upstream {upstream}: rate budget exhausted")]
    Budget {
        /// Endpoint name.
        upstream: String,
    },
    /// The endpoint asked us to slow down (HTTP 429 or JSON-RPC -32005) for longer than the
    /// call may wait. Backpressure, not a fault: no breaker, no ban.
    #[error("upstream {upstream}: rate limited by the endpoint; asked to retry after {retry_after:?}")]
    RateLimited {
        /// Endpoint name.
        upstream: String,
        /// How long it asked us to wait.
        retry_after: Duration,
    },
    /// The endpoint cannot give what is needed at all (for example no total difficulty by any
    /// method it has); another endpoint may.
    #[error("upstream {upstream}: {what}")]
    Unsupported {
        /// Endpoint name.
        upstream: String,
        /// What it lacks.
        what: String,
    },
    /// No endpoint can be used (none configured, all banned or broken).
    #[error("no usable upstream ({0})")]
    NoUpstream(String),
}

impl UpstreamError {
    /// The endpoint lied: ban it.
    pub fn is_bad_data(&self) -> bool {
        matches!(self, Self::BadData { .. })
    }

    /// Another try, here or at another endpoint, may succeed.
    pub fn is_retryable(&self) -> bool {
        !matches!(self, Self::BadData { .. })
    }

    /// The method is not offered by the endpoint.
    pub fn is_method_missing(&self) -> bool {
        matches!(self, Self::Rpc { code, message, .. } if *code == METHOD_NOT_FOUND || message.contains("does not exist") || message.contains("not available"))
    }

    /// Bor's "not found" (-32000), as `eth_getBorBlockReceipt` answers for a block without a
    /// state-sync receipt: an answer, not a fault.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::Rpc { code: -32000, message, .. } if message == "not found")
    }

    /// The endpoint asked us to slow down.
    pub fn is_rate_limited(&self) -> bool {
        matches!(self, Self::RateLimited { .. })
    }

    /// Whether this counts against the endpoint's health (a missing block or method, an
    /// exhausted budget or a rate limit does not).
    pub fn counts_as_failure(&self) -> bool {
        match self {
            Self::Transport { .. } | Self::BadData { .. } => true,
            Self::Rpc { .. } => !self.is_method_missing() && !self.is_not_found(),
            Self::NotAvailable { .. } | Self::Budget { .. } | Self::RateLimited { .. } | Self::Unsupported { .. } | Self::NoUpstream(_) => {
                false
            }
        }
    }
}
