//! Where blocks come from: the embedded devnet, an imported chain file, or the upstream sync.

use super::{NodeError, cluster::ClusterParts};
use crate::{config::Settings, devnet_source, upstream_sync};
use hypasis_chain::{Block, ChainSpec};
use hypasis_cluster::Leadership;
use hypasis_devnet::{Devnet, DevnetConfig};
use hypasis_store::{BlockStore, ChainHead};
use hypasis_syncer::{BackwardConfig, ForwardConfig, SyncContext, SyncProgress, Validators};
use std::sync::Arc;
use tokio::{sync::watch, task::JoinSet};
use tokio_util::sync::CancellationToken;

/// Blocks kept free below the memory cache's capacity for the tip to move on, when the bounded
/// memory store is the whole store.
const TIP_ROOM: u64 = 1_024;
/// Blocks inserted per store call while importing.
const IMPORT_BATCH: usize = 1_000;

/// Alone, the store is the bounded memory store: backfill fills only what it keeps (with
/// [`TIP_ROOM`] for the tip). `None` when Redis keeps everything.
pub(super) fn memory_window(settings: &Settings) -> Option<u64> {
    settings.redis_url.is_none().then(|| (settings.cache.max_blocks as u64).saturating_sub(TIP_ROOM).max(1))
}

/// What every source needs.
pub(super) struct SourceDeps {
    pub(super) spec: ChainSpec,
    pub(super) devnet: Option<DevnetConfig>,
    pub(super) store: Arc<dyn BlockStore>,
    pub(super) progress: Arc<SyncProgress>,
    pub(super) heads: watch::Sender<Option<ChainHead>>,
    pub(super) cluster: Option<ClusterParts>,
    pub(super) leadership: watch::Receiver<Leadership>,
}

/// Starts the source of blocks; returns the upstream sync when that is the source.
pub(super) async fn start(
    settings: &Settings,
    deps: SourceDeps,
    tasks: &mut JoinSet<()>,
    cancel: &CancellationToken,
) -> Result<Option<upstream_sync::UpstreamSync>, NodeError> {
    let events = deps.cluster.as_ref().map(|c| c.events.clone());
    if settings.upstreams.is_empty() {
        match deps.devnet {
            Some(config) => {
                let sink = devnet_source::Sink { store: deps.store, progress: deps.progress, heads: deps.heads, events };
                tasks.spawn(devnet_source::run(config, sink, deps.leadership, settings.devnet.prefill, cancel.child_token()));
            }
            None => {
                let head = seed_genesis(&deps.spec, &*deps.store, settings.import.as_deref(), &deps.progress).await?;
                deps.heads.send_replace(head);
            }
        }
        return Ok(None);
    }
    // Genesis is stored (without moving the head) so history ends there; the head comes from
    // forward sync.
    if let Some(header) = &deps.spec.genesis_header
        && deps.store.by_numbers(&[0], hypasis_store::Parts::HEADER).await?.first().is_some_and(Option::is_none)
    {
        deps.store.insert(vec![Block::genesis(header.clone())]).await?;
    }
    // The devnet's sealers are known from its genesis; Polygon networks' come from Heimdall's
    // spans when --heimdall-url is given (no seal check otherwise).
    let validators = match &deps.devnet {
        Some(config) => Some(Arc::new(Validators::Fixed(Devnet::new(config.clone()).validator_addresses().into_iter().collect()))),
        None => settings.heimdall_url.as_ref().map(|_| Arc::new(Validators::spans())),
    };
    let plan = upstream_sync::Plan {
        upstreams: settings.upstreams.clone(),
        l1: settings.eth_l1_rpc_url.clone(),
        rootchain: if deps.spec.chain_id == 80_002 {
            hypasis_syncer::checkpoints::AMOY_ROOTCHAIN
        } else {
            hypasis_syncer::checkpoints::MAINNET_ROOTCHAIN
        },
        backward: BackwardConfig {
            workers: settings.backfill_workers,
            floor: settings.retention_floor,
            blocks_per_second: settings.backfill_rate,
            window: memory_window(settings),
            ..BackwardConfig::default()
        },
        upstream_rps: settings.upstream_rps,
        upstream_max_batch: settings.upstream_max_batch,
        heimdall: settings.heimdall_url.clone(),
        forward: ForwardConfig::default(),
        redis: super::cluster::redis_target(settings).map(|target| (target, deps.spec.chain_id, settings.instance_id.clone())),
    };
    let (store, progress, heads, bor) = (deps.store, deps.progress, deps.heads, deps.spec.bor.clone());
    let ctx_for = move |pool, milestones| SyncContext {
        fetcher: hypasis_upstream::BlockFetcher::new(pool, bor),
        store,
        heads,
        events,
        validators,
        progress,
        milestones,
    };
    let sync = upstream_sync::spawn(tasks, plan, ctx_for, deps.leadership, cancel).await?;
    Ok(Some(sync))
}

/// Stores the genesis block of a non-devnet chain when its genesis file is known, then the blocks
/// of `import`, so the node has a head to serve; other blocks come from the upstream sync.
async fn seed_genesis(
    spec: &ChainSpec,
    store: &dyn BlockStore,
    import: Option<&std::path::Path>,
    progress: &SyncProgress,
) -> Result<Option<ChainHead>, NodeError> {
    let Some(header) = &spec.genesis_header else {
        tracing::warn!(chain = %spec.name, "genesis file not bundled; the head stays unknown until blocks are synced");
        return Ok(None);
    };
    let genesis = Block::genesis(header.clone());
    let mut head = ChainHead::of(&genesis);
    store.insert(vec![genesis]).await?;
    if let Some(path) = import {
        let bytes = std::fs::read(path).map_err(|e| NodeError::Import(format!("cannot read {}: {e}", path.display())))?;
        let blocks = hypasis_chain::import::read_blocks(&bytes).map_err(|e| NodeError::Import(e.to_string()))?;
        let blocks = hypasis_chain::import::link(header, header.difficulty, blocks).map_err(|e| NodeError::Import(e.to_string()))?;
        let count = blocks.len();
        if let Some(last) = blocks.last() {
            head = ChainHead::of(last);
        }
        let mut blocks = blocks.into_iter().peekable();
        while blocks.peek().is_some() {
            store.insert(blocks.by_ref().take(IMPORT_BATCH).collect()).await?;
        }
        progress.stored(count as u64 + 1, head.number);
        tracing::info!(file = %path.display(), blocks = count, head = head.number, "imported chain file");
    } else {
        tracing::warn!(chain = %spec.name, "no --upstream and no --import: only the genesis block is served; add --upstream <url> to sync this chain");
    }
    store.advance_head(head).await?;
    crate::metrics::head(head.number);
    Ok(Some(head))
}
