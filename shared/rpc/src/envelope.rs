//! The JSON-RPC 2.0 envelope: a body is one request object or a batch (array) of them; each
//! request has `"jsonrpc": "2.0"`, a `method`, optional `params` and an `id` (no `id`: a
//! notification, which gets no answer). Answers are written by hand around results that are
//! already JSON text, so cached answers are copied, not re-serialised.
//!
//! Spec: <https://www.jsonrpc.org/specification>.

use crate::error::RpcError;
use serde_json::Value;
use std::sync::Arc;

/// JSON text of a result (cached answers are shared, not copied).
pub type Raw = Arc<str>;

/// One request of a body.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// A well-formed call.
    Call {
        /// Its id; `None` for a notification.
        id: Option<Value>,
        /// Method name.
        method: String,
        /// Parameters: an array (by position); missing `params` is an empty list.
        params: Vec<Value>,
    },
    /// Not a request object: answered with the error.
    Invalid {
        /// The id when one could be read, else `null`.
        id: Value,
        /// Why.
        error: RpcError,
    },
}

/// A parsed body.
#[derive(Debug)]
pub enum Body {
    /// One request.
    Single(Request),
    /// A batch.
    Batch(Vec<Request>),
}

/// Parses a request body.
///
/// # Errors
/// `-32700` when it is not JSON.
pub fn parse(body: &[u8]) -> Result<Body, RpcError> {
    let value: Value = serde_json::from_slice(body).map_err(RpcError::parse)?;
    Ok(match value {
        Value::Array(items) => Body::Batch(items.into_iter().map(request).collect()),
        other => Body::Single(request(other)),
    })
}

fn request(value: Value) -> Request {
    let Value::Object(mut object) = value else {
        return Request::Invalid { id: Value::Null, error: RpcError::invalid_request("invalid request: not an object") };
    };
    let id = object.remove("id");
    let invalid = |id: Option<Value>, why: &str| Request::Invalid { id: id.unwrap_or(Value::Null), error: RpcError::invalid_request(why) };
    if let Some(id) = &id
        && !(id.is_string() || id.is_number() || id.is_null())
    {
        return invalid(None, "invalid request: id must be a string, a number or null");
    }
    if object.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return invalid(id, "invalid request: jsonrpc must be \"2.0\"");
    }
    let method = match object.remove("method") {
        Some(Value::String(method)) if !method.is_empty() => method,
        _ => return invalid(id, "invalid request: no method"),
    };
    let params = match object.remove("params") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(params)) => params,
        Some(_) => {
            return Request::Invalid { id: id.unwrap_or(Value::Null), error: RpcError::invalid_params("non-array args") };
        }
    };
    Request::Call { id, method, params }
}

/// Appends one response object to `out`.
pub fn write_response(out: &mut Vec<u8>, id: &Value, answer: &Result<Raw, RpcError>) {
    out.extend_from_slice(br#"{"jsonrpc":"2.0","id":"#);
    // Serialising a `Value` into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, id);
    match answer {
        Ok(result) => {
            out.extend_from_slice(br#","result":"#);
            out.extend_from_slice(result.as_bytes());
        }
        Err(error) => {
            out.extend_from_slice(br#","error":"#);
            let _ = serde_json::to_writer(&mut *out, &error.to_json());
        }
    }
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{INVALID_REQUEST, PARSE_ERROR};
    use serde_json::json;

    #[test]
    fn single_batch_and_notifications() {
        let Ok(Body::Single(Request::Call { id, method, params })) = parse(br#"{"jsonrpc":"2.0","id":7,"method":"eth_chainId"}"#) else {
            panic!("a call")
        };
        assert_eq!((id, method.as_str(), params.len()), (Some(json!(7)), "eth_chainId", 0));
        let Ok(Body::Batch(items)) = parse(br#"[{"jsonrpc":"2.0","method":"a","params":[1]}, 5]"#) else { panic!("a batch") };
        assert!(matches!(&items[0], Request::Call { id: None, .. }), "no id: a notification");
        assert!(matches!(&items[1], Request::Invalid { error, .. } if error.code == INVALID_REQUEST));
    }

    #[test]
    fn malformed_requests_are_named() {
        assert_eq!(parse(b"{nope").err().map(|e| e.code), Some(PARSE_ERROR));
        for body in [r#"{"id":1,"method":"m"}"#, r#"{"jsonrpc":"2.0","id":1}"#] {
            let Ok(Body::Single(Request::Invalid { id, error })) = parse(body.as_bytes()) else { panic!("invalid: {body}") };
            assert_eq!((id, error.code), (json!(1), INVALID_REQUEST), "{body}");
        }
        let Ok(Body::Single(Request::Invalid { error, .. })) = parse(br#"{"jsonrpc":"2.0","id":1,"method":"m","params":{}}"#) else {
            panic!("invalid")
        };
        assert_eq!(error.code, crate::error::INVALID_PARAMS, "params by name: as geth, non-array args");
    }

    #[test]
    fn responses_are_written_around_raw_results() {
        let mut out = Vec::new();
        write_response(&mut out, &json!("a"), &Ok(Arc::from(r#"{"x":1}"#)));
        let value: Value = serde_json::from_slice(&out).expect("json");
        assert_eq!(value, json!({"jsonrpc": "2.0", "id": "a", "result": {"x": 1}}));
        out.clear();
        write_response(&mut out, &Value::Null, &Err(RpcError::method_not_found("x_y")));
        let value: Value = serde_json::from_slice(&out).expect("json");
        assert_eq!(value["error"]["code"], -32601);
    }
}
