//! The REST API (`/api/v1/…`), health endpoints and `/metrics`.

mod cluster;
mod gaps;
mod genesis;
mod health;
mod operators;
mod peers;
mod status;
mod sync;

use crate::metrics;
use axum::{
    Json, Router,
    extract::{MatchedPath, Request},
    http::StatusCode,
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use hypasis_chain::ChainSpec;
use hypasis_store::BlockStore;
use hypasis_syncer::SyncProgress;
use metrics_exporter_prometheus::PrometheusHandle;
use std::{sync::Arc, time::Instant};

/// What the handlers read.
#[derive(Debug)]
pub struct ApiState {
    /// Instance name.
    pub instance_id: String,
    /// The chain served.
    pub spec: ChainSpec,
    /// The block cache.
    pub store: Arc<dyn BlockStore>,
    /// Sync progress.
    pub progress: Arc<SyncProgress>,
    /// Renders `/metrics`.
    pub metrics: PrometheusHandle,
    /// The devp2p server (peer counts, enode URLs).
    pub network: hypasis_p2p::NetworkHandle,
    /// Our discovery record (`enr:…`).
    pub enr: String,
    /// Cluster coordination, when running on Redis.
    pub cluster: Option<hypasis_cluster::ClusterHandle>,
    /// Whether we lead.
    pub leadership: tokio::sync::watch::Receiver<hypasis_cluster::Leadership>,
    /// When the node started.
    pub started: Instant,
    /// Lowest block kept (gaps are counted from here).
    pub retention_floor: u64,
    /// Most blocks kept below the head (bounded in-memory store), if limited.
    pub retention_window: Option<u64>,
    /// Upstream sync, when upstreams are configured.
    pub sync: Option<hypasis_syncer::SyncHandle>,
    /// Which seal check runs, from what anchor.
    pub seals: crate::node::seals::SealStatus,
    /// Checks admin tokens (`None`: no `--jwt-secret`, admin endpoints off).
    pub admin: Option<crate::admin::TokenKey>,
    /// The operators registry (fair use).
    pub operators: Arc<crate::operators::Operators>,
    /// The head this instance advertises.
    pub heads: tokio::sync::watch::Receiver<Option<hypasis_store::ChainHead>>,
    /// Set on SIGTERM: readiness fails while the node drains.
    pub draining: Arc<std::sync::atomic::AtomicBool>,
    /// Most blocks the advertised head may lag the cluster head or the upstream tip and still
    /// be ready.
    pub ready_max_lag: u64,
    /// When each health check last changed state: name → (ok, UNIX seconds).
    pub check_since: parking_lot::Mutex<std::collections::HashMap<&'static str, (bool, u64)>>,
}

/// Serves the API on `listener` until `cancel`.
pub async fn serve<L>(listener: L, state: Arc<ApiState>, cancel: tokio_util::sync::CancellationToken)
where
    L: axum::serve::Listener,
    L::Addr: std::fmt::Debug,
    for<'a> hypasis_rpc::ClientAddr: axum::extract::connect_info::Connected<axum::serve::IncomingStream<'a, L>>,
{
    // The connection's address and request counter (a handler slower than the idle timeout
    // keeps its connection).
    let app = router(state)
        .layer(axum::middleware::from_fn(hypasis_rpc::listener::track_busy))
        .into_make_service_with_connect_info::<hypasis_rpc::ClientAddr>();
    let serve = axum::serve(listener, app).with_graceful_shutdown(async move { cancel.cancelled().await });
    if let Err(e) = serve.await {
        tracing::error!(target: "api", error = %e, "REST API server failed");
    }
}

/// The router with every endpoint.
pub fn router(state: Arc<ApiState>) -> Router {
    Router::new()
        .route("/api/v1/status", get(status::status))
        .route("/api/v1/genesis", get(genesis::genesis))
        .route("/api/v1/peers", get(peers::peers))
        .route("/api/v1/cluster", get(cluster::cluster))
        .route("/api/v1/bootnodes", get(cluster::bootnodes))
        .route("/api/v1/gaps", get(gaps::gaps))
        .route("/api/v1/checkpoints", get(sync::checkpoints))
        .route("/api/v1/upstreams", get(sync::upstreams))
        .merge(admin_routes(state.clone()))
        .route("/health/live", get(health::live))
        .route("/health/ready", get(health::ready))
        .route("/api/v1/health", get(health::report))
        .route("/metrics", get(render_metrics))
        .fallback(not_found)
        .layer(middleware::from_fn(count_requests))
        .with_state(state)
}

/// Endpoints that change the node: an admin token is required.
fn admin_routes(state: Arc<ApiState>) -> Router<Arc<ApiState>> {
    Router::new()
        .route("/api/v1/sync/pause", post(sync::pause))
        .route("/api/v1/sync/resume", post(sync::resume))
        .route("/api/v1/operators", get(operators::list).put(operators::replace))
        .route("/api/v1/operators/reload", post(operators::reload))
        .route("/api/v1/operators/{name}", get(operators::show).put(operators::put).delete(operators::delete))
        .route("/api/v1/operators/{name}/stats", get(operators::stats))
        .route_layer(middleware::from_fn_with_state(state, require_admin))
}

async fn require_admin(axum::extract::State(state): axum::extract::State<Arc<ApiState>>, request: Request, next: Next) -> Response {
    let header = request.headers().get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let checked = match &state.admin {
        Some(key) => key.check(header),
        None => Err(crate::admin::AuthError::Off),
    };
    match checked {
        Ok(claims) => {
            metrics::admin_auth("ok");
            tracing::info!(target: "api::admin", subject = %claims.sub, path = %request.uri().path(), "admin request");
            next.run(request).await
        }
        Err(e) => {
            metrics::admin_auth(e.label());
            let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::UNAUTHORIZED);
            let mut response = error(status, e.to_string());
            if status == StatusCode::UNAUTHORIZED {
                response.headers_mut().insert(axum::http::header::WWW_AUTHENTICATE, axum::http::HeaderValue::from_static("Bearer"));
            }
            response
        }
    }
}

async fn render_metrics(axum::extract::State(state): axum::extract::State<Arc<ApiState>>) -> impl IntoResponse {
    ([("content-type", "text/plain; version=0.0.4")], state.metrics.render())
}

async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "no such endpoint; see docs/ARCHITECTURE.md for the API")
}

async fn count_requests(request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(request).await;
    metrics::api_request(route, response.status().as_u16());
    response
}

/// A JSON error body: `{"error": "…"}`.
pub fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(serde_json::json!({ "error": message.into() }))).into_response()
}
