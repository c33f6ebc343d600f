//! The cluster as a service: [`spawn`] starts the election, the event subscription and head
//! following on Redis and returns a [`ClusterHandle`]; [`ClusterHandle::announce`] starts the
//! membership heartbeats once the instance knows what to announce (its enode URLs).

use crate::{Election, ElectionConfig, Envelope, Event, Events, Leadership, Member, Membership, RedisTarget};
use hypasis_store::{BlockStore, ChainHead, TieredStore};
use std::{collections::BTreeSet, sync::Arc, time::Duration};
use tokio::{
    sync::{broadcast, watch},
    task::JoinSet,
};
use tokio_util::sync::CancellationToken;

/// Leader lease length unless configured.
pub const DEFAULT_LEADER_LEASE: Duration = Duration::from_secs(5);
/// A member is live this long after its last heartbeat unless configured.
pub const DEFAULT_MEMBER_TTL: Duration = Duration::from_secs(5);
/// Heartbeat interval unless configured.
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(1);
/// How often followers read the head the leader wrote unless configured.
pub const DEFAULT_FOLLOW_INTERVAL: Duration = Duration::from_millis(500);

/// Why the cluster could not start or answer.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// Redis refused or could not be reached.
    #[error("redis: {0}")]
    Redis(#[from] fred::prelude::Error),
    /// The timings cannot work together.
    #[error("{0}")]
    Timing(&'static str),
}

/// Cluster settings.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// Chain id (part of every key).
    pub chain_id: u64,
    /// This instance's id.
    pub instance_id: String,
    /// Region label announced in heartbeats.
    pub region: String,
    /// Leader lease length.
    pub lease: Duration,
    /// A member is live this long after its last heartbeat.
    pub member_ttl: Duration,
    /// Heartbeat interval.
    pub heartbeat: Duration,
    /// How often a follower reads the head the leader wrote (besides on head events).
    pub follow_interval: Duration,
}

impl ClusterConfig {
    /// Settings with the default timings.
    pub fn new(chain_id: u64, instance_id: String, region: String) -> Self {
        Self {
            chain_id,
            instance_id,
            region,
            lease: DEFAULT_LEADER_LEASE,
            member_ttl: DEFAULT_MEMBER_TTL,
            heartbeat: DEFAULT_HEARTBEAT,
            follow_interval: DEFAULT_FOLLOW_INTERVAL,
        }
    }

    /// Checks that the timings can work: a member must heartbeat within its TTL.
    ///
    /// # Errors
    /// [`ClusterError::Timing`] naming the problem.
    pub fn check(&self) -> Result<(), ClusterError> {
        if self.heartbeat >= self.member_ttl {
            return Err(ClusterError::Timing("the heartbeat interval must be shorter than the member TTL"));
        }
        if self.lease < Duration::from_millis(300) {
            return Err(ClusterError::Timing("the leader lease must be at least 300 ms (it is renewed every third of it)"));
        }
        Ok(())
    }
}

/// What the rest of the node asks of the cluster.
#[derive(Debug, Clone)]
pub struct ClusterHandle {
    config: ClusterConfig,
    target: RedisTarget,
    election: Election,
    membership: Membership,
    events: Events,
    operators: crate::OperatorsStore,
    leadership: watch::Receiver<Leadership>,
    resign: CancellationToken,
}

/// Connects to Redis and starts the election, the event subscription and head following (the
/// head the leader writes is read into `heads`, and the hot tier of `store` warmed up to it).
///
/// # Errors
/// [`ClusterError`] when the timings are unusable or Redis cannot be reached.
pub async fn spawn(
    config: ClusterConfig,
    target: RedisTarget,
    store: Arc<TieredStore>,
    heads: watch::Sender<Option<ChainHead>>,
    tasks: &mut JoinSet<()>,
    cancel: &CancellationToken,
) -> Result<ClusterHandle, ClusterError> {
    config.check()?;
    let client = crate::connect(&target).await?;
    crate::supervise::count_reconnects(&client, "redis");
    let election = Election::new(
        ElectionConfig { chain_id: config.chain_id, instance_id: config.instance_id.clone(), ttl: config.lease },
        client.clone(),
    );
    let membership = Membership::new(client.clone(), config.chain_id, config.member_ttl);
    let operators = crate::OperatorsStore::new(client.clone(), config.chain_id);
    let events = Events::start(&target, client, config.chain_id, config.instance_id.clone(), cancel.child_token()).await?;
    let (leadership_tx, leadership) = watch::channel(Leadership::Follower);
    let resign = cancel.child_token();
    tasks.spawn(election.clone().run(leadership_tx, Some(events.clone()), resign.clone()));
    let (follow_events, interval, stop) = (events.clone(), config.follow_interval, cancel.child_token());
    tasks.spawn(crate::supervise("follow_head", cancel.child_token(), move || {
        follow_head(store.clone(), heads.clone(), follow_events.subscribe(), interval, stop.clone())
    }));
    Ok(ClusterHandle { config, target, election, membership, events, operators, leadership, resign })
}

