//! Heimdall REST: the latest milestone and checkpoint. Heimdall v2 answers
//! `{"milestone": {...}}` with numbers as strings and hashes in base64; v1 answered
//! `{"result": {...}}` with numbers and 0x-hex. Both are read.

use crate::error::UpstreamError;
use alloy_primitives::B256;
use base64::{Engine, engine::general_purpose::STANDARD};
use serde_json::Value;
use std::time::Duration;
use url::Url;

/// A milestone: Heimdall's finality vote on a block range; `hash` is the hash of `end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Milestone {
    /// First block.
    pub start: u64,
    /// Last block.
    pub end: u64,
    /// Hash of the last block.
    pub hash: B256,
}

/// A checkpoint as Heimdall reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct HeimdallCheckpoint {
    /// Checkpoint number.
    pub id: u64,
    /// First block.
    pub start: u64,
    /// Last block.
    pub end: u64,
    /// Merkle root of the range.
    pub root: B256,
}

/// A Bor span: a block range and the producers allowed to seal its blocks.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Span {
    /// Span id.
    pub id: u64,
    /// First block.
    pub start: u64,
    /// Last block.
    pub end: u64,
    /// Signer addresses of the selected producers.
    pub producers: Vec<alloy_primitives::Address>,
}

/// A Heimdall REST endpoint.
#[derive(Debug, Clone)]
pub struct Heimdall {
    client: reqwest13::Client,
    base: Url,
    name: String,
}

fn number(v: &Value) -> Option<u64> {
    v.as_u64().or_else(|| v.as_str()?.parse().ok())
}

fn hash(v: &Value) -> Option<B256> {
    let s = v.as_str()?;
    if let Some(hex) = s.strip_prefix("0x") {
        return hex.parse().ok().or_else(|| s.parse().ok());
    }
    let bytes = STANDARD.decode(s).ok()?;
    (bytes.len() == 32).then(|| B256::from_slice(&bytes))
}

impl Heimdall {
    /// A client for the Heimdall REST API at `base`.
    ///
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn new(base: &Url, timeout: Duration) -> Result<Self, crate::ClientError> {
        let client = crate::transport::client(timeout)?;
        Ok(Self { client, base: base.clone(), name: format!("heimdall:{}", base.host_str().unwrap_or("?")) })
    }

    async fn get(&self, path: &str, key: &str) -> Result<Option<Value>, UpstreamError> {
        let url = self.base.join(path).map_err(|e| self.transport(format!("{path}: {e}")))?;
        let response = self.client.get(url).send().await.map_err(|e| self.transport(format!("{path}: {e}")))?;
        if response.status() == reqwest13::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !response.status().is_success() {
            return Err(self.transport(format!("{path}: HTTP {}", response.status())));
        }
        let body: Value = response.json().await.map_err(|e| self.transport(format!("{path}: {e}")))?;
        Ok(body.get(key).or_else(|| body.get("result")).cloned())
    }

    fn transport(&self, message: String) -> UpstreamError {
        UpstreamError::Transport { upstream: self.name.clone(), message }
    }

    fn bad(&self, reason: String) -> UpstreamError {
        UpstreamError::BadData { upstream: self.name.clone(), reason }
    }

    /// `GET /milestones/latest`; `None` when Heimdall has none yet.
    ///
    /// # Errors
    /// When Heimdall cannot be reached or answers something else.
    pub async fn latest_milestone(&self) -> Result<Option<Milestone>, UpstreamError> {
        let Some(m) = self.get("milestones/latest", "milestone").await? else { return Ok(None) };
        parse_milestone(&m).map(Some).ok_or_else(|| self.bad(format!("milestone without start_block/end_block/hash: {m}")))
    }

    /// `GET /bor/spans/latest` (v2; v1 answered `/bor/latest-span`); `None` when there is none.
    ///
    /// # Errors
    /// When Heimdall cannot be reached or answers something else.
    pub async fn latest_span(&self) -> Result<Option<Span>, UpstreamError> {
        let span = match self.get("bor/spans/latest", "span").await? {
            Some(span) => span,
            None => match self.get("bor/latest-span", "span").await? {
                Some(span) => span,
                None => return Ok(None),
            },
        };
        parse_span(&span).map(Some).ok_or_else(|| self.bad(format!("span without start_block/end_block/producers: {span}")))
    }

    /// `GET /checkpoints/latest`; `None` when Heimdall has none yet.
    ///
    /// # Errors
    /// When Heimdall cannot be reached or answers something else.
    pub async fn latest_checkpoint(&self) -> Result<Option<HeimdallCheckpoint>, UpstreamError> {
        let Some(c) = self.get("checkpoints/latest", "checkpoint").await? else { return Ok(None) };
        parse_checkpoint(&c).map(Some).ok_or_else(|| self.bad(format!("checkpoint without start_block/end_block/root_hash: {c}")))
    }
}

/// A milestone from Heimdall's JSON (v1 or v2 shape); `None` when a field is missing or bad.
pub fn parse_milestone(m: &Value) -> Option<Milestone> {
    Some(Milestone { start: number(&m["start_block"])?, end: number(&m["end_block"])?, hash: hash(&m["hash"])? })
}

/// A span from Heimdall's JSON: producers from `selected_producers`, else the validator set;
/// `None` without a block range or producers.
pub fn parse_span(span: &Value) -> Option<Span> {
    let signers = |list: &Value| -> Vec<alloy_primitives::Address> {
        list.as_array().into_iter().flatten().filter_map(|v| v["signer"].as_str()?.parse().ok()).collect()
    };
    let mut producers = signers(&span["selected_producers"]);
    if producers.is_empty() {
        producers = signers(&span["validator_set"]["validators"]);
    }
    let id = number(&span["id"]).or_else(|| number(&span["span_id"])).unwrap_or(0);
    let (start, end) = (number(&span["start_block"])?, number(&span["end_block"])?);
    (!producers.is_empty()).then_some(Span { id, start, end, producers })
}

/// A checkpoint from Heimdall's JSON; `None` when a field is missing or bad.
pub fn parse_checkpoint(c: &Value) -> Option<HeimdallCheckpoint> {
    Some(HeimdallCheckpoint {
        id: number(&c["id"]).unwrap_or(0),
        start: number(&c["start_block"])?,
        end: number(&c["end_block"])?,
        root: hash(&c["root_hash"])?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_and_v2_shapes() {
        let h = B256::repeat_byte(0xab);
        assert_eq!(hash(&Value::String(STANDARD.encode(h))), Some(h));
        assert_eq!(hash(&Value::String(format!("{h:#x}"))), Some(h));
        assert_eq!(hash(&Value::String("short".into())), None);
        assert_eq!(number(&serde_json::json!("42")), Some(42));
        assert_eq!(number(&serde_json::json!(42)), Some(42));
    }
}
