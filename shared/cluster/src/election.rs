//! Leader election with a lease and a fencing token.
//!
//! Keys (same hash tag, so the scripts work on Redis Cluster):
//! `hs:v1:{c<chain>}:leader` holds the leader's instance id with a TTL (the lease);
//! `hs:v1:{c<chain>}:epoch` is the fencing token, incremented on every new win.
//!
//! A leader renews its lease every `ttl / 3`. It considers itself leader only until
//! `last successful renewal + ttl - safety margin`, measured on its own clock from *before* the
//! renewal was sent, so it stops acting as leader before Redis can hand the lease to another
//! instance, even when it cannot reach Redis at all.

use crate::{Envelope, Event, Events};
use fred::{
    prelude::{Client, Error as FredError, LuaInterface},
    types::Value,
};
use std::time::{Duration, Instant};
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;

/// Acquire or renew: returns the fencing token when we hold the lease, else 0.
const ACQUIRE: &str = r#"
local holder = redis.call('GET', KEYS[1])
if holder == false then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return redis.call('INCR', KEYS[2])
elseif holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return tonumber(redis.call('GET', KEYS[2]) or '0')
end
return 0
"#;

/// Releases the lease if we hold it.
const RELEASE: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"#;

/// Election settings.
#[derive(Debug, Clone)]
pub struct ElectionConfig {
    /// Chain id (part of the keys).
    pub chain_id: u64,
    /// Our instance id.
    pub instance_id: String,
    /// Lease length.
    pub ttl: Duration,
}

/// Whether we lead, and with which fencing token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leadership {
    /// Another instance leads (or nobody can be reached).
    Follower,
    /// We lead; every leader-only write carries this token.
    Leader {
        /// The fencing token of our term.
        token: u64,
    },
}

/// The election loop's handle.
#[derive(Debug, Clone)]
pub struct Election {
    config: ElectionConfig,
    client: Client,
}

impl Election {
    /// An election over `client`.
    pub fn new(config: ElectionConfig, client: Client) -> Self {
        Self { config, client }
    }

    /// Key of the lease.
    pub fn leader_key(&self) -> String {
        format!("hs:v1:{{c{}}}:leader", self.config.chain_id)
    }

    /// Key of the fencing token.
    pub fn epoch_key(&self) -> String {
        format!("hs:v1:{{c{}}}:epoch", self.config.chain_id)
    }

    /// One acquire-or-renew round: the token when we hold the lease.
    ///
    /// # Errors
    /// When Redis cannot be reached.
    pub async fn try_acquire(&self) -> Result<Option<u64>, FredError> {
        let ttl = self.config.ttl.as_millis().to_string();
        let token: i64 =
            self.client.eval(ACQUIRE, vec![self.leader_key(), self.epoch_key()], vec![self.config.instance_id.clone(), ttl]).await?;
        Ok(u64::try_from(token).ok().filter(|t| *t > 0))
    }

    /// The current leader's instance id.
    ///
    /// # Errors
    /// When Redis cannot be reached.
    pub async fn leader(&self) -> Result<Option<String>, FredError> {
        let v: Value = fred::prelude::KeysInterface::get(&self.client, self.leader_key()).await?;
        Ok(v.as_string())
    }

