//! The history tier: sealed segments in object storage behind the block store (memory → Redis →
//! segments), and the sealer that fills it and trims Redis.
//!
//! Each chain's segments live under their own prefix of the bucket, `<chain id>-<genesis hash>`,
//! so one bucket can hold several networks and a devnet never reads another devnet's history.

use super::NodeError;
use crate::config::Settings;
use hypasis_chain::ChainSpec;
use hypasis_cluster::{ClusterHandle, Leadership};
use hypasis_history::{Bucket, HistoryStore, Sealer, SealerConfig, SegmentCache, Segments};
use hypasis_store::{BlockStore, ChainHead};
use hypasis_syncer::SyncHandle;
use std::sync::Arc;
use tokio::{sync::watch, task::JoinSet};
use tokio_util::sync::CancellationToken;

/// Without checkpoints (the devnet, an imported chain), blocks this far below the head are
/// sealed: those sources do not reorganise, and the margin keeps the tip in the hot tiers.
const LOCAL_SEAL_DEPTH: u64 = 64;

/// The prefix of `spec`'s segments in the bucket.
fn scope(spec: &ChainSpec) -> String {
    match &spec.genesis_header {
        Some(genesis) => format!("{}-{:#x}", spec.chain_id, genesis.hash()),
        None => spec.chain_id.to_string(),
    }
}

/// The store to serve from, and the history tier in it when on.
pub(super) type Wrapped = (Arc<dyn BlockStore>, Option<Arc<HistoryStore>>);

/// `store` with the history tier behind it, when configured.
///
/// # Errors
/// [`NodeError::History`] when the bucket or the cache folder cannot be opened.
pub(super) fn wrap(settings: &Settings, spec: &ChainSpec, store: Arc<dyn BlockStore>) -> Result<Wrapped, NodeError> {
    let Some(history) = &settings.history else { return Ok((store, None)) };
    let scope = scope(spec);
    let bucket = Bucket::open(&history.url).map_err(|e| NodeError::History(e.to_string()))?.scoped(&scope);
    let cache = SegmentCache::open(&history.cache_dir.join(&scope), history.cache_bytes).map_err(|e| NodeError::History(e.to_string()))?;
    let segments = Arc::new(Segments::new(bucket, Arc::new(cache), hypasis_history::DEFAULT_OPEN_INDEXES));
    let history = Arc::new(HistoryStore::new(store, segments));
    Ok((history.clone(), Some(history)))
}

/// Where the sealing bound comes from.
pub(super) enum Bound {
    /// The highest block covered by a checkpoint verified against L1.
    Checkpoints(SyncHandle),
    /// The head minus [`LOCAL_SEAL_DEPTH`] (sources that do not reorganise).
    Head(watch::Receiver<Option<ChainHead>>),
}

impl Bound {
    fn get(&self) -> Option<u64> {
        match self {
            Self::Checkpoints(sync) => sync.finalized(),
            Self::Head(heads) => heads.borrow().and_then(|h| h.number.checked_sub(LOCAL_SEAL_DEPTH)),
        }
    }
}

/// What the sealer runs on.
pub(super) struct SealerDeps {
    /// The history store.
    pub(super) store: Arc<HistoryStore>,
    /// The cluster, for claims in Redis.
    pub(super) cluster: Option<ClusterHandle>,
    /// Only the leader seals.
    pub(super) leadership: watch::Receiver<Leadership>,
    /// How far sealing may go.
    pub(super) bound: Bound,
}

/// Starts the sealer (the leader seals; every instance reloads the manifest and trims its reads).
///
/// # Errors
/// When the claims' Redis connection cannot be made.
pub(super) async fn spawn(
    settings: &Settings,
    spec: &ChainSpec,
    deps: SealerDeps,
    tasks: &mut JoinSet<()>,
    cancel: &CancellationToken,
) -> Result<(), NodeError> {
    let Some(history) = &settings.history else { return Ok(()) };
    let claims = super::sources::claims(settings, spec, deps.cluster.as_ref()).await?;
    let config = SealerConfig {
        span: history.segment_blocks,
        hot_window: history.hot_window,
        instance: settings.instance_id.clone(),
        ..SealerConfig::default()
    };
    tracing::info!(
        bucket = deps.store.segments().bucket().url(),
        segment_blocks = config.span,
        hot_window = config.hot_window,
        "history tier on"
    );
    let sealer = Sealer::new(deps.store, claims, config);
    let leadership = deps.leadership;
    let is_leader = move || matches!(*leadership.borrow(), Leadership::Leader { .. });
    let bound = deps.bound;
    tasks.spawn(sealer.run(is_leader, move || bound.get(), cancel.child_token()));
    Ok(())
}
