//! Wiring: build the components from [`Settings`], run them, drain on shutdown.

use crate::{
    api::{self, ApiState},
    config::{ChainChoice, Settings},
    devnet_source, metrics, upstream_sync,
};
use hypasis_chain::{Block, ChainSpec};
use hypasis_cluster::{Election, ElectionConfig, Events, Leadership, Member, Membership};
use hypasis_devnet::Devnet;
use hypasis_p2p::{NetworkConfig, identity};
use hypasis_store::{
    BlockStore, ChainHead, MemoryStore, RedisStore, RedisStoreConfig, RedisTarget, TieredStore, tiered::DEFAULT_MAX_BACKLOG,
};
use hypasis_syncer::{BackwardConfig, ForwardConfig, SyncContext, SyncProgress, Validators};
use metrics_exporter_prometheus::PrometheusHandle;
use std::{
    future::Future,
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};
use tokio::{net::TcpListener, sync::watch, task::JoinSet};
use tokio_util::sync::CancellationToken;

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
    /// Redis could not be reached for cluster coordination.
    #[error("redis: {0}; check --redis-url and that Redis is reachable")]
    Redis(String),
    /// The chain file could not be imported.
    #[error("--import: {0}")]
    Import(String),
    /// The upstream sync could not start.
    #[error("upstream sync: {0}")]
    Upstream(String),
    /// A node key file is unusable.
    #[error(transparent)]
    Key(#[from] hypasis_p2p::identity::KeyFileError),
    /// `--public-host` names no usable address.
    #[error("cannot resolve --public-host {host:?}: {reason}; give an IPv4 address or a name that resolves to one")]
    PublicHost {
        /// The name.
        host: String,
        /// Why.
        reason: String,
    },
}

impl NodeError {
    /// Whether the operator's configuration is at fault (the binary exits 64, `EX_USAGE`).
    pub fn is_config(&self) -> bool {
        matches!(self, Self::Key(_) | Self::PublicHost { .. })
    }
}

