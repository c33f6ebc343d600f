//! Claims: a lease on a named piece of work so that two workers, on any instance, never fetch
//! the same blocks at once. Backfill claims its batches, read-through the range it fills.

use fred::prelude::{Client, KeysInterface, LuaInterface};
use parking_lot::Mutex;
use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

/// Releases a claim only if we still hold it.
const RELEASE: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"#;

/// Where claims live.
#[derive(Debug, Clone)]
pub enum Claims {
    /// One instance: claims live in memory.
    Memory(Arc<Mutex<HashMap<String, Instant>>>),
    /// A cluster: `SET hs:v1:{c<chain>}:claim:<name> <owner> NX PX <lease>`.
    Redis {
        /// Redis client.
        client: Client,
        /// Chain id (part of the key).
        chain_id: u64,
        /// Owner tag (instance id).
        owner: String,
    },
}

impl Claims {
    /// In-memory claims.
    pub fn memory() -> Self {
        Self::Memory(Arc::default())
    }

    /// The name of backfill batch `k`.
    pub fn batch(k: u64) -> String {
        k.to_string()
    }

    /// The name of a read-through filling the blocks just below `top`.
    pub fn read_through(top: u64) -> String {
        format!("rt:{top}")
    }

    fn key(chain_id: u64, name: &str) -> String {
        format!("hs:v1:{{c{chain_id}}}:claim:{name}")
    }

    /// Claims `name` for `lease`; false when someone else holds it (or Redis cannot say).
    pub async fn claim(&self, name: &str, lease: Duration) -> bool {
        match self {
            Self::Memory(map) => {
                let now = Instant::now();
                let mut map = map.lock();
                if map.get(name).is_some_and(|until| *until > now) {
                    return false;
                }
                map.insert(name.to_owned(), now + lease);
                true
            }
            Self::Redis { client, chain_id, owner } => {
                let set: Result<Option<String>, _> = client
                    .set(
                        Self::key(*chain_id, name),
                        owner.as_str(),
                        Some(fred::types::Expiration::PX(lease.as_millis() as i64)),
                        Some(fred::types::SetOptions::NX),
                        false,
                    )
                    .await;
                matches!(set, Ok(Some(_)))
            }
        }
    }

    /// Whether anyone holds `name` now (an unreachable Redis counts as held: wait, do not fetch).
    pub async fn is_claimed(&self, name: &str) -> bool {
        match self {
            Self::Memory(map) => map.lock().get(name).is_some_and(|until| *until > Instant::now()),
            Self::Redis { client, chain_id, .. } => {
                let exists: Result<i64, _> = client.exists(Self::key(*chain_id, name)).await;
                exists.map_or(true, |n| n > 0)
            }
        }
    }

    /// Releases `name` if we still hold it.
    pub async fn release(&self, name: &str) {
        match self {
            Self::Memory(map) => {
                map.lock().remove(name);
            }
            Self::Redis { client, chain_id, owner } => {
                let _: Result<i64, _> = client.eval(RELEASE, vec![Self::key(*chain_id, name)], vec![owner.clone()]).await;
            }
        }
    }
}
