//! Cluster coordination through Redis.
//!
//! - [`election`]: a leader lease (`SET NX PX`, renewed by a compare-and-set script) and a
//!   fencing token (incremented on every win) that leader-only writes carry, so a stale leader's
//!   write is refused by Redis itself.
//! - [`membership`]: instance heartbeats with a TTL, and the list of live members.
//! - [`events`]: new heads, checkpoints, filled ranges and heartbeats on pub/sub.
//! - [`leader`]: work that runs only while leading ([`while_leader`]).
//! - [`service`]: all of it as one service ([`spawn`] → [`ClusterHandle`]).

pub mod election;
pub mod events;
pub mod leader;
pub mod membership;
pub mod operators;
pub mod service;
pub mod supervise;

pub use election::{Election, ElectionConfig, Leadership, wait_for_leadership};
pub use events::{Envelope, Event, Events};
pub use leader::{alone, while_leader};
pub use membership::{Member, Membership};
pub use operators::{Expect, OperatorsStore};
pub use service::{Announcement, ClusterConfig, ClusterError, ClusterHandle, spawn};
pub use supervise::{Backoff, supervise};

pub use hypasis_store::RedisTarget;

pub(crate) fn config_error(message: String) -> fred::prelude::Error {
    fred::prelude::Error::new(fred::error::ErrorKind::Config, message)
}

/// Connects a fred client for coordination (election, membership) with reconnects.
///
/// # Errors
/// When the URL is invalid or the first connection fails.
pub async fn connect(target: &RedisTarget) -> Result<fred::prelude::Client, fred::prelude::Error> {
    use fred::prelude::{Builder, ClientLike};
    let config = target.fred_config().map_err(|e| config_error(e.to_string()))?;
    let client = Builder::from_config(config)
        .with_performance_config(|p| p.default_command_timeout = std::time::Duration::from_secs(2))
        .set_policy(fred::types::config::ReconnectPolicy::new_exponential(0, 100, 2_000, 2))
        .build()?;
    client.init().await?;
    Ok(client)
}
