//! HTTP for the JSON-RPC edge (axum on hyper): `POST /` with one request or a batch, HTTP/1.1
//! keep-alive, gzip when the client accepts it, CORS for configured origins.
//!
//! Limits, each with a default and a metric: [`RpcConfig::body_max_bytes`] (413 past it, as
//! go-ethereum's 5 MB), [`RpcConfig::batch_limit`] (one `-32600 batch too large` error, as
//! geth's `--rpc.batch-request-limit`), [`RpcConfig::response_max_bytes`] (answers past it are
//! replaced by `-32003 response too large`, as geth's `--rpc.batch-response-max-size`).

use crate::listener::ClientAddr;
use crate::{
    blocks::Blocks,
    envelope::{self, Body, Raw, Request},
    error::RpcError,
    methods,
};
use axum::{
    Router,
    body::Bytes,
    extract::{ConnectInfo, DefaultBodyLimit, State, connect_info::Connected},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    response::{IntoResponse, Response},
    routing::post,
};
use futures::StreamExt;
use hypasis_limits::{Client, FairUse, Protocol, Verdict};
use hypasis_p2p::proxy::TrustedProxies;
use serde_json::Value;
use std::{
    net::{IpAddr, SocketAddr},
    sync::Arc,
    time::{Duration, Instant},
};
use tower_http::{compression::CompressionLayer, cors::CorsLayer};

/// Most requests in one batch unless configured (`--rpc-batch-limit`; geth's default).
pub const DEFAULT_BATCH_LIMIT: usize = 1_000;
/// Most bytes of answers to one body unless configured (`--rpc-response-max-bytes`; geth's 25 MB).
pub const DEFAULT_RESPONSE_MAX_BYTES: usize = 25_000_000;
/// Largest request body unless configured (`--rpc-body-max-bytes`; geth's 5 MiB).
pub const DEFAULT_BODY_MAX_BYTES: usize = 5 * 1024 * 1024;
/// The JSON-RPC code of a rate-limited request (as Infura and Alchemy answer).
pub const RATE_LIMITED: i64 = -32005;
/// Calls of one batch answered at once.
const BATCH_CONCURRENCY: usize = 32;

/// The edge's limits and options.
#[derive(Debug, Clone)]
pub struct RpcConfig {
    /// Most requests in one batch.
    pub batch_limit: usize,
    /// Most bytes of answers to one body.
    pub response_max_bytes: usize,
    /// Largest request body.
    pub body_max_bytes: usize,
    /// Origins allowed by CORS (`*` for any); none: no CORS headers.
    pub cors_origins: Vec<String>,
}

impl Default for RpcConfig {
    fn default() -> Self {
        Self {
            batch_limit: DEFAULT_BATCH_LIMIT,
            response_max_bytes: DEFAULT_RESPONSE_MAX_BYTES,
            body_max_bytes: DEFAULT_BODY_MAX_BYTES,
            cors_origins: Vec::new(),
        }
    }
}

/// What the handler works with.
#[derive(Debug)]
pub struct RpcState {
    /// Block lookups.
    pub blocks: Blocks,
    /// Limits.
    pub config: RpcConfig,
    /// What `web3_clientVersion` says.
    pub client_version: String,
    /// Per-operator budgets (`None`: no fair-use limits).
    pub fair_use: Option<Arc<FairUse>>,
    /// Proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: TrustedProxies,
}

/// Serves the edge on `listener` (a `TcpListener`, or one reading PROXY headers) until `cancel`.
pub async fn serve<L>(listener: L, state: Arc<RpcState>, cancel: tokio_util::sync::CancellationToken)
where
    L: axum::serve::Listener,
    L::Addr: std::fmt::Debug,
    for<'a> ClientAddr: Connected<axum::serve::IncomingStream<'a, L>>,
{
    let app = router(state).into_make_service_with_connect_info::<ClientAddr>();
    let serve = axum::serve(listener, app).with_graceful_shutdown(async move { cancel.cancelled().await });
    if let Err(e) = serve.await {
        tracing::error!(target: "rpc", error = %e, "JSON-RPC server failed");
    }
}

