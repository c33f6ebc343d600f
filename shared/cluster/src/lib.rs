//! Cluster coordination through Redis.
//!
//! - [`election`]: a leader lease (`SET NX PX`, renewed by a compare-and-set script) and a
//!   fencing token (incremented on every win) that leader-only writes carry, so a stale leader's
//!   write is refused by Redis itself.
//! - [`membership`]: instance heartbeats with a TTL, and the list of live members.

pub mod election;
pub mod membership;

pub use election::{Election, ElectionConfig, Leadership};
pub use membership::{Member, Membership};

/// Connects a fred client for coordination (election, membership) with reconnects.
///
/// # Errors
/// When the URL is invalid or the first connection fails.
pub async fn connect(url: &str, password: Option<String>) -> Result<fred::prelude::Client, fred::prelude::Error> {
    use fred::prelude::{Builder, ClientLike, Config};
    let mut config = Config::from_url(url)?;
    if password.is_some() {
        config.password = password;
    }
    let client = Builder::from_config(config)
        .with_performance_config(|p| p.default_command_timeout = std::time::Duration::from_secs(2))
        .set_policy(fred::types::config::ReconnectPolicy::new_exponential(0, 100, 2_000, 2))
        .build()?;
    client.init().await?;
    Ok(client)
}
