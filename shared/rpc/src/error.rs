//! JSON-RPC 2.0 errors, with go-ethereum's codes and messages so that clients written against
//! Bor see the same thing from us.

use serde_json::Value;

/// `-32700`: the body is not JSON.
pub const PARSE_ERROR: i64 = -32700;
/// `-32600`: JSON, but not a request object (or a batch we refuse).
pub const INVALID_REQUEST: i64 = -32600;
/// `-32601`: no such method.
pub const METHOD_NOT_FOUND: i64 = -32601;
/// `-32602`: the parameters do not fit the method.
pub const INVALID_PARAMS: i64 = -32602;
/// `-32000`: the call was understood but could not be answered; the message says why.
pub const SERVER_ERROR: i64 = -32000;
/// `-32003`: the batch's answers passed the response-size cap (go-ethereum's code).
pub const RESPONSE_TOO_LARGE: i64 = -32003;

/// An error answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} ({code})")]
pub struct RpcError {
    /// The JSON-RPC error code.
    pub code: i64,
    /// What went wrong, for a person.
    pub message: String,
}

impl RpcError {
    /// `-32700 parse error`.
    pub fn parse(detail: impl std::fmt::Display) -> Self {
        Self { code: PARSE_ERROR, message: format!("parse error: {detail}") }
    }

    /// `-32600` with a reason.
    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self { code: INVALID_REQUEST, message: message.into() }
    }

    /// `-32601`, naming the method as go-ethereum does.
    pub fn method_not_found(method: &str) -> Self {
        Self { code: METHOD_NOT_FOUND, message: format!("the method {method} does not exist/is not available") }
    }

    /// `-32602` for argument `index`.
    pub fn invalid_param(index: usize, reason: impl std::fmt::Display) -> Self {
        Self { code: INVALID_PARAMS, message: format!("invalid argument {index}: {reason}") }
    }

    /// `-32602` about the argument list as a whole.
    pub fn invalid_params(message: impl Into<String>) -> Self {
        Self { code: INVALID_PARAMS, message: message.into() }
    }

    /// `-32000` with the reason.
    pub fn server(message: impl Into<String>) -> Self {
        Self { code: SERVER_ERROR, message: message.into() }
    }

    /// `-32003 response too large`.
    pub fn response_too_large() -> Self {
        Self { code: RESPONSE_TOO_LARGE, message: "response too large".into() }
    }

    /// The `error` member of a response.
    pub fn to_json(&self) -> Value {
        serde_json::json!({ "code": self.code, "message": self.message })
    }

    /// The `result` label of `hypasis_rpc_requests_total`.
    pub fn result_label(&self) -> &'static str {
        match self.code {
            PARSE_ERROR | INVALID_REQUEST => "invalid_request",
            METHOD_NOT_FOUND => "method_not_found",
            INVALID_PARAMS => "invalid_params",
            RESPONSE_TOO_LARGE => "too_large",
            _ => "server_error",
        }
    }
}