/// The edge's router.
pub fn router(state: Arc<RpcState>) -> Router {
    let limits = [
        ("batch_limit", state.config.batch_limit as f64),
        ("response_max_bytes", state.config.response_max_bytes as f64),
        ("body_max_bytes", state.config.body_max_bytes as f64),
    ];
    for (name, value) in limits {
        metrics::gauge!("hypasis_rpc_limit", "name" => name).set(value);
    }
    let mut router = Router::new()
        .route("/", post(handle).get(usage))
        .layer(DefaultBodyLimit::max(state.config.body_max_bytes))
        .layer(CompressionLayer::new().gzip(true))
        .layer(axum::middleware::from_fn(crate::listener::track_busy));
    if let Some(cors) = cors(&state.config.cors_origins) {
        router = router.layer(cors);
    }
    router.with_state(state)
}

fn cors(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let layer = CorsLayer::new().allow_methods([Method::POST, Method::GET, Method::OPTIONS]).allow_headers([header::CONTENT_TYPE]);
    Some(if origins.iter().any(|o| o == "*") {
        layer.allow_origin(tower_http::cors::Any)
    } else {
        layer.allow_origin(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()).collect::<Vec<_>>())
    })
}

async fn usage() -> Response {
    (StatusCode::METHOD_NOT_ALLOWED, [(header::ALLOW, "POST")], "JSON-RPC: POST a request to this URL\n").into_response()
}

async fn handle(
    State(state): State<Arc<RpcState>>,
    connection: Option<axum::Extension<ConnectInfo<ClientAddr>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // The body has arrived: from here the connection is not idle, however long the answer takes.
    let _busy = connection.as_ref().map(|axum::Extension(ConnectInfo(ClientAddr(_, busy)))| busy.enter());
    let parsed = envelope::parse(&body);
    let mut charged = None;
    if let (Some(fair_use), Some(axum::Extension(ConnectInfo(ClientAddr(peer, _))))) = (&state.fair_use, connection) {
        let cost = match &parsed {
            Ok(Body::Batch(requests)) => requests.len(),
            _ => 1,
        };
        let client = fair_use.identify_key(api_key(&headers).as_deref(), client_ip(&state.trusted_proxies, peer, &headers));
        if let Verdict::Limited { retry_after } = fair_use.check(&client, u32::try_from(cost).unwrap_or(u32::MAX), Protocol::Http) {
            return too_many_requests(&client, retry_after);
        }
        charged = Some((fair_use, client));
    }
    let out = match parsed {
        Err(error) => {
            count("other", error.result_label());
            let mut out = Vec::new();
            envelope::write_response(&mut out, &Value::Null, &Err(error));
            out
        }
        Ok(Body::Single(request)) => match answer(&state, request).await {
            Some((id, result)) => {
                let mut out = Vec::new();
                envelope::write_response(&mut out, &id, &result);
                out
            }
            None => Vec::new(),
        },
        Ok(Body::Batch(requests)) => batch(&state, requests).await,
    };
    metrics::counter!("hypasis_rpc_response_bytes_total").increment(out.len() as u64);
    if let Some((fair_use, client)) = charged {
        fair_use.record_bytes(&client, Protocol::Http, out.len());
    }
    ([(header::CONTENT_TYPE, "application/json")], out).into_response()
}

/// The API key a request carries: `X-API-Key`, else `Authorization: Bearer`.
fn api_key(headers: &HeaderMap) -> Option<String> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    header("x-api-key")
        .or_else(|| header("authorization").and_then(|v| v.strip_prefix("Bearer ")))
        .filter(|k| !k.is_empty())
        .map(str::to_owned)
}

/// The client's address: the connection's, or from a trusted proxy the first `X-Forwarded-For`.
fn client_ip(trusted: &TrustedProxies, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
    if trusted.contains(peer.ip())
        && let Some(forwarded) = headers.get("x-forwarded-for").and_then(|v| v.to_str().ok())
        && let Some(ip) = forwarded.split(',').next().and_then(|first| first.trim().parse().ok())
    {
        return ip;
    }
    peer.ip()
}