impl ClusterHandle {
    /// Stops taking part in the election: leader-only work stops, a held lease is released and
    /// the others are told at once (a graceful stop hands over in a round trip).
    pub fn resign(&self) {
        self.resign.cancel();
    }

    /// Whether we lead, as it changes.
    pub fn leadership(&self) -> watch::Receiver<Leadership> {
        self.leadership.clone()
    }

    /// Cluster events (publish and subscribe).
    pub fn events(&self) -> &Events {
        &self.events
    }

    /// The shared operators registry.
    pub fn operators(&self) -> &crate::OperatorsStore {
        &self.operators
    }

    /// The Redis the cluster coordinates through (other services open their own connections).
    pub fn target(&self) -> &RedisTarget {
        &self.target
    }

    /// The instance holding the lease, if any.
    ///
    /// # Errors
    /// When Redis cannot be reached.
    pub async fn leader(&self) -> Result<Option<String>, ClusterError> {
        Ok(self.election.leader().await?)
    }

    /// Live members.
    ///
    /// # Errors
    /// When Redis cannot be reached.
    pub async fn members(&self) -> Result<Vec<Member>, ClusterError> {
        Ok(self.membership.live().await?)
    }

    /// Starts the membership heartbeats: every heartbeat interval, `describe` says what this
    /// instance announces (stored with the member TTL and published); members joining or leaving
    /// are logged and `hypasis_cluster_members` is set.
    pub fn announce(&self, describe: impl Fn() -> Announcement + Send + 'static, tasks: &mut JoinSet<()>, cancel: &CancellationToken) {
        let (me, cancel) = (self.clone(), cancel.child_token());
        tasks.spawn(async move {
            let mut ticker = tokio::time::interval(me.config.heartbeat);
            let mut known = BTreeSet::new();
            loop {
                tokio::select! {
                    () = cancel.cancelled() => return,
                    _ = ticker.tick() => {}
                }
                let now = describe();
                let member = Member {
                    instance_id: me.config.instance_id.clone(),
                    region: me.config.region.clone(),
                    enodes: now.enodes,
                    head: now.head,
                    peers: now.peers,
                    leader: matches!(*me.leadership.borrow(), Leadership::Leader { .. }),
                    last_seen_ms: 0,
                };
                if let Err(e) = me.membership.heartbeat(member.clone()).await {
                    tracing::warn!(target: "cluster", error = %e, "heartbeat failed");
                }
                let _ = me.events.publish(Event::Heartbeat(member)).await;
                if let Ok(live) = me.membership.live().await {
                    let now: BTreeSet<String> = live.into_iter().map(|m| m.instance_id).collect();
                    for joined in now.difference(&known) {
                        tracing::info!(target: "cluster", member = %joined, "member joined");
                    }
                    for left in known.difference(&now) {
                        tracing::info!(target: "cluster", member = %left, "member left");
                    }
                    metrics::gauge!("hypasis_cluster_members").set(now.len() as f64);
                    known = now;
                }
            }
        });
    }
}

/// What an instance says about itself in a heartbeat.
#[derive(Debug, Clone, Default)]
pub struct Announcement {
    /// Its enode URLs (the cluster's first).
    pub enodes: Vec<String>,
    /// Its served head.
    pub head: u64,
    /// Its connected peers.
    pub peers: usize,
}

/// Follower upkeep: picks up the head the leader writes (so every instance announces new heads
/// to its own peers), warms the hot tier with the blocks up to it, and retries the write backlog.
/// Runs at once on every head event and every `interval` (well under a block time) in case an
/// event was missed.
async fn follow_head(
    store: Arc<TieredStore>,
    heads: watch::Sender<Option<ChainHead>>,
    mut events: broadcast::Receiver<Envelope>,
    interval: Duration,
    cancel: CancellationToken,
) {
    let mut ticker = tokio::time::interval(interval);
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            _ = ticker.tick() => {}
            event = events.recv() => match event {
                Ok(Envelope { event: Event::Head { .. }, .. }) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Ok(_) => continue,
                Err(broadcast::error::RecvError::Closed) => return,
            },
        }
        if store.backlog_len() > 0 && store.flush().await.is_ok() {
            tracing::info!(target: "store::tiered", "shared store back: backlog written");
        }
        if let Ok(Some(head)) = store.head().await {
            let from = heads.borrow().map_or(0, |h| h.number + 1);
            if let Err(e) = hypasis_store::tiered::warm_to(&store, head, from).await {
                tracing::debug!(target: "store::tiered", error = %e, "warming the hot tier failed");
            }
            heads.send_if_modified(|current| {
                let newer = current.is_none_or(|c| head.number > c.number || (head.number == c.number && head.hash != c.hash));
                if newer {
                    *current = Some(head);
                    metrics::gauge!("hypasis_chain_head_block").set(head.number as f64);
                }
                newer
            });
        }
    }
}
