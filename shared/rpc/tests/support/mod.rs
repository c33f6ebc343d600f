//! Helpers: the edge served on a free loopback port, and JSON-RPC calls over real HTTP.

#![allow(dead_code, unreachable_pub)]

use hypasis_chain::ChainSpec;
use hypasis_rpc::{ChainView, RenderCache, RpcConfig, RpcState, blocks::Blocks};
use hypasis_store::BlockStore;
use hypasis_syncer::ReadThrough;
use serde_json::{Value, json};
use std::sync::Arc;

/// Finality as a test sets it.
#[derive(Debug, Default)]
pub struct FixedView {
    pub safe: Option<u64>,
    pub finalized: Option<u64>,
}

impl ChainView for FixedView {
    fn safe(&self) -> Option<u64> {
        self.safe
    }
    fn finalized(&self) -> Option<u64> {
        self.finalized
    }
    fn syncing(&self) -> Option<(u64, u64, u64)> {
        None
    }
}

/// A running edge.
pub struct Edge {
    pub url: String,
    pub client: reqwest::Client,
    _cancel: tokio_util::sync::DropGuard,
}

impl Edge {
    pub async fn start(spec: ChainSpec, store: Arc<dyn BlockStore>, read_through: Option<Arc<ReadThrough>>, view: FixedView) -> Self {
        Self::start_with(spec, store, read_through, view, RpcConfig::default()).await
    }

    pub async fn start_with(
        spec: ChainSpec,
        store: Arc<dyn BlockStore>,
        read_through: Option<Arc<ReadThrough>>,
        view: FixedView,
        config: RpcConfig,
    ) -> Self {
        let blocks = Blocks { spec, store, read_through, view: Arc::new(view), cache: RenderCache::new(16 << 20) };
        let state = Arc::new(RpcState {
            blocks,
            config,
            client_version: "hypasis-sync/test".into(),
            fair_use: None,
            trusted_proxies: Default::default(),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/", listener.local_addr().expect("addr"));
        let cancel = tokio_util::sync::CancellationToken::new();
        tokio::spawn(hypasis_rpc::serve(listener, state, cancel.clone()));
        Self { url, client: reqwest::Client::new(), _cancel: cancel.drop_guard() }
    }

    /// POSTs `body` → (status, parsed JSON or `null` for an empty body).
    pub async fn post(&self, body: &str) -> (u16, Value) {
        let response =
            self.client.post(&self.url).header("content-type", "application/json").body(body.to_owned()).send().await.expect("send");
        let status = response.status().as_u16();
        let text = response.text().await.expect("body");
        let value = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        (status, value)
    }

    /// One call → its `result`, panicking on an error answer.
    pub async fn call(&self, method: &str, params: Value) -> Value {
        let answer = self.answer(method, params).await;
        assert!(answer.get("error").is_none(), "{method}: {answer}");
        answer["result"].clone()
    }

    /// One call → the whole response object.
    pub async fn answer(&self, method: &str, params: Value) -> Value {
        let (status, answer) = self.post(&json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string()).await;
        assert_eq!(status, 200, "{method}: {answer}");
        answer
    }

    /// The error code of one call.
    pub async fn error_code(&self, method: &str, params: Value) -> i64 {
        let answer = self.answer(method, params).await;
        answer["error"]["code"].as_i64().unwrap_or_else(|| panic!("{method}: expected an error: {answer}"))
    }
}

/// Differences between `ours` and `expected`, as `path: ours vs expected` lines (fields only one
/// side has included).
pub fn diff(path: &str, ours: &Value, expected: &Value, out: &mut Vec<String>) {
    match (ours, expected) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, va) in a {
                match b.get(k) {
                    Some(vb) => diff(&format!("{path}.{k}"), va, vb, out),
                    None => out.push(format!("{path}.{k}: ours {va} vs absent")),
                }
            }
            for (k, vb) in b {
                if !a.contains_key(k) {
                    out.push(format!("{path}.{k}: absent vs expected {vb}"));
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (va, vb)) in a.iter().zip(b).enumerate() {
                diff(&format!("{path}[{i}]"), va, vb, out);
            }
        }
        (a, b) if a != b => out.push(format!("{path}: ours {a} vs expected {b}")),
        _ => {}
    }
}