/// The IPv4 address advertised in enode URLs and the ENR: `--public-host` itself when it is an
/// address, else its first IPv4 address from DNS; without `--public-host`, the `--bind` address
/// (loopback when that is unspecified).
async fn resolve_public_host(host: &str) -> Result<std::net::Ipv4Addr, NodeError> {
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return Ok(match ip {
            std::net::IpAddr::V4(v4) if !v4.is_unspecified() => v4,
            _ => std::net::Ipv4Addr::LOCALHOST,
        });
    }
    let unresolved = |reason: String| NodeError::PublicHost { host: host.to_owned(), reason };
    let addresses = tokio::net::lookup_host((host, 0)).await.map_err(|e| unresolved(e.to_string()))?;
    addresses
        .map(|a| a.ip())
        .find_map(|ip| match ip {
            std::net::IpAddr::V4(v4) => Some(v4),
            std::net::IpAddr::V6(_) => None,
        })
        .ok_or_else(|| unresolved("it has no IPv4 address".into()))
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
    // Alone, the memory cache bounds what is kept; on Redis, everything above the floor is.
    let progress = Arc::new(match settings.redis_url {
        None => SyncProgress::new(settings.cache.max_blocks as u64),
        Some(_) => SyncProgress::from_floor(settings.retention_floor),
    });

    // Keys before any port is bound: a bad key file is a configuration error (exit 64).
    let mut keys = Vec::new();
    if let Some(path) = &settings.cluster_key_file {
        keys.push(identity::load_or_create(path)?);
    }
    keys.push(identity::load_or_create(&settings.node_key_file)?);
    let public_ip = resolve_public_host(&settings.public_host).await?;

    let api_addr = SocketAddr::new(settings.bind, settings.api_port);
    let listener =
        TcpListener::bind(api_addr).await.map_err(|source| NodeError::Bind { addr: api_addr, flag: "--api-port / --bind", source })?;
    let api_addr = listener.local_addr().map_err(|source| NodeError::Bind { addr: api_addr, flag: "--api-port / --bind", source })?;

    let cancel = CancellationToken::new();
    let mut tasks = JoinSet::new();
    let (heads_tx, heads) = watch::channel(None);
    let heads_for_members = heads_tx.subscribe();

    // Embedded: memory store, always leader. Cluster: Redis store, leader by election.
    let (store, cluster): (Arc<dyn BlockStore>, Option<ClusterParts>) = match &settings.redis_url {
        None => (Arc::new(MemoryStore::new(settings.cache)), None),
        Some(url) => {
            let target = RedisTarget {
                url: url.to_string(),
                password: settings.redis_password.clone(),
                tls_ca_file: settings.redis_tls_ca_file.clone(),
            };
            let store = RedisStore::connect(RedisStoreConfig {
                target: target.clone(),
                pool_size: settings.redis_pool_size,
                chain_id: spec.chain_id,
                command_timeout: REDIS_COMMAND_TIMEOUT,
            })
            .await?;
            let store = Arc::new(TieredStore::new(MemoryStore::new(settings.cache), Arc::new(store), DEFAULT_MAX_BACKLOG));
            let client = hypasis_cluster::connect(&target).await.map_err(|e| NodeError::Redis(e.to_string()))?;
            let election = Election::new(
                ElectionConfig { chain_id: spec.chain_id, instance_id: settings.instance_id.clone(), ttl: LEADER_LEASE },
                client.clone(),
            );
            let membership = Membership::new(client.clone(), spec.chain_id, MEMBER_TTL);
            let events = Events::start(&target, client, spec.chain_id, settings.instance_id.clone(), cancel.child_token())
                .await
                .map_err(|e| NodeError::Redis(e.to_string()))?;
            (store.clone(), Some(ClusterParts { election, membership, events, tiered: store }))
        }
    };
    let (leadership_tx, leadership) =
        watch::channel(if cluster.is_some() { Leadership::Follower } else { Leadership::Leader { token: 0 } });
    if let Some(parts) = &cluster {
        tasks.spawn(parts.election.clone().run(leadership_tx, cancel.child_token()));
        tasks.spawn(devnet_source::follow_head(
            parts.tiered.clone(),
            heads_tx.clone(),
            parts.events.subscribe(),
            FOLLOW_INTERVAL,
            cancel.child_token(),
        ));
    }
    let upstream_sync = if settings.upstreams.is_empty() {
        match devnet {
            Some(config) => {
                let events = cluster.as_ref().map(|c| c.events.clone());
                let sink = devnet_source::Sink { store: store.clone(), progress: progress.clone(), heads: heads_tx, events };
                tasks.spawn(devnet_source::run(config, sink, leadership.clone(), settings.devnet.prefill, cancel.child_token()));
            }
            None => {
                let head = seed_genesis(&spec, &*store, settings.import.as_deref(), &progress).await?;
                heads_tx.send_replace(head);
            }
        }
        None
    } else {
        // Genesis is stored (without moving the head) so history ends there; the head comes from
        // forward sync.
        if let Some(header) = &spec.genesis_header
            && store.by_numbers(&[0], hypasis_store::Parts::HEADER).await?.first().is_some_and(Option::is_none)
        {
            store.insert(vec![Block::genesis(header.clone())]).await?;
        }
        // The devnet's sealers are known from its genesis; Polygon networks' come from Heimdall's
        // spans when --heimdall-url is given (no seal check otherwise).
        let validators = match &devnet {
            Some(config) => Some(Arc::new(Validators::Fixed(Devnet::new(config.clone()).validator_addresses().into_iter().collect()))),
            None => settings.heimdall_url.as_ref().map(|_| Arc::new(Validators::spans())),
        };
        let plan = upstream_sync::Plan {
            upstreams: settings.upstreams.clone(),
            l1: settings.eth_l1_rpc_url.clone(),
            rootchain: if spec.chain_id == 80_002 {
                hypasis_syncer::checkpoints::AMOY_ROOTCHAIN
            } else {
                hypasis_syncer::checkpoints::MAINNET_ROOTCHAIN
            },
            backward: BackwardConfig {
                workers: settings.backfill_workers,
                floor: settings.retention_floor,
                blocks_per_second: settings.backfill_rate,
                // Alone, the store is the bounded memory store: fill only what it keeps (with
                // room for the tip to move on).
                window: settings.redis_url.is_none().then(|| (settings.cache.max_blocks as u64).saturating_sub(1_024).max(1)),
                ..BackwardConfig::default()
            },
            upstream_rps: settings.upstream_rps,
            upstream_max_batch: settings.upstream_max_batch,
            heimdall: settings.heimdall_url.clone(),
            forward: ForwardConfig::default(),
            redis: settings.redis_url.as_ref().map(|url| {
                let target = RedisTarget {
                    url: url.to_string(),
                    password: settings.redis_password.clone(),
                    tls_ca_file: settings.redis_tls_ca_file.clone(),
                };
                (target, spec.chain_id, settings.instance_id.clone())
            }),
        };
        let (store, events, progress) = (store.clone(), cluster.as_ref().map(|c| c.events.clone()), progress.clone());
        let bor = spec.bor.clone();
        let ctx_for = move |pool, milestones| SyncContext {
            fetcher: hypasis_upstream::BlockFetcher::new(pool, bor),
            store,
            heads: heads_tx,
            events,
            validators,
            progress,
            milestones,
        };
        let sync = upstream_sync::spawn(&mut tasks, plan, ctx_for, leadership.clone(), &cancel).await.map_err(NodeError::Upstream)?;
        Some(sync)
    };

    let p2p_addr = SocketAddr::new(settings.bind, settings.p2p_port);
    let mut p2p_config = NetworkConfig::new(p2p_addr);
    p2p_config.public_host = public_ip.to_string();
    p2p_config.public_port = settings.public_port;
    p2p_config.max_peers = settings.max_peers;
    p2p_config.trusted = settings.trusted_peers.iter().copied().collect();
    let discovery_key = keys[0].clone();
    let (network, p2p_task) = hypasis_p2p::spawn(p2p_config, keys, Arc::new(spec.clone()), store.clone(), heads, cancel.child_token())
        .await
        .map_err(|source| NodeError::Bind { addr: p2p_addr, flag: "--p2p-port / --bind", source })?;
    tasks.spawn(async move {
        let _ = p2p_task.await;
    });
    // discv4 on the same port number as RLPx, answering for the first (cluster) identity.
    let udp_addr = SocketAddr::new(settings.bind, network.local_addr.port());
    let bootnodes = settings
        .bootnodes
        .iter()
        .map(|b| hypasis_discv4::message::NodeRecord {
            id: b.id,
            endpoint: hypasis_discv4::message::Endpoint { ip: b.ip, udp: b.udp, tcp: b.tcp },
        })
        .collect();
    let discv4_config = hypasis_discv4::Discv4Config {
        listen: udp_addr,
        public_ip,
        tcp_port: settings.public_port.unwrap_or(network.local_addr.port()),
        udp_port: settings.public_port,
        bootnodes,
        fork_id: spec.latest_fork_id(),
    };
    let (discovery, discv4_task) = hypasis_discv4::spawn(discv4_config, discovery_key, cancel.child_token())
        .await
        .map_err(|source| NodeError::Bind { addr: udp_addr, flag: "--p2p-port / --bind (UDP)", source })?;
    tasks.spawn(async move {
        let _ = discv4_task.await;
    });

    if let Some(parts) = &cluster {
        let (membership, events) = (parts.membership.clone(), parts.events.clone());
        let (network, leadership, heads, instance_id, region) =
            (network.clone(), leadership.clone(), heads_for_members.clone(), settings.instance_id.clone(), settings.region.clone());
        let cancel = cancel.child_token();
        tasks.spawn(async move {
            let mut ticker = tokio::time::interval(HEARTBEAT_INTERVAL);
            let mut known = std::collections::BTreeSet::new();
            loop {
                tokio::select! {
                    () = cancel.cancelled() => return,
                    _ = ticker.tick() => {}
                }
                let member = Member {
                    instance_id: instance_id.clone(),
                    region: region.clone(),
                    enodes: network.enodes.clone(),
                    head: heads.borrow().map_or(0, |h| h.number),
                    peers: network.peer_count(),
                    leader: matches!(*leadership.borrow(), Leadership::Leader { .. }),
                    last_seen_ms: 0,
                };
                if let Err(e) = membership.heartbeat(member.clone()).await {
                    tracing::warn!(target: "cluster", error = %e, "heartbeat failed");
                }
                let _ = events.publish(hypasis_cluster::Event::Heartbeat(member)).await;
                if let Ok(live) = membership.live().await {
                    let now: std::collections::BTreeSet<String> = live.into_iter().map(|m| m.instance_id).collect();
                    for joined in now.difference(&known) {
                        tracing::info!(target: "cluster", member = %joined, "member joined");
                    }
                    for left in known.difference(&now) {
                        tracing::info!(target: "cluster", member = %left, "member left");
                    }
                    crate::metrics::members(now.len());
                    known = now;
                }
            }
        });
    }
    let state = Arc::new(ApiState {
        instance_id: settings.instance_id.clone(),
        spec: spec.clone(),
        store,
        progress,
        metrics: metrics_handle,
        network: network.clone(),
        enr: discovery.enr.clone(),
        cluster: cluster.clone(),
        leadership: leadership.clone(),
        started: Instant::now(),
        retention_floor: settings.retention_floor,
        retention_window: (settings.redis_url.is_none() && !settings.upstreams.is_empty())
            .then(|| (settings.cache.max_blocks as u64).saturating_sub(1_024).max(1)),
        upstream: upstream_sync,
    });
    let api_cancel = cancel.child_token();
    tasks.spawn(async move {
        let serve = axum::serve(listener, api::router(state)).with_graceful_shutdown(async move { api_cancel.cancelled().await });
        if let Err(e) = serve.await {
            tracing::error!(target: "api", error = %e, "REST API server failed");
        }
    });

    tracing::info!(
        instance = %settings.instance_id, chain = %spec.name, chain_id = spec.chain_id, genesis = %spec.genesis_hash,
        "hypasis-sync started"
    );
    println!("hypasis-sync {} serving chain {} (chain id {})", env!("CARGO_PKG_VERSION"), spec.name, spec.chain_id);
    println!("REST API listening on http://{api_addr} (status: http://{api_addr}/api/v1/status, metrics: http://{api_addr}/metrics)");
    println!("devp2p (RLPx, eth/68 and eth/69) listening on {}", network.local_addr);
    for enode in &network.enodes {
        println!("enode: {enode}");
    }
    println!("discv4 listening on udp://{} ({})", discovery.local_addr, discovery.enr);
    if !settings.upstreams.is_empty() {
        println!("syncing from {} upstream endpoint(s)", settings.upstreams.len());
    }
    println!("JSON-RPC (port {}) is not served by this build yet", settings.rpc_port);

    shutdown.await;
    tracing::info!(grace_secs = settings.shutdown_grace.as_secs(), "shutting down");
    cancel.cancel();
    let drained = tokio::time::timeout(settings.shutdown_grace, async { while tasks.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::warn!("grace period over; aborting the remaining tasks");
        tasks.abort_all();
    }
    tracing::info!("stopped");
    Ok(())
}

