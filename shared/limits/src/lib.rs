//! Fair use for a service shared by many node operators: one greedy or broken client must not
//! starve the others.
//!
//! - [`registry`]: operators (name, hashed API keys, node ids, limits or a tier, trusted), read
//!   from a YAML file; unknown clients are the `anonymous` operator, limited per IP address.
//! - [`buckets`]: the token buckets (governor, GCRA): one per operator shared by its devp2p and
//!   HTTP requests, one per anonymous IP, one global per instance; each instance enforces its
//!   share (quota ÷ live instances) so an operator spread over the cluster gets its quota once.

pub mod buckets;
pub mod registry;
pub mod stats;

pub use buckets::{ANONYMOUS, Client, FairUse, PeerPlace, Protocol, Verdict};
pub use registry::{Limits, Operator, OperatorSpec, Registry, RegistryDoc, RegistryError};
pub use stats::{OperatorStats, ProtocolStats};