/// 429 with `Retry-After` and a JSON-RPC error (`-32005`, as providers answer a rate limit).
fn too_many_requests(client: &Client, retry_after: Duration) -> Response {
    let seconds = retry_after.as_secs_f64().ceil().max(1.0) as u64;
    let message = format!("rate limited: {} is over its request budget; retry after {seconds} s", client.label());
    let body = serde_json::json!({"jsonrpc": "2.0", "id": null, "error": {"code": RATE_LIMITED, "message": message}});
    (StatusCode::TOO_MANY_REQUESTS, [(header::RETRY_AFTER, seconds.to_string())], axum::Json(body)).into_response()
}

async fn batch(state: &RpcState, requests: Vec<Request>) -> Vec<u8> {
    metrics::histogram!("hypasis_rpc_batch_size").record(requests.len() as f64);
    let mut out = Vec::new();
    if requests.is_empty() {
        envelope::write_response(&mut out, &Value::Null, &Err(RpcError::invalid_request("empty batch")));
        return out;
    }
    if requests.len() > state.config.batch_limit {
        metrics::counter!("hypasis_rpc_batches_refused_total").increment(1);
        let id = requests.iter().find_map(|r| match r {
            Request::Call { id: Some(id), .. } => Some(id.clone()),
            _ => None,
        });
        // As geth: a list with one error, carrying the first call's id.
        let error =
            RpcError::invalid_request(format!("batch too large: {} requests, at most {}", requests.len(), state.config.batch_limit));
        out.push(b'[');
        envelope::write_response(&mut out, &id.unwrap_or(Value::Null), &Err(error));
        out.push(b']');
        return out;
    }
    // Answers are written in order as they complete; once the answers pass the size cap, no
    // further call is started and the rest answer -32003.
    let ids: Vec<Option<Value>> = requests
        .iter()
        .map(|r| match r {
            Request::Call { id, .. } => id.clone(),
            Request::Invalid { id, .. } => Some(id.clone()),
        })
        .collect();
    let mut answers = futures::stream::iter(requests).map(|request| answer(state, request)).buffered(BATCH_CONCURRENCY);
    out.push(b'[');
    let mut written = 0usize;
    let mut answered = 0usize;
    while let Some(next) = answers.next().await {
        answered += 1;
        if let Some((id, result)) = next {
            if written > 0 {
                out.push(b',');
            }
            written += 1;
            envelope::write_response(&mut out, &id, &result);
        }
        if out.len() > state.config.response_max_bytes {
            break;
        }
    }
    drop(answers);
    for id in ids.into_iter().skip(answered).flatten() {
        count("other", "too_large");
        if written > 0 {
            out.push(b',');
        }
        written += 1;
        envelope::write_response(&mut out, &id, &Err(RpcError::response_too_large()));
    }
    out.push(b']');
    if written == 0 {
        // Only notifications: nothing to answer.
        out.clear();
    }
    out
}

/// Answers one request; `None` for a notification.
async fn answer(state: &RpcState, request: Request) -> Option<(Value, Result<Raw, RpcError>)> {
    match request {
        Request::Invalid { id, error } => {
            count("other", error.result_label());
            Some((id, Err(error)))
        }
        Request::Call { id, method, params } => {
            let started = Instant::now();
            let label = methods::label(&method);
            let result = methods::call(&state.blocks, &state.client_version, &method, &params).await;
            metrics::histogram!("hypasis_rpc_request_seconds", "method" => label).record(started.elapsed().as_secs_f64());
            count(label, result.as_ref().err().map_or("ok", RpcError::result_label));
            id.map(|id| (id, result))
        }
    }
}

fn count(method: &'static str, result: &'static str) {
    metrics::counter!("hypasis_rpc_requests_total", "method" => method, "result" => result).increment(1);
}
