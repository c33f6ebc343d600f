//! Milestones and checkpoints from Heimdall, and the guard that keeps our advertised head
//! consistent with them.
//!
//! Before a Bor node syncs from a peer it asks the peer for the header at the latest milestone's
//! and checkpoint's end block and compares hashes: a missing header makes it skip us, a wrong
//! one gets us backed off, jailed, then dropped. So before the head moves past such a block,
//! the block must be in the store (fetched at once when it is not), and for a milestone its hash
//! must be the milestone's. A conflict stops the head where it is and raises
//! `hypasis_milestone_conflicts_total`: we never advertise a chain that contradicts Heimdall.

use crate::{
    context::{SyncContext, SyncError},
    validators::Validators,
};
use hypasis_store::Parts;
use hypasis_upstream::{Heimdall, HeimdallCheckpoint, Milestone};
use parking_lot::Mutex;
use serde::Serialize;
use std::{sync::Arc, time::Duration};
use tokio_util::sync::CancellationToken;

/// What Heimdall said last, and whether our chain agrees.
#[derive(Debug, Clone, Default, Serialize)]
pub struct GuardStatus {
    /// Latest milestone.
    pub milestone: Option<Milestone>,
    /// Latest checkpoint.
    pub checkpoint: Option<HeimdallCheckpoint>,
    /// Why the head is held back, when it is.
    pub conflict: Option<String>,
}

/// The milestone guard.
#[derive(Debug, Default)]
pub struct MilestoneGuard {
    state: Mutex<GuardStatus>,
}

impl MilestoneGuard {
    /// A snapshot for the API.
    pub fn status(&self) -> GuardStatus {
        self.state.lock().clone()
    }

    /// Records what Heimdall reported.
    pub fn update(&self, milestone: Option<Milestone>, checkpoint: Option<HeimdallCheckpoint>) {
        let mut state = self.state.lock();
        if milestone.is_some() {
            state.milestone = milestone;
        }
        if checkpoint.is_some() {
            state.checkpoint = checkpoint;
        }
    }

    /// Checks that the head may move to `head`: the milestone and checkpoint end blocks at or
    /// below it are stored (fetched now when missing) and the milestone's hash is ours.
    ///
    /// # Errors
    /// [`SyncError::MilestoneConflict`] on a conflict; upstream or store errors while fetching.
    pub async fn check(&self, ctx: &SyncContext, head: u64) -> Result<(), SyncError> {
        let GuardStatus { milestone, checkpoint, .. } = self.status();
        let mut ends: Vec<(u64, Option<alloy_primitives::B256>)> = Vec::new();
        if let Some(m) = milestone.filter(|m| m.end <= head) {
            ends.push((m.end, Some(m.hash)));
        }
        if let Some(c) = checkpoint.filter(|c| c.end <= head) {
            ends.push((c.end, None));
        }
        for (number, expected) in ends {
            let held = ctx.store.by_numbers(&[number], Parts::HEADER).await?.into_iter().next().flatten().map(|b| b.header.hash());
            let hash = match held {
                Some(hash) => hash,
                None => {
                    let fetched = ctx.fetcher.fetch(number, number).await?;
                    let hash = fetched.blocks[0].hash();
                    if expected.is_none_or(|e| e == hash) {
                        ctx.store(fetched.blocks).await?;
                        metrics::counter!("hypasis_milestone_blocks_fetched_total").increment(1);
                    }
                    hash
                }
            };
            if let Some(expected) = expected
                && expected != hash
            {
                let reason = format!("block {number} is {hash} here, but Heimdall's milestone says {expected}");
                if self.state.lock().conflict.replace(reason.clone()).is_none() {
                    metrics::counter!("hypasis_milestone_conflicts_total").increment(1);
                    tracing::error!(target: "sync::milestones", %reason, "milestone conflict: the head is held back");
                }
                metrics::gauge!("hypasis_milestone_conflict").set(1.0);
                return Err(SyncError::MilestoneConflict(reason));
            }
        }
        if self.state.lock().conflict.take().is_some() {
            metrics::gauge!("hypasis_milestone_conflict").set(0.0);
        }
        Ok(())
    }
}

/// Polls Heimdall every `poll` until `cancel`: milestone and checkpoint into `guard`, spans into
/// `validators` (when they come from Heimdall).
pub async fn run(
    heimdall: Heimdall,
    guard: Arc<MilestoneGuard>,
    validators: Option<Arc<Validators>>,
    poll: Duration,
    cancel: CancellationToken,
) {
    let mut ticker = tokio::time::interval(poll);
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let (milestone, checkpoint) = tokio::join!(heimdall.latest_milestone(), heimdall.latest_checkpoint());
        let milestone =
            milestone.map_err(|e| tracing::warn!(target: "sync::milestones", error = %e, "reading the milestone failed")).ok().flatten();
        let checkpoint =
            checkpoint.map_err(|e| tracing::warn!(target: "sync::milestones", error = %e, "reading the checkpoint failed")).ok().flatten();
        if let Some(m) = &milestone {
            metrics::gauge!("hypasis_milestone_latest_block").set(m.end as f64);
        }
        guard.update(milestone, checkpoint);
        if let Some(validators) = &validators {
            match heimdall.latest_span().await {
                Ok(Some(span)) => validators.add_span(span),
                Ok(None) => {}
                Err(e) => tracing::warn!(target: "sync::milestones", error = %e, "reading the span failed"),
            }
        }
    }
}
