//! Sync from upstream JSON-RPC endpoints (`--upstream` / `POLYGON_RPC_n`): the leader follows the
//! tip and reads checkpoints from L1; every instance fills history (batches are claimed through
//! Redis, so instances share the work).

use hypasis_chain::Address;
use hypasis_cluster::{Leadership, RedisTarget};
use hypasis_syncer::{
    BackwardConfig, CheckpointConfig, Checkpoints, Claims, ForwardConfig, MilestoneGuard, SyncContext, SyncError, backward, checkpoints,
    forward, milestones,
};
use hypasis_upstream::{Heimdall, PoolConfig, UpstreamPool};
use std::{future::Future, sync::Arc, time::Duration};
use tokio::{sync::watch, task::JoinSet};
use tokio_util::sync::CancellationToken;
use url::Url;

/// How often Heimdall is polled for milestones.
const MILESTONE_POLL: Duration = Duration::from_secs(2);
/// Deadline of a Heimdall request.
const HEIMDALL_TIMEOUT: Duration = Duration::from_secs(10);
/// How often L1 is polled for checkpoints.
const CHECKPOINT_POLL: Duration = Duration::from_secs(10);

/// What the API needs from the upstream sync.
#[derive(Debug, Clone)]
pub struct UpstreamSync {
    /// The upstream endpoints (status).
    pub pool: Arc<UpstreamPool>,
    /// Checkpoints seen on L1.
    pub checkpoints: Checkpoints,
    /// Backward sync pause switch (`true` = paused).
    pub paused: watch::Sender<bool>,
    /// Whether L1 checkpoints are read.
    pub l1: bool,
    /// The milestone guard, when Heimdall is configured.
    pub milestones: Option<Arc<MilestoneGuard>>,
}

/// What to run.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Upstream URLs.
    pub upstreams: Vec<Url>,
    /// L1 endpoint for checkpoints.
    pub l1: Option<Url>,
    /// RootChain contract.
    pub rootchain: Address,
    /// Backward sync settings.
    pub backward: BackwardConfig,
    /// Forward sync settings.
    pub forward: ForwardConfig,
    /// Budget of each upstream endpoint, in calls per second.
    pub upstream_rps: u32,
    /// Most calls in one batch request to an upstream.
    pub upstream_max_batch: usize,
    /// Heimdall REST API.
    pub heimdall: Option<Url>,
    /// Redis (for batch claims), when clustered.
    pub redis: Option<(RedisTarget, u64, String)>,
}

/// Why the upstream sync could not start.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamSyncError {
    /// An HTTP client (upstream, L1 or Heimdall) could not be built.
    #[error(transparent)]
    Client(#[from] hypasis_upstream::ClientError),
    /// The Redis client for batch claims could not be built.
    #[error("redis (backfill claims): {0}; check --redis-url")]
    Redis(#[from] fred::prelude::Error),
}

/// Starts forward sync and checkpoints (while leading) and backward sync (always).
///
/// # Errors
/// When an HTTP client or the Redis claims client cannot be built.
pub async fn spawn(
    tasks: &mut JoinSet<()>,
    plan: Plan,
    ctx_for: impl FnOnce(Arc<UpstreamPool>, Option<Arc<MilestoneGuard>>) -> SyncContext,
    leadership: watch::Receiver<Leadership>,
    cancel: &CancellationToken,
) -> Result<UpstreamSync, UpstreamSyncError> {
    let pool_config = PoolConfig { requests_per_second: plan.upstream_rps, max_batch: plan.upstream_max_batch, ..PoolConfig::default() };
    let pool = Arc::new(UpstreamPool::new(&plan.upstreams, pool_config)?);
    let heimdall = plan.heimdall.as_ref().map(|url| Heimdall::new(url, HEIMDALL_TIMEOUT)).transpose()?;
    let milestones = heimdall.as_ref().map(|_| Arc::new(MilestoneGuard::default()));
    let ctx = ctx_for(pool.clone(), milestones.clone());
    if let (Some(heimdall), Some(guard)) = (heimdall, &milestones) {
        // Know the latest milestone (and span) before the head first moves.
        let (m, c) = tokio::join!(heimdall.latest_milestone(), heimdall.latest_checkpoint());
        guard.update(m.ok().flatten(), c.ok().flatten());
        if let Some(validators) = &ctx.validators
            && let Ok(Some(span)) = heimdall.latest_span().await
        {
            validators.add_span(span);
        }
        tasks.spawn(milestones::run(heimdall, guard.clone(), ctx.validators.clone(), MILESTONE_POLL, cancel.child_token()));
    }
    let checkpoints = Checkpoints::default();
    let (paused, paused_rx) = watch::channel(false);

    let forward_config = plan.forward.clone();
    let forward_ctx = ctx.clone();
    tasks.spawn(while_leader(leadership.clone(), cancel.child_token(), move |token, term| {
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

    let l1 = match plan.l1 {
        Some(url) => {
            let l1 = Arc::new(UpstreamPool::new(&[url], PoolConfig::default())?);
            let (ctx, checkpoints) = (ctx.clone(), checkpoints.clone());
            let config = CheckpointConfig { rootchain: plan.rootchain, poll: CHECKPOINT_POLL };
            tasks.spawn(while_leader(leadership, cancel.child_token(), move |_, term| {
                checkpoints::run(ctx.clone(), l1.clone(), config.clone(), checkpoints.clone(), term)
            }));
            true
        }
        None => false,
    };

    let claims = match plan.redis {
        Some((target, chain_id, owner)) => Claims::Redis { client: hypasis_cluster::connect(&target).await?, chain_id, owner },
        None => Claims::memory(),
    };
    tasks.spawn(backward::backfill(ctx, plan.backward, claims, paused_rx, cancel.child_token()));
    Ok(UpstreamSync { pool, checkpoints, paused, l1, milestones })
}

/// Runs `term(token, term_cancel)` for each leadership term; the term is cancelled when
/// leadership is lost or `cancel` fires.
async fn while_leader<F, Fut>(mut leadership: watch::Receiver<Leadership>, cancel: CancellationToken, term: F)
where
    F: Fn(u64, CancellationToken) -> Fut,
    Fut: Future<Output = ()>,
{
    loop {
        let Some(token) = hypasis_cluster::wait_for_leadership(&mut leadership, &cancel).await else { return };
        let term_cancel = cancel.child_token();
        let run = term(token, term_cancel.clone());
        tokio::pin!(run);
        loop {
            tokio::select! {
                () = &mut run => break,
                () = cancel.cancelled() => { term_cancel.cancel(); return; }
                changed = leadership.changed() => {
                    if changed.is_err() || *leadership.borrow() != (Leadership::Leader { token }) {
                        term_cancel.cancel();
                        (&mut run).await;
                        break;
                    }
                }
            }
        }
        if cancel.is_cancelled() {
            return;
        }
        // A term that ended by itself (an error) is retried after a pause.
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}
