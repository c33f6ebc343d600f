//! The upstream sync as a service: [`spawn`] starts forward sync and L1 checkpoints (while this
//! instance leads), Heimdall milestones (when configured) and backward sync (always; batches are
//! claimed so instances share the work), and returns a [`SyncHandle`].

use crate::{
    BackwardConfig, CheckpointConfig, Checkpoints, Claims, ForwardConfig, GuardStatus, MilestoneGuard, SyncContext, SyncError, Validators,
    backward, checkpoints,
    checkpoints::Checkpoint,
    forward,
    head::HeadWriter,
    milestones,
    read_through::{ReadThrough, ReadThroughConfig},
};
use hypasis_chain::{Address, BorSpec};
use hypasis_cluster::{Leadership, supervise, while_leader};
use hypasis_upstream::{BlockFetcher, ClientError, EndpointStatus, Heimdall, PoolConfig, UpstreamPool};
use serde::Serialize;
use std::{sync::Arc, time::Duration};
use tokio::{sync::watch, task::JoinSet};
use tokio_util::sync::CancellationToken;
use url::Url;

/// How often Heimdall is polled for milestones.
pub const MILESTONE_POLL: Duration = Duration::from_secs(2);
/// Deadline of a Heimdall request.
pub const HEIMDALL_TIMEOUT: Duration = Duration::from_secs(10);
/// How often L1 is polled for checkpoints.
pub const CHECKPOINT_POLL: Duration = Duration::from_secs(10);

/// What to sync from, and how.
#[derive(Debug, Clone)]
pub struct SyncConfig {
    /// Upstream JSON-RPC endpoints in priority order.
    pub upstreams: Vec<Url>,
    /// The upstream pool's budgets and batch limit.
    pub pool: PoolConfig,
    /// Ethereum L1 endpoint for checkpoints.
    pub l1: Option<Url>,
    /// The RootChain contract on L1.
    pub rootchain: Address,
    /// Heimdall REST API.
    pub heimdall: Option<Url>,
    /// Forward sync settings.
    pub forward: ForwardConfig,
    /// Backward sync settings.
    pub backward: BackwardConfig,
    /// Most blocks fetched to answer one cache miss (0: no read-through).
    pub read_through_max_blocks: u64,
}

/// What the sync works with.
#[derive(Debug)]
pub struct SyncDeps {
    /// Moves the served head (and holds the store).
    pub head: HeadWriter,
    /// Bor rules of the chain (receipts of state syncs), when it is a Bor chain.
    pub bor: Option<BorSpec>,
    /// Who may seal blocks by Heimdall's spans (filled from Heimdall), when configured.
    pub validators: Option<Arc<Validators>>,
    /// Bor's snapshot rules from an anchor, when one is known.
    pub snapshots: Option<Arc<crate::SnapshotTracker>>,
    /// Whether this instance leads (forward sync and checkpoints run only then).
    pub leadership: watch::Receiver<Leadership>,
    /// Backward-sync batch claims (in Redis when clustered).
    pub claims: Claims,
}

/// Why the sync could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// An HTTP client (upstream, L1 or Heimdall) could not be built.
    #[error(transparent)]
    Client(#[from] ClientError),
}

/// What the rest of the node asks of the sync.
#[derive(Debug, Clone)]
pub struct SyncHandle {
    pool: Arc<UpstreamPool>,
    checkpoints: Checkpoints,
    paused: watch::Sender<bool>,
    l1: bool,
    milestones: Option<Arc<MilestoneGuard>>,
    read_through: Option<Arc<ReadThrough>>,
    backfill: CancellationToken,
}

/// What `/api/v1/checkpoints` shows.
#[derive(Debug, Clone, Serialize)]
pub struct CheckpointReport {
    /// Where checkpoints come from.
    pub source: &'static str,
    /// Highest block covered by a verified checkpoint.
    pub verified_through: Option<u64>,
    /// Checkpoints whose held range matched the root.
    pub verified: usize,
    /// Checkpoints whose range is not fully held (or was evicted and is being refilled).
    pub pending: usize,
    /// Ranges evicted for failing their root.
    pub evictions: u64,
    /// The newest checkpoints, newest first.
    pub latest: Vec<Checkpoint>,
    /// What Heimdall said last, when configured.
    pub heimdall: Option<GuardStatus>,
}

