//! Upstream errors. [`UpstreamError::is_bad_data`] says the endpoint lied (ban it);
//! [`UpstreamError::is_retryable`] says another try (here or elsewhere) may work.

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
    /// No endpoint can be used (none configured, all banned or broken).
    #[error("no usable upstream ({0})")]
    NoUpstream(String),
}

/// JSON-RPC "method not found".
pub const METHOD_NOT_FOUND: i64 = -32601;

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

    /// Whether this counts against the endpoint's health (a missing block or an exhausted
    /// budget does not).
    pub fn counts_as_failure(&self) -> bool {
        matches!(self, Self::Transport { .. } | Self::BadData { .. }) || matches!(self, Self::Rpc { .. } if !self.is_method_missing())
    }
}
