//! A pool of sessions per state backend (deadpool): a request checks a session out, so the pool's
//! size bounds how many requests one backend gets at once; a session whose connection ended is
//! not recycled but replaced; after a failed dial the backend is left alone for a backoff that
//! doubles up to a ceiling, so a backend that is down is not dialled on every request.

use crate::backend::{BackendError, BackendSession, BackendTarget};
use deadpool::managed::{self, Metrics, RecycleError, RecycleResult};
use hypasis_eth_wire::eth::status::Status;
use parking_lot::Mutex;
use std::time::{Duration, Instant};

/// Sessions per backend (requests to one backend at once).
pub const DEFAULT_SESSIONS_PER_BACKEND: usize = 4;
/// First wait after a failed dial.
pub const DEFAULT_BACKOFF: Duration = Duration::from_secs(1);
/// Longest wait between dials of a backend that keeps failing.
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// How long a request waits for a free session before it is given up (and asked elsewhere).
pub const DEFAULT_CHECKOUT_TIMEOUT: Duration = Duration::from_secs(2);

/// Dials sessions to one backend for the pool.
#[derive(Debug)]
pub struct BackendManager {
    target: BackendTarget,
    client_id: String,
    eth_versions: Vec<u64>,
    status: Status,
    backoff: Mutex<Backoff>,
}

#[derive(Debug, Clone, Copy)]
struct Backoff {
    wait: Duration,
    not_before: Option<Instant>,
}

impl BackendManager {
    /// A manager dialling `target` with our client id, eth versions and Status. Each session
    /// dials with a fresh node key: geth and Bor take one connection per node id.
    pub fn new(target: BackendTarget, client_id: impl Into<String>, eth_versions: &[u64], status: Status) -> Self {
        Self {
            target,
            client_id: client_id.into(),
            eth_versions: eth_versions.to_vec(),
            status,
            backoff: Mutex::new(Backoff { wait: DEFAULT_BACKOFF, not_before: None }),
        }
    }

    /// The backend this manager dials.
    pub fn target(&self) -> &BackendTarget {
        &self.target
    }
}

/// Why no session could be had.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    /// The backend failed its last dial and is waiting out its backoff.
    #[error("the backend is backing off after a failed dial ({0:?} left)")]
    BackingOff(Duration),
    /// Dialling failed.
    #[error(transparent)]
    Backend(#[from] BackendError),
}

impl managed::Manager for BackendManager {
    type Type = BackendSession;
    type Error = PoolError;

    async fn create(&self) -> Result<BackendSession, PoolError> {
        if let Some(not_before) = self.backoff.lock().not_before {
            let left = not_before.saturating_duration_since(Instant::now());
            if !left.is_zero() {
                return Err(PoolError::BackingOff(left));
            }
        }
        match BackendSession::connect(&self.target, &hypasis_rlpx::keys::random_secret(), &self.client_id, &self.eth_versions, &self.status)
            .await
        {
            Ok(session) => {
                *self.backoff.lock() = Backoff { wait: DEFAULT_BACKOFF, not_before: None };
                Ok(session)
            }
            Err(e) => {
                let mut backoff = self.backoff.lock();
                backoff.not_before = Some(Instant::now() + backoff.wait);
                backoff.wait = (backoff.wait * 2).min(MAX_BACKOFF);
                Err(e.into())
            }
        }
    }

    async fn recycle(&self, session: &mut BackendSession, _: &Metrics) -> RecycleResult<PoolError> {
        if session.is_alive() { Ok(()) } else { Err(RecycleError::message("the backend session has ended")) }
    }
}

/// The sessions of one backend.
pub type BackendPool = managed::Pool<BackendManager>;

/// A pool of at most `sessions` sessions made by `manager`; a request waits at most
/// [`DEFAULT_CHECKOUT_TIMEOUT`] for one.
///
/// # Panics
/// Never: the builder fails only without a runtime for its timeouts, and tokio is named.
pub fn pool(manager: BackendManager, sessions: usize) -> BackendPool {
    managed::Pool::builder(manager)
        .max_size(sessions.max(1))
        .wait_timeout(Some(DEFAULT_CHECKOUT_TIMEOUT))
        .create_timeout(Some(DEFAULT_CHECKOUT_TIMEOUT * 5))
        .runtime(deadpool::Runtime::Tokio1)
        .build()
        .expect("a pool with the tokio runtime named")
}
