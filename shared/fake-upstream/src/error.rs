//! JSON-RPC 2.0 errors, with the codes of the [spec] and geth's code for a revert.
//!
//! [spec]: https://www.jsonrpc.org/specification#error_object

use serde_json::{Value, json};

/// Why a request got an error instead of a result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum RpcError {
    /// The body is not JSON.
    #[error("parse error: {0}")]
    Parse(String),
    /// JSON, but not a request object (or an empty or oversized batch).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// No such method, or a `debug_*` method while raw methods are off.
    #[error("the method {0} does not exist/is not available")]
    MethodNotFound(String),
    /// Parameters missing or malformed.
    #[error("invalid params: {0}")]
    InvalidParams(String),
    /// The server could not build an answer (a devnet block it cannot render).
    #[error("internal error: {0}")]
    Internal(String),
    /// A contract call reverted.
    #[error("execution reverted")]
    Reverted,
    /// Bor's `ethereum.NotFound`: `eth_getBorBlockReceipt` of a block without a state-sync
    /// receipt (or an unknown block).
    #[error("not found")]
    NotFound,
}

impl RpcError {
    /// The JSON-RPC error code.
    pub(crate) fn code(&self) -> i64 {
        match self {
            Self::Parse(_) => -32700,
            Self::InvalidRequest(_) => -32600,
            Self::MethodNotFound(_) => -32601,
            Self::InvalidParams(_) => -32602,
            Self::Internal(_) => -32603,
            Self::Reverted | Self::NotFound => -32000,
        }
    }

    /// The response object carrying this error.
    pub(crate) fn response(&self, id: Value) -> Value {
        json!({ "jsonrpc": "2.0", "id": id, "error": { "code": self.code(), "message": self.to_string() } })
    }
}
