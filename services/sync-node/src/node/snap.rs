//! State for snap-syncing peers (`--state-backend`): a pool of sessions per backend, the
//! service that proves their answers, and the state roots it may serve, followed from our
//! verified head (the [`RECENT_STATES`] latest headers' roots).

use crate::config::Settings;
use hypasis_chain::ChainSpec;
use hypasis_snap::{
    CacheBudgets, SnapService,
    backend::BackendTarget,
    pool::{self, BackendManager},
    service::{DEFAULT_NODE_CACHE_BYTES, RECENT_STATES},
};
use hypasis_store::{BlockStore, ChainHead, Parts};
use std::{net::SocketAddr, sync::Arc};
use tokio::{sync::watch, task::JoinSet};
use tokio_util::sync::CancellationToken;

/// Starts the snap service when backends are configured.
pub(super) async fn start(
    settings: &Settings,
    spec: &ChainSpec,
    store: Arc<dyn BlockStore>,
    heads: watch::Receiver<Option<ChainHead>>,
    tasks: &mut JoinSet<()>,
    cancel: &CancellationToken,
) -> Option<Arc<SnapService>> {
    if settings.state_backends.is_empty() {
        return None;
    }
    // Our Status toward the backends: their chain must be ours (genesis and fork id).
    let head = match store.head().await {
        Ok(Some(head)) => head,
        _ => hypasis_p2p::status::genesis_head(spec),
    };
    let range = store.range().await.ok().flatten();
    let status = hypasis_p2p::status::ours(spec, hypasis_eth_wire::eth::SUPPORTED_VERSIONS[0], &head, range);
    let client_id = format!("hypasis-sync/v{}", env!("CARGO_PKG_VERSION"));
    let pools = settings
        .state_backends
        .iter()
        .map(|b| {
            let addr = SocketAddr::new(b.ip, b.tcp);
            let manager = BackendManager::new(
                BackendTarget { addr, id: b.id },
                client_id.clone(),
                &hypasis_eth_wire::eth::SUPPORTED_VERSIONS,
                status.clone(),
            );
            (addr.to_string(), pool::pool(manager, settings.snap_sessions_per_backend))
        })
        .collect();
    let budgets = CacheBudgets { answers: settings.snap_cache_bytes, nodes: DEFAULT_NODE_CACHE_BYTES };
    let shared = match super::cluster::redis_target(settings) {
        Some(target) => match hypasis_cluster::connect(&target).await {
            Ok(client) => {
                Some(Arc::new(super::snap_redis::RedisAnswers::new(client, spec.chain_id)) as Arc<dyn hypasis_snap::SharedAnswers>)
            }
            Err(e) => {
                tracing::warn!(target: "snap", error = %e, "snap answers not shared through Redis (each instance asks the backends itself)");
                None
            }
        },
        None => None,
    };
    let service = SnapService::new(pools, budgets, shared);
    let health = service.spawn_health_checks(cancel.child_token());
    tasks.spawn(async move {
        let _ = health.await;
    });
    let genesis_root = spec.genesis_header.as_ref().map(|h| h.state_root);
    tasks.spawn(follow_roots(service.clone(), store, heads, genesis_root, cancel.child_token()));
    tracing::info!(target: "snap", backends = settings.state_backends.len(), "serving snap/1 through state backends");
    Some(service)
}

/// Keeps the service's recent roots those of the headers head−127 ..= head as the head moves
/// (the genesis state's until there is a head).
async fn follow_roots(
    service: Arc<SnapService>,
    store: Arc<dyn BlockStore>,
    mut heads: watch::Receiver<Option<ChainHead>>,
    genesis_root: Option<alloy_primitives::B256>,
    cancel: CancellationToken,
) {
    loop {
        let head = *heads.borrow_and_update();
        let number = head.map_or(0, |h| h.number);
        let mut roots = Vec::new();
        if let Some(head) = head {
            let numbers: Vec<u64> = (head.number.saturating_sub(RECENT_STATES - 1)..=head.number).collect();
            match store.by_numbers(&numbers, Parts::HEADER).await {
                Ok(blocks) => roots.extend(blocks.into_iter().flatten().map(|b| (b.header.number, b.header.state_root))),
                Err(e) => tracing::warn!(target: "snap", error = %e, "reading recent headers for their state roots failed"),
            }
        }
        // The store may not hold block 0; the chain spec does.
        if number < RECENT_STATES
            && let Some(root) = genesis_root
        {
            roots.push((0, root));
        }
        service.set_recent_roots(roots);
        tokio::select! {
            () = cancel.cancelled() => return,
            changed = heads.changed() => if changed.is_err() { return },
        }
    }
}
