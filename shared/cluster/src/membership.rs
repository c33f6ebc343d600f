//! Membership: every instance writes a heartbeat (a JSON record with a TTL) and stamps itself in
//! a sorted set by time; live members are those stamped within the TTL.
//!
//! Keys: `hs:v1:{c<chain>}:member:<id>` (JSON, expires) and `hs:v1:{c<chain>}:members` (sorted
//! set, score = last heartbeat in ms).

use fred::prelude::{Client, Error as FredError, KeysInterface, SortedSetsInterface};
use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What an instance announces about itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Member {
    /// Instance id.
    pub instance_id: String,
    /// Region label.
    pub region: String,
    /// enode URLs (cluster one first).
    pub enodes: Vec<String>,
    /// Its served head.
    pub head: u64,
    /// Connected peers.
    pub peers: usize,
    /// Whether it leads.
    pub leader: bool,
    /// Heartbeat time, ms since the UNIX epoch.
    pub last_seen_ms: u64,
}

/// Heartbeats and the member list.
#[derive(Debug, Clone)]
pub struct Membership {
    client: Client,
    chain_id: u64,
    ttl: Duration,
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

impl Membership {
    /// Membership for `chain_id`; a member is live for `ttl` after its last heartbeat.
    pub fn new(client: Client, chain_id: u64, ttl: Duration) -> Self {
        Self { client, chain_id, ttl }
    }

    fn member_key(&self, id: &str) -> String {
        format!("hs:v1:{{c{}}}:member:{id}", self.chain_id)
    }

    fn set_key(&self) -> String {
        format!("hs:v1:{{c{}}}:members", self.chain_id)
    }

    /// Publishes a heartbeat.
    ///
    /// # Errors
    /// When Redis cannot be reached.
    pub async fn heartbeat(&self, mut member: Member) -> Result<(), FredError> {
        member.last_seen_ms = now_ms();
        let json = serde_json::to_string(&member).expect("a member serialises");
        let ttl = fred::types::Expiration::PX(self.ttl.as_millis() as i64);
        let _: () = self.client.set(self.member_key(&member.instance_id), json, Some(ttl), None, false).await?;
        let _: () = self.client.zadd(self.set_key(), None, None, false, false, (member.last_seen_ms as f64, member.instance_id)).await?;
        Ok(())
    }

    /// Members heard from within the TTL, oldest heartbeat first. Expired entries are pruned.
    ///
    /// # Errors
    /// When Redis cannot be reached.
    pub async fn live(&self) -> Result<Vec<Member>, FredError> {
        let cutoff = now_ms().saturating_sub(self.ttl.as_millis() as u64) as f64;
        let _: () = self.client.zremrangebyscore(self.set_key(), f64::NEG_INFINITY, cutoff).await?;
        let ids: Vec<String> = self.client.zrangebyscore(self.set_key(), cutoff, f64::INFINITY, false, None).await?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let json: Option<String> = self.client.get(self.member_key(&id)).await?;
            if let Some(member) = json.and_then(|j| serde_json::from_str::<Member>(&j).ok()) {
                out.push(member);
            }
        }
        Ok(out)
    }
}