    /// Runs the election until `cancel`, publishing our leadership. A leader that cannot renew
    /// steps down when its last renewal stops covering it, before Redis can give the lease away.
    /// On cancel a held lease is released and, with `events`, [`Event::LeaderReleased`] is
    /// published; hearing that event from another instance makes us try at once instead of at
    /// the next tick, so a graceful stop hands over in a round trip.
    pub async fn run(self, leadership: watch::Sender<Leadership>, events: Option<Events>, cancel: CancellationToken) {
        let mut heard = events.as_ref().map(Events::subscribe);
        let ttl = self.config.ttl;
        let margin = ttl / 5;
        let mut valid_until: Option<Instant> = None;
        let mut interval = tokio::time::interval(ttl / 3);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let step_down = async {
                match valid_until {
                    Some(until) => tokio::time::sleep_until(until.into()).await,
                    None => std::future::pending().await,
                }
            };
            let released = async {
                match heard.as_mut() {
                    Some(heard) => released_elsewhere(heard, &self.config.instance_id).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = cancel.cancelled() => break,
                () = released => {
                    metrics::counter!("hypasis_cluster_lease_released_heard_total").increment(1);
                }
                () = step_down => {
                    valid_until = None;
                    self.publish(&leadership, Leadership::Follower);
                    continue;
                }
                _ = interval.tick() => {}
            }
            let sent = Instant::now();
            let budget = valid_until.map_or(ttl / 3, |until| until.saturating_duration_since(sent).min(ttl / 3));
            let state = match tokio::time::timeout(budget, self.try_acquire()).await {
                Ok(Ok(Some(token))) => {
                    valid_until = Some(sent + ttl - margin);
                    Leadership::Leader { token }
                }
                Ok(Ok(None)) => {
                    valid_until = None;
                    Leadership::Follower
                }
                // Unreachable: keep leading only while the last renewal still covers us.
                Ok(Err(_)) | Err(_) => match *leadership.borrow() {
                    Leadership::Leader { token } if valid_until.is_some_and(|u| Instant::now() < u) => Leadership::Leader { token },
                    _ => {
                        valid_until = None;
                        Leadership::Follower
                    }
                },
            };
            self.publish(&leadership, state);
        }
        // Leader-only work is told to stop, then the lease goes. Not waited for: a write it still
        // makes after a new leader won is either fenced (the head: the new term's token is
        // higher) or verified chain data (blocks, a checkpoint's eviction), the same any leader
        // writes.
        let held = *leadership.borrow();
        leadership.send_replace(Leadership::Follower);
        if let Leadership::Leader { token } = held {
            let released: Result<i64, _> = self.client.eval(RELEASE, vec![self.leader_key()], vec![self.config.instance_id.clone()]).await;
            if matches!(released, Ok(1)) {
                tracing::info!(target: "cluster::election", instance = %self.config.instance_id, token, "lease released");
                if let Some(events) = &events {
                    let _ = events.publish(Event::LeaderReleased { token }).await;
                }
            }
        }
    }

    fn publish(&self, leadership: &watch::Sender<Leadership>, state: Leadership) {
        if *leadership.borrow() != state {
            tracing::info!(target: "cluster::election", instance = %self.config.instance_id, ?state, "leadership changed");
            metrics::counter!("hypasis_cluster_leadership_changes_total").increment(1);
        }
        metrics::gauge!("hypasis_cluster_is_leader").set(f64::from(u8::from(matches!(state, Leadership::Leader { .. }))));
        leadership.send_replace(state);
    }
}

/// Resolves when another instance says it released the lease (a lagged receiver counts: the
/// event may be among the skipped ones, and a spare acquire round costs one script call).
async fn released_elsewhere(heard: &mut broadcast::Receiver<Envelope>, us: &str) {
    loop {
        match heard.recv().await {
            Ok(Envelope { from, event: Event::LeaderReleased { .. } }) if from != us => return,
            Ok(_) => {}
            Err(broadcast::error::RecvError::Lagged(_)) => return,
            Err(broadcast::error::RecvError::Closed) => std::future::pending().await,
        }
    }
}

/// Waits until `leadership` says we lead and returns the term's fencing token; `None` when
/// `cancel` fires or the sender is gone.
pub async fn wait_for_leadership(leadership: &mut watch::Receiver<Leadership>, cancel: &CancellationToken) -> Option<u64> {
    loop {
        if let Leadership::Leader { token } = *leadership.borrow_and_update() {
            return Some(token);
        }
        tokio::select! {
            () = cancel.cancelled() => return None,
            changed = leadership.changed() => if changed.is_err() { return None },
        }
    }
}
