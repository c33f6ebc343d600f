//! Where blocks come from: the embedded devnet, an imported chain file, or the upstream sync.

use super::NodeError;
use crate::{config::Settings, devnet_source};
use hypasis_chain::{Block, ChainSpec};
use hypasis_cluster::{ClusterHandle, Leadership};
use hypasis_devnet::DevnetConfig;
use hypasis_store::ChainHead;
use hypasis_syncer::{BackwardConfig, Claims, ForwardConfig, HeadWriter, SnapshotTracker, SyncConfig, SyncDeps, SyncHandle, Validators};
use hypasis_upstream::PoolConfig;
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
    pub(super) head: HeadWriter,
    pub(super) cluster: Option<ClusterHandle>,
    pub(super) leadership: watch::Receiver<Leadership>,
    pub(super) seals: super::seals::SealPlan,
}

/// Starts the source of blocks; returns the sync handle when upstreams are the source.
pub(super) async fn start(
    settings: &Settings,
    deps: SourceDeps,
    tasks: &mut JoinSet<()>,
    cancel: &CancellationToken,
) -> Result<Option<SyncHandle>, NodeError> {
    let store = deps.head.store().clone();
    if settings.upstreams.is_empty() {
        match deps.devnet {
            Some(config) => {
                tasks.spawn(devnet_source::run(config, deps.head, deps.leadership, settings.devnet.prefill, cancel.child_token()));
            }
            None => seed_genesis(&deps.spec, &deps.head, settings.import.as_deref(), deps.seals.tracker.as_deref()).await?,
        }
        return Ok(None);
    }
    // Genesis is stored (without moving the head) so history ends there; the head comes from
    // forward sync.
    if let Some(header) = &deps.spec.genesis_header
        && store.by_numbers(&[0], hypasis_store::Parts::HEADER).await?.first().is_some_and(Option::is_none)
    {
        store.insert(vec![Block::genesis(header.clone())]).await?;
    }
    let validators = deps.seals.spans.then(|| Arc::new(Validators::spans()));
    let config = SyncConfig {
        upstreams: settings.upstreams.clone(),
        pool: PoolConfig { requests_per_second: settings.upstream_rps, max_batch: settings.upstream_max_batch, ..PoolConfig::default() },
        l1: settings.eth_l1_rpc_url.clone(),
        rootchain: if deps.spec.chain_id == 80_002 {
            hypasis_syncer::checkpoints::AMOY_ROOTCHAIN
        } else {
            hypasis_syncer::checkpoints::MAINNET_ROOTCHAIN
        },
        heimdall: settings.heimdall_url.clone(),
        forward: ForwardConfig::default(),
        backward: BackwardConfig {
            workers: settings.backfill_workers,
            floor: settings.retention_floor,
            blocks_per_second: settings.backfill_rate,
            window: memory_window(settings),
            ..BackwardConfig::default()
        },
        read_through_max_blocks: settings.rpc.read_through_max_blocks,
    };
    let claims = claims(settings, &deps.spec, deps.cluster.as_ref()).await?;
    let sync_deps = SyncDeps {
        head: deps.head,
        bor: deps.spec.bor.clone(),
        validators,
        snapshots: deps.seals.tracker.clone(),
        leadership: deps.leadership,
        claims,
    };
    Ok(Some(hypasis_syncer::spawn(config, sync_deps, tasks, cancel).await?))
}

/// Claims shared by the cluster's instances (Redis), or this instance's alone.
///
/// # Errors
/// When the Redis connection for them cannot be made.
pub(super) async fn claims(settings: &Settings, spec: &ChainSpec, cluster: Option<&ClusterHandle>) -> Result<Claims, NodeError> {
    Ok(match cluster {
        Some(cluster) => Claims::Redis {
            client: hypasis_cluster::connect(cluster.target()).await.map_err(hypasis_cluster::ClusterError::from)?,
            chain_id: spec.chain_id,
            owner: settings.instance_id.clone(),
        },
        None => Claims::memory(),
    })
}

/// Stores the genesis block of a non-devnet chain when its genesis file is known, then the blocks
/// of `import` (every seal checked when an anchor is known), so the node has a head to serve;
/// other blocks come from the upstream sync.
async fn seed_genesis(
    spec: &ChainSpec,
    head_writer: &HeadWriter,
    import: Option<&std::path::Path>,
    seals: Option<&SnapshotTracker>,
) -> Result<(), NodeError> {
    let Some(header) = &spec.genesis_header else {
        tracing::warn!(chain = %spec.name, "genesis file not bundled; the head stays unknown until blocks are synced");
        return Ok(());
    };
    let store = head_writer.store();
    let genesis = Block::genesis(header.clone());
    let mut head = ChainHead::of(&genesis);
    let mut stored = 1;
    store.insert(vec![genesis]).await?;
    if let Some(path) = import {
        let blocks = super::import::read(path, header)?;
        if let Some(tracker) = seals {
            tracker.check_from_anchor(blocks.iter().map(|b| &b.header)).map_err(|e| {
                hypasis_syncer::context::count_rejected("import", e.reason(), 1);
                NodeError::ImportSeal(e)
            })?;
            metrics::counter!("hypasis_blocks_seal_checked_total").increment(blocks.len() as u64);
        }
        let count = blocks.len();
        if let Some(last) = blocks.last() {
            head = ChainHead::of(last);
        }
        let mut blocks = blocks.into_iter().peekable();
        while blocks.peek().is_some() {
            store.insert(blocks.by_ref().take(IMPORT_BATCH).collect()).await?;
        }
        stored += count as u64;
        tracing::info!(file = %path.display(), blocks = count, head = head.number, "imported chain file");
    } else {
        tracing::warn!(chain = %spec.name, "no --upstream and no --import: only the genesis block is served; add --upstream <url> to sync this chain");
    }
    head_writer.set_unfenced(head, stored).await?;
    Ok(())
}
