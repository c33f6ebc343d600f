//! The JSON-RPC edge, wired to the node's store, read-through and sync state.

use crate::config::Settings;
use hypasis_chain::ChainSpec;
use hypasis_rpc::{ChainView, RenderCache, RpcConfig, RpcState, blocks::Blocks};
use hypasis_store::{BlockStore, ChainHead};
use hypasis_syncer::SyncHandle;
use std::sync::Arc;
use tokio::sync::watch;

/// The cache is "syncing" (`eth_syncing` answers progress) while it is more than this many
/// blocks behind the upstreams' tip.
pub(super) const SYNCING_LAG: u64 = 64;

/// Finality and sync state from the node's sync service.
#[derive(Debug)]
struct NodeView {
    sync: Option<SyncHandle>,
    heads: watch::Receiver<Option<ChainHead>>,
    started_at: u64,
}

impl ChainView for NodeView {
    fn safe(&self) -> Option<u64> {
        self.sync.as_ref()?.latest_milestone()
    }

    fn finalized(&self) -> Option<u64> {
        self.sync.as_ref()?.finalized()
    }

    fn syncing(&self) -> Option<(u64, u64, u64)> {
        let sync = self.sync.as_ref()?;
        let highest = sync.upstreams().iter().map(|u| u.head).max()?;
        let current = self.heads.borrow().map_or(0, |h| h.number);
        (highest > current.saturating_add(SYNCING_LAG)).then_some((self.started_at.min(current), current, highest))
    }
}

/// The edge's state.
pub(super) fn state(
    settings: &Settings,
    spec: &ChainSpec,
    store: Arc<dyn BlockStore>,
    sync: Option<SyncHandle>,
    heads: watch::Receiver<Option<ChainHead>>,
    fair_use: Option<Arc<hypasis_limits::FairUse>>,
) -> Arc<RpcState> {
    let started_at = heads.borrow().map_or(0, |h| h.number);
    let read_through = sync.as_ref().and_then(SyncHandle::read_through);
    let blocks = Blocks {
        spec: spec.clone(),
        store,
        read_through,
        view: Arc::new(NodeView { sync, heads, started_at }),
        cache: RenderCache::new(settings.rpc.cache_bytes),
    };
    let config = RpcConfig {
        batch_limit: settings.rpc.batch_limit,
        response_max_bytes: settings.rpc.response_max_bytes,
        body_max_bytes: settings.rpc.body_max_bytes,
        cors_origins: settings.rpc.cors_origins.clone(),
    };
    Arc::new(RpcState {
        blocks,
        config,
        client_version: format!("hypasis-sync/v{}", env!("CARGO_PKG_VERSION")),
        fair_use,
        trusted_proxies: settings.proxy_protocol_from.clone(),
    })
}
