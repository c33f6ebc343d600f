//! Wiring: build the components from [`Settings`], run them, drain on shutdown, in a fixed
//! order: keys and advertised address (nothing bound yet) → API and JSON-RPC listeners → store and cluster →
//! source of blocks → network → REST API → banner → wait for shutdown → unready for the drain
//! period → stop → drain.
//!
//! - [`cluster`]: the store, and with Redis the election, heartbeats and head following.
//! - [`history`]: sealed history segments in object storage behind the store, and the sealer.
//! - [`import`]: `--import` of a chain file or of sealed segments.
//! - [`sources`]: the embedded devnet, an imported chain file, or the upstream sync.
//! - [`seals`]: which seal check runs, from what anchor.
//! - [`network`]: the devp2p server and discv4.
//! - [`rpc`]: the JSON-RPC edge.
//! - [`fair_use`]: the operators registry, its reloads and the devp2p gate.
//! - [`banner`]: what is printed on start.

mod banner;
mod cluster;
mod fair_use;
mod history;
mod import;
pub mod network;
mod rpc;
pub mod seals;
mod snap;
mod snap_redis;
mod sources;
mod tls;

use crate::{
    api::{self, ApiState},
    config::{ChainChoice, Settings},
    metrics,
};
use hypasis_devnet::Devnet;
use hypasis_p2p::identity;
use hypasis_rpc::{EdgeListener, EdgeOptions};
use hypasis_syncer::{HeadWriter, SyncProgress};
use metrics_exporter_prometheus::PrometheusHandle;
use std::{future::Future, net::SocketAddr, sync::Arc, time::Instant};
use tokio::{net::TcpListener, sync::watch, task::JoinSet};
use tokio_util::sync::CancellationToken;

/// Time the write backlog gets at exit even when the grace period is spent.
const SHUTDOWN_FLUSH_MIN: std::time::Duration = std::time::Duration::from_secs(1);
/// Pause between tries to write the backlog at exit.
const SHUTDOWN_FLUSH_RETRY: std::time::Duration = std::time::Duration::from_millis(200);

