//! Admission control: a connection first completes the RLPx handshake and Hello (so a refusal
//! can be sent encrypted, as `TooManyPeers`). Trusted peers are always admitted. Others take a
//! free slot; when there is none they wait, at most `admission_wait`, in a queue of at most
//! `admission_queue`; past either they are refused (`hypasis_p2p_admission_rejected_total`).

use crate::{metrics, server::Shared};
use hypasis_rlpx::NodeId;
use tokio::sync::OwnedSemaphorePermit;

/// A slot for the peer, or `None` when it must be refused. Trusted peers get a slot of their own.
pub(crate) async fn admit(shared: &Shared, remote: &NodeId) -> Option<Option<OwnedSemaphorePermit>> {
    if shared.config.trusted.contains(remote) {
        return Some(None);
    }
    if let Ok(slot) = shared.slots.clone().try_acquire_owned() {
        return Some(Some(slot));
    }
    let Ok(_queued) = shared.queue.clone().try_acquire_owned() else {
        metrics::rejected("queue_full");
        return None;
    };
    match tokio::time::timeout(shared.config.admission_wait, shared.slots.clone().acquire_owned()).await {
        Ok(Ok(slot)) => Some(Some(slot)),
        _ => {
            metrics::rejected("full");
            None
        }
    }
}