/// Deadline of one Redis command.
const REDIS_COMMAND_TIMEOUT: Duration = Duration::from_secs(2);
/// Leader lease length.
const LEADER_LEASE: Duration = Duration::from_secs(5);
/// A member is live this long after its last heartbeat.
const MEMBER_TTL: Duration = Duration::from_secs(5);
/// Heartbeat interval.
const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(1);
/// How often followers read the head the leader wrote.
const FOLLOW_INTERVAL: Duration = Duration::from_millis(500);

/// Cluster coordination parts.
#[derive(Debug, Clone)]
pub struct ClusterParts {
    /// Leader election.
    pub election: Election,
    /// Membership.
    pub membership: Membership,
    /// Pub/sub events.
    pub events: Events,
    /// The hot tier in front of Redis.
    pub tiered: Arc<TieredStore>,
}

/// Blocks inserted per store call while importing.
const IMPORT_BATCH: usize = 1_000;

/// Stores the genesis block of a non-devnet chain when its genesis file is known, then the blocks
/// of `import`, so the node has a head to serve; other blocks come from the upstream sync.
async fn seed_genesis(
    spec: &ChainSpec,
    store: &dyn BlockStore,
    import: Option<&std::path::Path>,
    progress: &SyncProgress,
) -> Result<Option<ChainHead>, NodeError> {
    let Some(header) = &spec.genesis_header else {
        tracing::warn!(chain = %spec.name, "genesis file not bundled; the head stays unknown until blocks are synced");
        return Ok(None);
    };
    let genesis = Block::genesis(header.clone());
    let mut head = ChainHead::of(&genesis);
    store.insert(vec![genesis]).await?;
    if let Some(path) = import {
        let bytes = std::fs::read(path).map_err(|e| NodeError::Import(format!("cannot read {}: {e}", path.display())))?;
        let blocks = hypasis_chain::import::read_blocks(&bytes).map_err(|e| NodeError::Import(e.to_string()))?;
        let blocks = hypasis_chain::import::link(header, header.difficulty, blocks).map_err(|e| NodeError::Import(e.to_string()))?;
        let count = blocks.len();
        if let Some(last) = blocks.last() {
            head = ChainHead::of(last);
        }
        let mut blocks = blocks.into_iter().peekable();
        while blocks.peek().is_some() {
            store.insert(blocks.by_ref().take(IMPORT_BATCH).collect()).await?;
        }
        progress.stored(count as u64 + 1, head.number);
        tracing::info!(file = %path.display(), blocks = count, head = head.number, "imported chain file");
    } else {
        tracing::warn!(chain = %spec.name, "no --upstream and no --import: only the genesis block is served; add --upstream <url> to sync this chain");
    }
    store.advance_head(head).await?;
    crate::metrics::head(head.number);
    Ok(Some(head))
}
