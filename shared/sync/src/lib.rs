//! Sync: filling the block store from upstream JSON-RPC endpoints, verified.
//!
//! - [`forward`]: the leader follows the upstream tip: new blocks are fetched, checked against
//!   the stored head (hash link) and Bor's seal rules, stored, and the head moves
//!   with the leader's fencing token. A tip that does not link walks back to the fork point.
//! - [`backward`]: history between the retention floor and the head is filled from the gap
//!   tracker, highest first, in fixed batches claimed with a lease so instances never fetch the
//!   same batch; each batch must hash-link to the block above it before it is stored.
//! - [`read_through`]: a block a client asks for that is not cached is fetched now, through the
//!   same checks as backfill; [`claims`]: leases on work, shared by the cluster.
//! - [`checkpoints`]: Polygon checkpoints read from the RootChain contract on L1; a held range is
//!   verified by recomputing its root, and a mismatch evicts it.
//! - [`milestones`]: Heimdall milestones and checkpoints; the head never moves past a
//!   milestone's block unless that block is stored with the milestone's hash.
//! - [`snapshots`]: Bor's seal check along the chain from an anchor (signer, difficulty, timing,
//!   sprint-end lists); [`anchor`]: a genesis file's first validator set, from its contract.
//! - [`validators`]: who may seal a block by Heimdall's spans.
//! - [`progress`]: lowest/highest/percentage/rate/ETA for `status.sync`.
//! - [`context`]: what every sync task shares; [`head`]: the one place the served head moves.
//! - [`service`]: all of it as one service ([`spawn`] → [`SyncHandle`]).

pub mod anchor;
pub mod backward;
pub mod checkpoints;
pub mod claims;
pub mod context;
pub mod forward;
pub mod head;
pub mod milestones;
pub mod progress;
pub mod read_through;
pub mod service;
pub mod snapshots;
pub mod validators;

pub use backward::BackwardConfig;
pub use checkpoints::{CheckpointConfig, Checkpoints};
pub use claims::Claims;
pub use context::{SyncContext, SyncError, Unverified};
pub use forward::ForwardConfig;
pub use head::{HeadError, HeadWriter};
pub use milestones::{GuardStatus, MilestoneGuard};
pub use progress::{SyncProgress, SyncStatus};
pub use read_through::{ReadError, ReadThrough, ReadThroughConfig};
pub use service::{CheckpointReport, StartError, SyncConfig, SyncDeps, SyncHandle, spawn};
pub use snapshots::{AnchorInfo, SnapshotError, SnapshotTracker};
pub use validators::Validators;
