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