/// Starts the sync tasks in `tasks`; they stop when `cancel` fires.
///
/// # Errors
/// [`StartError`] when an HTTP client cannot be built.
pub async fn spawn(
    config: SyncConfig,
    deps: SyncDeps,
    tasks: &mut JoinSet<()>,
    cancel: &CancellationToken,
) -> Result<SyncHandle, StartError> {
    let pool = Arc::new(UpstreamPool::new(&config.upstreams, config.pool.clone())?);
    let heimdall = config.heimdall.as_ref().map(|url| Heimdall::new(url, HEIMDALL_TIMEOUT)).transpose()?;
    let milestones = heimdall.as_ref().map(|_| Arc::new(MilestoneGuard::default()));
    let ctx = SyncContext::new(BlockFetcher::new(pool.clone(), deps.bor), deps.head)
        .with_validators(deps.validators)
        .with_snapshots(deps.snapshots)
        .with_milestones(milestones.clone());
    if let (Some(heimdall), Some(guard)) = (heimdall, &milestones) {
        // Know the latest milestone (and span) before the head first moves.
        let (m, c) = tokio::join!(heimdall.latest_milestone(), heimdall.latest_checkpoint());
        guard.update(m.ok().flatten(), c.ok().flatten());
        if let Some(validators) = &ctx.validators
            && let Ok(Some(span)) = heimdall.latest_span().await
        {
            validators.add_span(span);
        }
        let (guard, validators, stop) = (guard.clone(), ctx.validators.clone(), cancel.child_token());
        tasks.spawn(supervise("milestones", cancel.child_token(), move || {
            milestones::run(heimdall.clone(), guard.clone(), validators.clone(), MILESTONE_POLL, stop.clone())
        }));
    }

    let (forward_ctx, forward_config) = (ctx.clone(), config.forward);
    tasks.spawn(while_leader("forward_sync", deps.leadership.clone(), cancel.child_token(), move |token, term| {
        let (ctx, config) = (forward_ctx.clone(), forward_config.clone());
        async move {
            tracing::info!(target: "sync::forward", token, "leading: following the upstream tip");
            match forward::follow_tip(&ctx, &config, token, &term).await {
                Err(SyncError::Fenced) => tracing::warn!(target: "sync::forward", "fenced by a newer leader; stopping"),
                Err(e) => tracing::error!(target: "sync::forward", error = %e, "forward sync stopped"),
                Ok(()) => {}
            }
        }
    }));

    let checkpoints = Checkpoints::default();
    let l1 = config.l1.is_some();
    if let Some(url) = config.l1 {
        let l1 = Arc::new(UpstreamPool::new(&[url], PoolConfig::default())?);
        let (ctx, checkpoints) = (ctx.clone(), checkpoints.clone());
        let checkpoint_config = CheckpointConfig { rootchain: config.rootchain, poll: CHECKPOINT_POLL };
        tasks.spawn(while_leader("checkpoints", deps.leadership, cancel.child_token(), move |_, term| {
            checkpoints::run(ctx.clone(), l1.clone(), checkpoint_config.clone(), checkpoints.clone(), term)
        }));
    }

    let read_through = (config.read_through_max_blocks > 0).then(|| {
        let rt_config = ReadThroughConfig { max_blocks: config.read_through_max_blocks, retention: config.backward.clone() };
        Arc::new(ReadThrough::new(ctx.clone(), deps.claims.clone(), rt_config))
    });
    let (paused, paused_rx) = watch::channel(false);
    let backfill = cancel.child_token();
    let stop = backward::Stop { stop: backfill.clone(), now: cancel.child_token() };
    let (backward, claims) = (config.backward, deps.claims);
    tasks.spawn(supervise("backfill", backfill.clone(), move || {
        backward::backfill(ctx.clone(), backward.clone(), claims.clone(), paused_rx.clone(), stop.clone())
    }));
    Ok(SyncHandle { pool, checkpoints, paused, l1, milestones, read_through, backfill })
}

impl SyncHandle {
    /// Stops the backfill for good (a graceful stop): no new batch is claimed; a batch in flight
    /// is finished and stored within the drain, then its claim released, so nothing is fetched
    /// twice (at the final cancel an unfinished one is dropped and its claim freed at once).
    pub fn stop_backfill(&self) {
        self.backfill.cancel();
    }

    /// Each upstream's state (health, budget, batch limit, capabilities).
    pub fn upstreams(&self) -> Vec<EndpointStatus> {
        self.pool.endpoints().iter().map(|e| e.status()).collect()
    }

    /// Pauses (`true`) or resumes backward sync; forward sync always follows the tip.
    pub fn set_paused(&self, paused: bool) {
        if self.paused.send_replace(paused) != paused {
            tracing::info!(target: "sync::backward", paused, "backward sync {}", if paused { "paused" } else { "resumed" });
        }
    }

    /// Whether backward sync is paused.
    pub fn paused(&self) -> bool {
        *self.paused.borrow()
    }

    /// Fills cache misses from the upstreams (`None` when turned off).
    pub fn read_through(&self) -> Option<Arc<ReadThrough>> {
        self.read_through.clone()
    }

    /// The end block of Heimdall's latest milestone, when Heimdall is configured.
    pub fn latest_milestone(&self) -> Option<u64> {
        self.milestones.as_ref().and_then(|g| g.status().milestone).map(|m| m.end)
    }

    /// The highest block covered by a checkpoint verified against L1.
    pub fn finalized(&self) -> Option<u64> {
        self.checkpoints.verified_through()
    }

    /// The checkpoint state, with the newest `listed` checkpoints.
    pub fn checkpoints(&self, listed: usize) -> CheckpointReport {
        let (verified, pending, evictions) = self.checkpoints.counts();
        CheckpointReport {
            source: if self.l1 { "rootchain" } else { "none (set --eth-l1-rpc-url)" },
            verified_through: self.checkpoints.verified_through(),
            verified,
            pending,
            evictions,
            latest: self.checkpoints.latest(listed),
            heimdall: self.milestones.as_ref().map(|g| g.status()),
        }
    }
}
