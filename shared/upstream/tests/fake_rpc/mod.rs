//! A small JSON-RPC server over real HTTP for the upstream tests: answers from a handler, can be
//! slowed down, counts calls. (Stands in for public Polygon RPC providers, which cannot be
//! reached from tests.)

#![allow(dead_code, unreachable_pub, missing_docs, missing_debug_implementations)]

use axum::{Json, Router, extract::State, routing::post};
use serde_json::{Value, json};
use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

pub type Handler = Arc<dyn Fn(&str, &Value) -> Result<Value, (i64, String)> + Send + Sync>;

#[derive(Clone)]
struct Shared {
    handler: Handler,
    delay: Duration,
    calls: Arc<AtomicU64>,
}

pub struct FakeRpc {
    pub addr: SocketAddr,
    pub calls: Arc<AtomicU64>,
}

impl FakeRpc {
    pub async fn start(delay: Duration, handler: Handler) -> Self {
        let calls = Arc::new(AtomicU64::new(0));
        let shared = Shared { handler, delay, calls: calls.clone() };
        let app = Router::new().route("/", post(answer)).with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
        Self { addr, calls }
    }

    pub fn url(&self) -> url::Url {
        format!("http://{}/", self.addr).parse().expect("url")
    }

    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }
}

fn one(shared: &Shared, request: &Value) -> Value {
    shared.calls.fetch_add(1, Ordering::SeqCst);
    let id = request.get("id").cloned().unwrap_or(Value::Null);
    let method = request.get("method").and_then(Value::as_str).unwrap_or_default();
    let params = request.get("params").cloned().unwrap_or(Value::Null);
    match (shared.handler)(method, &params) {
        Ok(result) => json!({ "jsonrpc": "2.0", "id": id, "result": result }),
        Err((code, message)) => json!({ "jsonrpc": "2.0", "id": id, "error": { "code": code, "message": message } }),
    }
}

async fn answer(State(shared): State<Shared>, Json(body): Json<Value>) -> Json<Value> {
    tokio::time::sleep(shared.delay).await;
    Json(match &body {
        Value::Array(requests) => Value::Array(requests.iter().map(|r| one(&shared, r)).collect()),
        request => one(&shared, request),
    })
}
