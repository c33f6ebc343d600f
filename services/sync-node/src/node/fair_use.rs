//! Fair use in the node: the operators file loaded before any port is bound (a bad file is a
//! configuration error), pushed again on SIGHUP (a bad file then keeps the old registry), the
//! shared registry followed ([`crate::operators`]), each instance's share of every quota
//! following the live cluster members, idle anonymous buckets forgotten, and the devp2p gate
//! over the same buckets.

use super::NodeError;
use crate::config::Settings;
use crate::operators::{EditError, Operators};
use hypasis_cluster::{ClusterHandle, Event};
use hypasis_limits::{FairUse, Protocol, Registry};
use hypasis_p2p::gate::{Admission, PeerPlace, RequestGate};
use hypasis_rlpx::NodeId;
use std::{
    net::IpAddr,
    sync::Arc,
    time::{Duration, Instant},
};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// How often idle anonymous buckets are dropped and the live members counted.
const HOUSEKEEPING: Duration = Duration::from_secs(5);

/// The registry from `--operators-file`, or an empty one (no limits) without it.
///
/// # Errors
/// [`NodeError::Operators`] when the file is unreadable or wrong.
pub(super) fn load(settings: &Settings) -> Result<Arc<FairUse>, NodeError> {
    let Some(path) = &settings.operators_file else { return Ok(Arc::new(FairUse::new(Registry::open()))) };
    let registry = Registry::load(path).map_err(NodeError::Operators)?;
    tracing::info!(file = %path.display(), operators = registry.operators().count(), "operators loaded");
    Ok(Arc::new(FairUse::new(registry)))
}

/// Pushes the file on SIGHUP; follows the shared registry (events and a poll); keeps the share
/// in step with the cluster; forgets idle buckets.
pub(super) fn spawn(operators: &Arc<Operators>, cluster: Option<ClusterHandle>, tasks: &mut JoinSet<()>, cancel: &CancellationToken) {
    let (me, stop) = (operators.clone(), cancel.clone());
    tasks.spawn(async move {
        let Ok(mut hangups) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else {
            tracing::warn!("cannot listen for SIGHUP; the operators file is read at start only");
            return;
        };
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                _ = hangups.recv() => {}
            }
            match me.reload_file(false).await {
                Ok(Some(version)) => tracing::info!(version, "operators file reloaded"),
                Ok(None) => tracing::debug!("SIGHUP: the operators file is unchanged; the registry in force stays"),
                Err(EditError::NoFile) => {}
                Err(e) => {
                    metrics::counter!("hypasis_limits_reload_errors_total").increment(1);
                    tracing::error!(error = %e, "operators file refused; the previous registry stays in force");
                }
            }
        }
    });
    if let Some(cluster) = &cluster {
        let (me, stop, mut events) = (operators.clone(), cancel.clone(), cluster.events().subscribe());
        tasks.spawn(async move {
            loop {
                let event = tokio::select! {
                    () = stop.cancelled() => return,
                    event = events.recv() => event,
                };
                match event {
                    Ok(envelope) if matches!(envelope.event, Event::Operators { .. }) => me.refresh().await,
                    Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                }
            }
        });
    }
    let (me, cancel) = (operators.clone(), cancel.clone());
    tasks.spawn(async move {
        let mut tick = tokio::time::interval(HOUSEKEEPING);
        loop {
            tokio::select! {
                () = cancel.cancelled() => return,
                _ = tick.tick() => {}
            }
            me.fair_use().forget_idle();
            if let Some(cluster) = &cluster {
                if let Ok(members) = cluster.members().await {
                    me.fair_use().set_members(u32::try_from(members.len()).unwrap_or(u32::MAX));
                }
                me.refresh().await;
            }
        }
    });
}

/// devp2p requests over an operator's budget are delayed (the peer's answers slow to its
/// rate). A peer that keeps asking while delayed for longer than `max_wait` in a row, or whose
/// single request would wait longer, floods: it is disconnected.
#[derive(Debug)]
pub(super) struct P2pGate {
    pub(super) fair_use: Arc<FairUse>,
    pub(super) max_wait: Duration,
    /// Since when each peer has been delayed without a break.
    pub(super) throttled: parking_lot::Mutex<std::collections::HashMap<NodeId, Instant>>,
}

impl P2pGate {
    pub(super) fn new(fair_use: Arc<FairUse>, max_wait: Duration) -> Self {
        Self { fair_use, max_wait, throttled: parking_lot::Mutex::default() }
    }
}

impl RequestGate for P2pGate {
    fn admit<'a>(&'a self, peer: &'a NodeId, ip: IpAddr, cost: u32) -> Admission<'a> {
        Box::pin(async move {
            let client = self.fair_use.identify_node(&peer.0, ip);
            let flooding = |why: String| {
                self.throttled.lock().remove(peer);
                metrics::counter!("hypasis_limits_p2p_disconnects_total").increment(1);
                format!("{} floods: {why}", client.label())
            };
            let waited = self
                .fair_use
                .wait(&client, cost, Protocol::P2p, self.max_wait)
                .await
                .map_err(|wait| flooding(format!("a request would wait {wait:.1?} (at most {:?})", self.max_wait)))?;
            if waited.is_zero() {
                self.throttled.lock().remove(peer);
                return Ok(());
            }
            let since = {
                let mut throttled = self.throttled.lock();
                // Peers that left while delayed are forgotten (any still there has been cut off).
                let stale = self.max_wait * 4;
                throttled.retain(|_, since| since.elapsed() < stale);
                *throttled.entry(*peer).or_insert_with(Instant::now)
            };
            if since.elapsed() > self.max_wait {
                return Err(flooding(format!("over its budget for {:.1?} in a row (at most {:?})", since.elapsed(), self.max_wait)));
            }
            Ok(())
        })
    }

    fn send<'a>(&'a self, peer: &'a NodeId, ip: IpAddr, bytes: usize) -> Admission<'a> {
        Box::pin(async move {
            let client = self.fair_use.identify_node(&peer.0, ip);
            self.fair_use.wait_bytes(&client, bytes, self.max_wait).await.map(drop).map_err(|wait| {
                metrics::counter!("hypasis_limits_p2p_disconnects_total").increment(1);
                format!("{} floods: an answer of {bytes} bytes would wait {wait:.1?} for its bytes budget", client.label())
            })
        })
    }

    fn join(&self, peer: &NodeId, ip: IpAddr) -> Result<PeerPlace, String> {
        let client = self.fair_use.identify_node(&peer.0, ip);
        self.fair_use.join(&client).map(|place| Box::new(place) as PeerPlace)
    }
}
