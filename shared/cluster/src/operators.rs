//! The operators registry shared by every instance: one Redis hash
//! `hs:v1:{c<chain>}:operators` with `doc` (the registry as JSON, opaque here) and `version`
//! (raised on every write). Writes are compare-and-set on the version, so two admins editing at
//! once cannot lose each other's change; the writer then publishes [`crate::Event::Operators`]
//! and every instance re-reads the hash (and also polls the version, since pub/sub may drop).

use fred::prelude::{Client, Error as FredError, HashesInterface, LuaInterface};

/// Writes `doc` if the version is still `ARGV[1]` (`*`: whatever it is); returns the new
/// version, or -1 when another write came first.
const PUT: &str = r#"
local v = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
if ARGV[1] ~= '*' and tonumber(ARGV[1]) ~= v then return -1 end
redis.call('HSET', KEYS[1], 'version', v + 1, 'doc', ARGV[2])
return v + 1
"#;

/// The shared registry document.
#[derive(Debug, Clone)]
pub struct OperatorsStore {
    client: Client,
    key: String,
}

/// Which version a write expects to replace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Only if none is stored yet (seeding from a file at start).
    Absent,
    /// Only if the stored one is still this version (an edit of what was read).
    Version(u64),
    /// Whatever is stored (a file reloaded on SIGHUP replaces the registry).
    Any,
}

impl OperatorsStore {
    /// The registry of chain `chain_id` on `client`.
    pub fn new(client: Client, chain_id: u64) -> Self {
        Self { client, key: format!("hs:v1:{{c{chain_id}}}:operators") }
    }

    /// The stored document and its version, if any.
    ///
    /// # Errors
    /// When Redis cannot be reached.
    pub async fn get(&self) -> Result<Option<(u64, String)>, FredError> {
        let (version, doc): (Option<u64>, Option<String>) = self.client.hmget(&self.key, vec!["version", "doc"]).await?;
        Ok(version.zip(doc))
    }

    /// The stored version (0: none), a cheap poll.
    ///
    /// # Errors
    /// When Redis cannot be reached.
    pub async fn version(&self) -> Result<u64, FredError> {
        let version: Option<u64> = self.client.hget(&self.key, "version").await?;
        Ok(version.unwrap_or(0))
    }

    /// Stores `doc` if the stored version is as `expect` says; the new version, or `None` when
    /// it was not (someone else wrote first: read again and retry).
    ///
    /// # Errors
    /// When Redis cannot be reached.
    pub async fn put(&self, expect: Expect, doc: &str) -> Result<Option<u64>, FredError> {
        let expected = match expect {
            Expect::Absent => "0".to_owned(),
            Expect::Version(v) => v.to_string(),
            Expect::Any => "*".to_owned(),
        };
        let version: i64 = self.client.eval(PUT, vec![self.key.clone()], vec![expected, doc.to_owned()]).await?;
        Ok(u64::try_from(version).ok())
    }
}
