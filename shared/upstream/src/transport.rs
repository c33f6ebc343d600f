//! JSON-RPC over HTTP, with what the status line and headers say.
//!
//! Real providers and Bor answer overload and oversize at the HTTP level (`429 Too Many Requests`
//! with `Retry-After`, `413 Payload Too Large`) and reject whole batches with a single error
//! object. alloy's RPC client reports those as generic transport errors (no headers, "missing
//! response" for every call of a rejected batch), so the request goes out through reqwest here
//! and the answer is parsed with alloy's own packet type, which takes one object or an array.

use crate::error::{ClientError, UpstreamError};
use alloy_json_rpc::ResponsePacket;
use reqwest13::{StatusCode, header};
use serde_json::Value;
use std::time::{Duration, SystemTime};
use url::Url;

/// Largest answer read from an upstream; past it the answer is dropped as a transport error
/// (a batch of mainnet blocks with receipts is a few MB).
pub const MAX_RESPONSE_BYTES: usize = 128 * 1024 * 1024;

/// A JSON-RPC answer: one object or an array, results and errors as JSON values.
pub(crate) type Packet = ResponsePacket<Value, Value>;

/// What an HTTP exchange gave.
#[derive(Debug)]
pub(crate) enum Reply {
    /// A JSON-RPC answer.
    Packet(Packet),
    /// `429 Too Many Requests` (or `503` with `Retry-After`): slow down, for the time given when
    /// there is one.
    Throttled(Option<Duration>),
    /// `413 Payload Too Large`: the request (a batch) is over the endpoint's body limit.
    TooLarge,
}

/// An HTTP client bound to one endpoint URL.
#[derive(Debug)]
pub(crate) struct Http {
    client: reqwest13::Client,
    url: Url,
    /// The endpoint's name, for errors.
    name: String,
}

impl Http {
    /// A client for `url` (endpoint `name`) whose requests give up after `timeout`.
    pub(crate) fn new(name: &str, url: &Url, timeout: Duration) -> Result<Self, ClientError> {
        Ok(Self { client: client(timeout)?, url: url.clone(), name: name.to_owned() })
    }

    /// POSTs `body` (a JSON-RPC request or batch) and reads the answer.
    ///
    /// # Errors
    /// [`UpstreamError::Transport`] saying what went wrong: connection, timeout, an unexpected
    /// HTTP status (with the start of its body), an answer over [`MAX_RESPONSE_BYTES`] or one
    /// that is not JSON-RPC.
    pub(crate) async fn post(&self, body: Vec<u8>) -> Result<Reply, UpstreamError> {
        let failed = |message: String| UpstreamError::Transport { upstream: self.name.clone(), message };
        let request = self.client.post(self.url.clone()).header(header::CONTENT_TYPE, "application/json").body(body);
        let mut response = request.send().await.map_err(|e| failed(without_url(&e)))?;
        let status = response.status();
        if status == StatusCode::TOO_MANY_REQUESTS
            || (status == StatusCode::SERVICE_UNAVAILABLE && response.headers().contains_key(header::RETRY_AFTER))
        {
            return Ok(Reply::Throttled(retry_after(response.headers())));
        }
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            return Ok(Reply::TooLarge);
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| failed(without_url(&e)))? {
            if bytes.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(failed(format!("answer over {MAX_RESPONSE_BYTES} bytes")));
            }
            bytes.extend_from_slice(&chunk);
        }
        match serde_json::from_slice::<Packet>(&bytes) {
            Ok(packet) => Ok(Reply::Packet(packet)),
            Err(_) if !status.is_success() => Err(failed(format!("HTTP {status}: {}", excerpt(&bytes)))),
            Err(e) => Err(failed(format!("answer is not JSON-RPC ({e}): {}", excerpt(&bytes)))),
        }
    }
}

/// An HTTP client with the ring crypto provider (reqwest is built without a bundled one; ring is
/// already linked for Redis TLS) giving up after `timeout`.
///
/// # Errors
/// When reqwest cannot build the client.
pub(crate) fn client(timeout: Duration) -> Result<reqwest13::Client, ClientError> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    Ok(reqwest13::Client::builder().timeout(timeout).build()?)
}

/// reqwest's error text without the URL, whose path often holds an API key.
fn without_url(e: &reqwest13::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_body() || e.is_decode() {
        "answer cut off"
    } else {
        "request failed"
    };
    let mut source = std::error::Error::source(e);
    let mut detail = String::new();
    while let Some(inner) = source {
        detail = inner.to_string();
        source = inner.source();
    }
    if detail.is_empty() { kind.to_owned() } else { format!("{kind}: {detail}") }
}

/// The first 200 characters of an answer, for error messages.
fn excerpt(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).chars().take(200).collect()
}

/// `Retry-After` as delta-seconds or an HTTP date (RFC 9110 §10.2.3).
fn retry_after(headers: &header::HeaderMap) -> Option<Duration> {
    let value = headers.get(header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(SystemTime::now()).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &str) -> header::HeaderMap {
        let mut headers = header::HeaderMap::new();
        headers.insert(header::RETRY_AFTER, value.parse().unwrap());
        headers
    }

    #[test]
    fn retry_after_takes_seconds_and_dates() {
        assert_eq!(retry_after(&headers("7")), Some(Duration::from_secs(7)));
        let later = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(30));
        let wait = retry_after(&headers(&later)).unwrap();
        assert!(wait > Duration::from_secs(25) && wait <= Duration::from_secs(30), "{wait:?}");
        let past = httpdate::fmt_http_date(SystemTime::now() - Duration::from_secs(30));
        assert_eq!(retry_after(&headers(&past)), Some(Duration::ZERO));
        assert_eq!(retry_after(&headers("soon")), None);
        assert_eq!(retry_after(&header::HeaderMap::new()), None);
    }

    #[test]
    fn packets_take_one_object_or_an_array() {
        let single: Packet = serde_json::from_str(
            r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32000,"message":"batch limit 100 exceeded: 150 requests given"}}"#,
        )
        .unwrap();
        assert!(matches!(single, ResponsePacket::Single(_)));
        let batch: Packet = serde_json::from_str(
            r#"[{"jsonrpc":"2.0","id":1,"result":"0x1"},{"jsonrpc":"2.0","id":2,"error":{"code":-32601,"message":"nope"}}]"#,
        )
        .unwrap();
        assert!(matches!(batch, ResponsePacket::Batch(ref answers) if answers.len() == 2));
    }
}
