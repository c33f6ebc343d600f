//! The store and, with `--redis-url`, the cluster around it: the Redis store behind a memory
//! tier, and the cluster service (election, events, head following, heartbeats).

use super::NodeError;
use crate::config::Settings;
use hypasis_chain::ChainSpec;
use hypasis_cluster::{Announcement, ClusterConfig, ClusterHandle, Leadership};
use hypasis_p2p::NetworkHandle;
use hypasis_store::{
    BlockStore, ChainHead, MemoryStore, RedisStore, RedisStoreConfig, RedisTarget, TieredStore, tiered::DEFAULT_MAX_BACKLOG,
};
use std::{sync::Arc, time::Duration};
use tokio::{sync::watch, task::JoinSet};
use tokio_util::sync::CancellationToken;

/// Deadline of one Redis command.
const REDIS_COMMAND_TIMEOUT: Duration = Duration::from_secs(2);
/// First pause between start-up attempts to reach Redis (doubled up to [`REDIS_RETRY_MAX`]).
const REDIS_RETRY_FIRST: Duration = Duration::from_millis(250);
/// Longest pause between start-up attempts.
const REDIS_RETRY_MAX: Duration = Duration::from_secs(5);

/// The Redis target of `settings`, when clustered.
pub(super) fn redis_target(settings: &Settings) -> Option<RedisTarget> {
    settings.redis_url.as_ref().map(|url| RedisTarget {
        url: url.to_string(),
        password: settings.redis_password.clone(),
        tls_ca_file: settings.redis_tls_ca_file.clone(),
    })
}

/// The block store: alone, the memory store; clustered, the Redis store behind a memory tier
/// (returned again as the tiered store, which the cluster keeps warm).
pub(super) async fn store(settings: &Settings, spec: &ChainSpec) -> Result<(Arc<dyn BlockStore>, Option<Arc<TieredStore>>), NodeError> {
    let Some(target) = redis_target(settings) else { return Ok((Arc::new(MemoryStore::new(settings.cache)), None)) };
    let config =
        RedisStoreConfig { target, pool_size: settings.redis_pool_size, chain_id: spec.chain_id, command_timeout: REDIS_COMMAND_TIMEOUT };
    let store = connect_store(settings, config).await?;
    let tiered = Arc::new(TieredStore::new(MemoryStore::new(settings.cache), Arc::new(store), DEFAULT_MAX_BACKLOG));
    Ok((tiered.clone(), Some(tiered)))
}

/// Connects the Redis store, retrying with backoff for `--redis-start-timeout` (in a deployment
/// Redis may come up after us); every failure names the address (without its password).
async fn connect_store(settings: &Settings, config: RedisStoreConfig) -> Result<RedisStore, NodeError> {
    let redis = settings.redis_url.as_ref().map(shown_url).unwrap_or_default();
    let started = std::time::Instant::now();
    let mut pause = REDIS_RETRY_FIRST;
    loop {
        match RedisStore::connect(config.clone()).await {
            Ok(store) => return Ok(store),
            Err(e) if started.elapsed() + pause <= settings.redis_start_timeout => {
                tracing::warn!(%redis, error = %e, retry_in_ms = pause.as_millis() as u64, "Redis not reachable yet; retrying");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(REDIS_RETRY_MAX);
            }
            Err(source) => return Err(NodeError::RedisStart { redis, waited: started.elapsed(), source }),
        }
    }
}

/// `url` with its password hidden, for messages.
fn shown_url(url: &url::Url) -> String {
    let mut shown = url.clone();
    if shown.password().is_some() {
        let _ = shown.set_password(Some("***"));
    }
    shown.to_string()
}

/// Alone: always the leader. Clustered: the cluster service, whose election decides (followers
/// read the head the leader writes into `heads`).
pub(super) async fn start(
    settings: &Settings,
    spec: &ChainSpec,
    tiered: Option<Arc<TieredStore>>,
    heads: &watch::Sender<Option<ChainHead>>,
    tasks: &mut JoinSet<()>,
    cancel: &CancellationToken,
) -> Result<(Option<ClusterHandle>, watch::Receiver<Leadership>), NodeError> {
    let (Some(target), Some(tiered)) = (redis_target(settings), tiered) else {
        return Ok((None, hypasis_cluster::alone(tasks, cancel.child_token())));
    };
    let config = ClusterConfig {
        lease: settings.leader_lease,
        member_ttl: settings.member_ttl,
        heartbeat: settings.heartbeat_interval,
        ..ClusterConfig::new(spec.chain_id, settings.instance_id.clone(), settings.region.clone())
    };
    let cluster = hypasis_cluster::spawn(config, target, tiered, heads.clone(), tasks, cancel).await?;
    let leadership = cluster.leadership();
    Ok((Some(cluster), leadership))
}

/// Starts the membership heartbeats, announcing our enode URLs, head and peer count.
pub(super) fn announce(
    cluster: &ClusterHandle,
    network: NetworkHandle,
    heads: watch::Receiver<Option<ChainHead>>,
    tasks: &mut JoinSet<()>,
    cancel: &CancellationToken,
) {
    let describe =
        move || Announcement { enodes: network.enodes.clone(), head: heads.borrow().map_or(0, |h| h.number), peers: network.peer_count() };
    cluster.announce(describe, tasks, cancel);
}
