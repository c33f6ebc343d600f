//! The hook through which snap/1 (state for snap-syncing nodes) reaches our listener. The
//! server offers `snap/1` in Hello only while the hook says it can serve, and hands every snap
//! request of a session that negotiated it to the hook, several at once per peer (each waits on
//! a backend), sending the answers as they complete. The node implements it over its pool of
//! state backends (`hypasis-snap`).

use alloy_primitives::Bytes;
use std::{future::Future, pin::Pin, sync::Arc};

/// Most snap requests of one peer answered at once; a further request waits for one of them.
pub const MAX_SNAP_IN_FLIGHT_PER_PEER: usize = 8;

/// The answer to one snap request: (message id relative to snap, payload), or the reason the
/// request breaks the protocol (the peer is disconnected).
pub type SnapAnswer = Pin<Box<dyn Future<Output = Result<(u8, Vec<u8>), String>> + Send>>;

/// Answers snap/1 requests.
pub trait SnapServer: Send + Sync + std::fmt::Debug + 'static {
    /// Whether snap/1 is offered to peers now (at least one backend is healthy).
    fn available(&self) -> bool;

    /// The answer to the snap message `id` (relative to snap) with payload `data`.
    fn answer(self: Arc<Self>, id: u8, data: Bytes) -> SnapAnswer;
}
