//! The store and, with `--redis-url`, the cluster around it: Redis store behind a memory tier,
//! leader election, membership heartbeats, events, and followers reading the leader's head.

use super::NodeError;
use crate::{config::Settings, devnet_source};
use hypasis_chain::ChainSpec;
use hypasis_cluster::{Election, ElectionConfig, Events, Leadership, Member, Membership};
use hypasis_p2p::NetworkHandle;
use hypasis_store::{
    BlockStore, ChainHead, MemoryStore, RedisStore, RedisStoreConfig, RedisTarget, TieredStore, tiered::DEFAULT_MAX_BACKLOG,
};
use std::{collections::BTreeSet, sync::Arc, time::Duration};
use tokio::{sync::watch, task::JoinSet};
use tokio_util::sync::CancellationToken;

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

/// The Redis target of `settings`, when clustered.
pub(super) fn redis_target(settings: &Settings) -> Option<RedisTarget> {
    settings.redis_url.as_ref().map(|url| RedisTarget {
        url: url.to_string(),
        password: settings.redis_password.clone(),
        tls_ca_file: settings.redis_tls_ca_file.clone(),
    })
}

/// Alone: the memory store. Clustered: the Redis store behind a memory tier, and the cluster
/// parts.
pub(super) async fn store(
    settings: &Settings,
    spec: &ChainSpec,
    cancel: &CancellationToken,
) -> Result<(Arc<dyn BlockStore>, Option<ClusterParts>), NodeError> {
    let Some(target) = redis_target(settings) else { return Ok((Arc::new(MemoryStore::new(settings.cache)), None)) };
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
    Ok((store.clone(), Some(ClusterParts { election, membership, events, tiered: store })))
}

/// Leadership: always leader alone; clustered, the election decides (and followers read the head
/// the leader writes).
pub(super) fn leadership(
    cluster: Option<&ClusterParts>,
    heads: &watch::Sender<Option<ChainHead>>,
    tasks: &mut JoinSet<()>,
    cancel: &CancellationToken,
) -> watch::Receiver<Leadership> {
    let Some(parts) = cluster else {
        // Alone: always the leader. The sender lives until shutdown: a receiver whose sender is
        // gone reads as a lost leadership.
        let (always, leadership) = watch::channel(Leadership::Leader { token: 0 });
        let cancel = cancel.child_token();
        tasks.spawn(async move {
            cancel.cancelled().await;
            drop(always);
        });
        return leadership;
    };
    let (leadership_tx, leadership) = watch::channel(Leadership::Follower);
    tasks.spawn(parts.election.clone().run(leadership_tx, cancel.child_token()));
    tasks.spawn(devnet_source::follow_head(
        parts.tiered.clone(),
        heads.clone(),
        parts.events.subscribe(),
        FOLLOW_INTERVAL,
        cancel.child_token(),
    ));
    leadership
}

/// What this instance announces about itself in its heartbeats.
#[derive(Debug, Clone)]
pub(super) struct Announce {
    pub(super) instance_id: String,
    pub(super) region: String,
    pub(super) network: NetworkHandle,
    pub(super) heads: watch::Receiver<Option<ChainHead>>,
    pub(super) leadership: watch::Receiver<Leadership>,
}

/// Membership heartbeats every [`HEARTBEAT_INTERVAL`] (stored and published), logging members
/// that join or leave.
pub(super) async fn heartbeats(parts: ClusterParts, me: Announce, cancel: CancellationToken) {
    let mut ticker = tokio::time::interval(HEARTBEAT_INTERVAL);
    let mut known = BTreeSet::new();
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let member = Member {
            instance_id: me.instance_id.clone(),
            region: me.region.clone(),
            enodes: me.network.enodes.clone(),
            head: me.heads.borrow().map_or(0, |h| h.number),
            peers: me.network.peer_count(),
            leader: matches!(*me.leadership.borrow(), Leadership::Leader { .. }),
            last_seen_ms: 0,
        };
        if let Err(e) = parts.membership.heartbeat(member.clone()).await {
            tracing::warn!(target: "cluster", error = %e, "heartbeat failed");
        }
        let _ = parts.events.publish(hypasis_cluster::Event::Heartbeat(member)).await;
        if let Ok(live) = parts.membership.live().await {
            let now: BTreeSet<String> = live.into_iter().map(|m| m.instance_id).collect();
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
}