/// Why the node stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// A listener could not be bound.
    #[error("cannot listen on {addr}: {source}; choose another address with {flag}")]
    Bind {
        /// Address tried.
        addr: SocketAddr,
        /// Flag that sets it.
        flag: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
    /// The block store failed at start-up.
    #[error("block store: {0}")]
    Store(#[from] hypasis_store::StoreError),
    /// Redis could not be reached within `--redis-start-timeout`.
    #[error(
        "cannot reach Redis at {redis} (tried for {waited:.0?}): {source}; check --redis-url and that Redis is up, or wait longer with --redis-start-timeout"
    )]
    RedisStart {
        /// The address, password hidden.
        redis: String,
        /// How long it was tried.
        waited: std::time::Duration,
        /// The last error.
        source: hypasis_store::StoreError,
    },
    /// Cluster coordination could not start.
    #[error("cluster: {0}; check --redis-url and that Redis is reachable")]
    Cluster(#[from] hypasis_cluster::ClusterError),
    /// The chain file could not be read.
    #[error("--import: cannot read {path}: {source}")]
    ImportFile {
        /// The file.
        path: std::path::PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A segment file given to `--import` is malformed.
    #[error("--import: {path}: {reason}")]
    ImportSegment {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The chain file holds malformed or unlinked blocks.
    #[error("--import: {0}")]
    Import(#[from] hypasis_chain::import::ImportError),
    /// A block of the chain file fails the seal check.
    #[error("--import: refused: {0}")]
    ImportSeal(hypasis_chain::bor_snapshot::SealError),
    /// The seal check has no usable anchor.
    #[error("seal checks: {reason}")]
    Anchor {
        /// Why.
        reason: String,
    },
    /// The operators file is unreadable or wrong.
    #[error("--operators-file: {0}")]
    Operators(hypasis_limits::RegistryError),
    /// The HTTPS certificate or key is unusable.
    #[error("--tls-cert / --tls-key: {0}")]
    Tls(hypasis_rpc::TlsError),
    /// The history tier's bucket or cache folder is unusable.
    #[error("history tier: {0}; check --history-url (and AWS_* for S3) and --history-cache-dir")]
    History(String),
    /// The upstream sync could not start.
    #[error("upstream sync: {0}")]
    Upstream(#[from] hypasis_syncer::StartError),
    /// A node key file is unusable.
    #[error(transparent)]
    Key(#[from] hypasis_p2p::identity::KeyFileError),
    /// `--public-host` names no usable address.
    #[error("cannot resolve --public-host {host:?}: {reason}; give an IPv4 address or a name that resolves to one")]
    PublicHost {
        /// The name.
        host: String,
        /// Why.
        reason: network::ResolveError,
    },
}

impl NodeError {
    /// Whether the operator's configuration is at fault (the binary exits 64, `EX_USAGE`).
    pub fn is_config(&self) -> bool {
        matches!(self, Self::Key(_) | Self::PublicHost { .. } | Self::Anchor { .. } | Self::Operators(_) | Self::Tls(_) | Self::History(_))
    }
}

/// `listener` reading PROXY headers from the configured load balancers and speaking TLS when
/// a certificate is configured.
fn edge(
    listener: TcpListener,
    settings: &Settings,
    cert: Option<&Arc<hypasis_rpc::ServerCert>>,
    name: &'static str,
    cancel: &CancellationToken,
) -> std::io::Result<EdgeListener> {
    let wanted = settings.http_max_connections;
    let max_connections = crate::limits::open_files().map_or(wanted, |nofile| {
        let budget = crate::limits::http_connection_budget(wanted, settings.max_peers, nofile);
        if budget < wanted {
            tracing::warn!(
                listener = name,
                wanted,
                budget,
                nofile,
                max_peers = settings.max_peers,
                "HTTP connections lowered to fit the open-files limit"
            );
        }
        budget
    });
    let options = EdgeOptions {
        trusted: settings.proxy_protocol_from.clone(),
        header_timeout: hypasis_p2p::proxy::DEFAULT_HEADER_TIMEOUT,
        tls: cert.map(hypasis_rpc::ServerCert::acceptor),
        max_connections,
        idle_timeout: settings.http_idle_timeout,
        max_connections_per_ip: settings.http_connections_per_ip.min(max_connections),
    };
    EdgeListener::spawn(listener, options, name, cancel.child_token())
}

/// Runs the node until `shutdown` resolves, then drains for at most the grace period.
///
/// # Errors
/// [`NodeError`] when start-up fails.
pub async fn run(settings: Settings, metrics_handle: PrometheusHandle, shutdown: impl Future<Output = ()>) -> Result<(), NodeError> {
    let (spec, devnet) = match settings.chain.clone() {
        ChainChoice::Devnet(config) => (Devnet::new(config.clone()).spec().clone(), Some(config)),
        ChainChoice::Spec(spec) => (*spec, None),
    };
    metrics::build_info(&spec.name);

    // Keys and the advertised address before any port is bound: a bad key file or an
    // unresolvable --public-host is a configuration error (exit 64).
    let mut keys = Vec::new();
    if let Some(path) = &settings.cluster_key_file {
        keys.push(identity::load_or_create(path)?);
    }
    keys.push(identity::load_or_create(&settings.node_key_file)?);
    let public_ip = network::resolve_public_host(&settings.public_host).await?;
    // The seal check's anchor too: a set that cannot anchor this chain is a configuration error.
    let seals = seals::plan(&settings, &spec, devnet.as_ref())?;
    let seal_status = seals.status.clone();
    let fair_use = fair_use::load(&settings)?;
    let cert = tls::load(&settings)?;

    let api_addr = SocketAddr::new(settings.bind, settings.api_port);
    let bind_error = |source| NodeError::Bind { addr: api_addr, flag: "--api-port / --bind", source };
    let listener = TcpListener::bind(api_addr).await.map_err(bind_error)?;
    let api_addr = listener.local_addr().map_err(bind_error)?;
    let rpc_addr = SocketAddr::new(settings.bind, settings.rpc.port);
    let rpc_bind_error = |source| NodeError::Bind { addr: rpc_addr, flag: "--rpc-port / --bind", source };
    let rpc_listener = TcpListener::bind(rpc_addr).await.map_err(rpc_bind_error)?;
    let rpc_addr = rpc_listener.local_addr().map_err(rpc_bind_error)?;

    let cancel = CancellationToken::new();
    let mut tasks = JoinSet::new();
    let (heads, _) = watch::channel(None);
    // Alone, the memory cache bounds what is kept; on Redis, everything above the floor is.
    let progress = Arc::new(match settings.redis_url {
        None => SyncProgress::new(settings.cache.max_blocks as u64),
        Some(_) => SyncProgress::from_floor(settings.retention_floor),
    });

    let (store, tiered) = cluster::store(&settings, &spec).await?;
    let (store, history) = history::wrap(&settings, &spec, store)?;
    let (cluster, leadership) = cluster::start(&settings, &spec, tiered.clone(), &heads, &mut tasks, &cancel).await?;
    let head_writer = HeadWriter::new(store.clone(), progress.clone(), heads.clone());
    let head_writer = match &cluster {
        Some(cluster) => head_writer.with_events(cluster.events().clone()),
        None => head_writer,
    };
    let source = sources::SourceDeps {
        spec: spec.clone(),
        devnet,
        head: head_writer,
        cluster: cluster.clone(),
        leadership: leadership.clone(),
        seals,
    };
    let sync = sources::start(&settings, source, &mut tasks, &cancel).await?;
    if let Some(history) = history {
        let bound = match &sync {
            Some(sync) => history::Bound::Checkpoints(sync.clone()),
            None => history::Bound::Head(heads.subscribe()),
        };
        let deps = history::SealerDeps { store: history, cluster: cluster.clone(), leadership: leadership.clone(), bound };
        history::spawn(&settings, &spec, deps, &mut tasks, &cancel).await?;
    }
    let (hand_over_cluster, hand_over_sync) = (cluster.clone(), sync.clone());

    let operators = crate::operators::Operators::start(fair_use.clone(), settings.operators_file.clone(), cluster.clone()).await;
    fair_use::spawn(&operators, cluster.clone(), &mut tasks, &cancel);
    let gate = Some(Arc::new(fair_use::P2pGate::new(fair_use.clone(), settings.p2p_flood_wait)) as Arc<dyn hypasis_p2p::gate::RequestGate>);
    let snap = snap::start(&settings, &spec, store.clone(), heads.subscribe(), &mut tasks, &cancel).await;
    let deps = network::NetworkDeps { keys, public_ip, spec: spec.clone(), store: store.clone(), heads: heads.subscribe(), gate, snap };
    let (network, discovery) = network::start(&settings, deps, &mut tasks, &cancel).await?;
    if let Some(cluster) = &cluster {
        cluster::announce(cluster, network.clone(), heads.subscribe(), &mut tasks, &cancel);
    }

    let draining = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let rpc_state = rpc::state(&settings, &spec, store.clone(), sync.clone(), heads.subscribe(), Some(fair_use.clone()));
    let rpc_listener = edge(rpc_listener, &settings, cert.as_ref(), "rpc", &cancel).map_err(rpc_bind_error)?;
    tasks.spawn(hypasis_rpc::serve(rpc_listener, rpc_state, cancel.child_token()));
    let state = Arc::new(ApiState {
        instance_id: settings.instance_id.clone(),
        spec: spec.clone(),
        store,
        progress,
        metrics: metrics_handle,
        network: network.clone(),
        enr: discovery.enr.clone(),
        cluster,
        leadership,
        started: Instant::now(),
        retention_floor: settings.retention_floor,
        retention_window: if settings.upstreams.is_empty() { None } else { sources::memory_window(&settings) },
        sync,
        seals: seal_status.clone(),
        admin: settings.jwt_secret.as_deref().map(crate::admin::TokenKey::new),
        operators,
        heads: heads.subscribe(),
        draining: draining.clone(),
        ready_max_lag: settings.ready_max_lag,
        check_since: parking_lot::Mutex::default(),
    });
    let listener = edge(listener, &settings, cert.as_ref(), "api", &cancel).map_err(bind_error)?;
    tasks.spawn(api::serve(listener, state, cancel.child_token()));
    if let Some(cert) = &cert {
        tls::spawn_reload(cert, &mut tasks, &cancel);
    }
    banner::print(&settings, &spec, [api_addr, rpc_addr], &network, &discovery, &seal_status);

    shutdown.await;
    let hand_over = HandOver { cluster: hand_over_cluster, sync: hand_over_sync, tiered };
    // Unready first, still serving, so load balancers move new work away; leadership and batch
    // claims go to the others at once; then stop.
    draining.store(true, std::sync::atomic::Ordering::SeqCst);
    hand_over.release();
    tracing::info!(drain_secs = settings.shutdown_drain.as_secs(), "draining: /health/ready answers 503");
    tokio::time::sleep(settings.shutdown_drain).await;
    tracing::info!(grace_secs = settings.shutdown_grace.as_secs(), "shutting down");
    cancel.cancel();
    let grace_ends = tokio::time::Instant::now() + settings.shutdown_grace;
    let drained = tokio::time::timeout_at(grace_ends, async { while tasks.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::warn!("grace period over; aborting the remaining tasks");
        tasks.abort_all();
    }
    hand_over.flush(grace_ends).await;
    tracing::info!("stopped");
    Ok(())
}

/// What a graceful stop gives back to the rest of the cluster.
struct HandOver {
    cluster: Option<hypasis_cluster::ClusterHandle>,
    sync: Option<hypasis_syncer::SyncHandle>,
    tiered: Option<Arc<hypasis_store::TieredStore>>,
}

impl HandOver {
    /// Leaves the election (a held lease is released and announced) and stops the backfill
    /// (a claimed batch is freed).
    fn release(&self) {
        if let Some(cluster) = &self.cluster {
            cluster.resign();
        }
        if let Some(sync) = &self.sync {
            sync.stop_backfill();
        }
    }

    /// Writes blocks still waiting for Redis (kept while it was unreachable) before exit,
    /// retrying until what is left of the grace period runs out; what cannot be written is
    /// logged with its count.
    async fn flush(&self, until: tokio::time::Instant) {
        let Some(tiered) = &self.tiered else { return };
        let waiting = tiered.backlog_len();
        if waiting == 0 {
            return;
        }
        let until = until.max(tokio::time::Instant::now() + SHUTDOWN_FLUSH_MIN);
        tracing::info!(blocks = waiting, "writing the backlog to Redis before exit");
        loop {
            match tokio::time::timeout_at(until, tiered.flush()).await {
                Ok(Ok(())) => {
                    tracing::info!(blocks = waiting, "write backlog flushed to Redis");
                    return;
                }
                Ok(Err(e)) if tokio::time::Instant::now() + SHUTDOWN_FLUSH_RETRY < until => {
                    tracing::debug!(error = %e, "backlog not written yet; retrying");
                    tokio::time::sleep(SHUTDOWN_FLUSH_RETRY).await;
                }
                Ok(Err(e)) => {
                    tracing::error!(blocks = tiered.backlog_len(), error = %e, "write backlog not flushed: Redis unreachable");
                    return;
                }
                Err(_) => {
                    tracing::error!(blocks = tiered.backlog_len(), "write backlog not flushed: grace period over");
                    return;
                }
            }
        }
    }
}
