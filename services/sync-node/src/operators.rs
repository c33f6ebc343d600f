//! The operators registry as a service: where it lives, how it changes, how every instance
//! learns of a change.
//!
//! - **Alone** (no Redis) the registry is the `--operators-file` (or empty: no limits). The
//!   admin API edits it in memory, until the next restart or `SIGHUP`, which re-read the file.
//! - **On Redis** the registry is one shared document ([`OperatorsStore`]). The file seeds it when
//!   the cluster has none; `SIGHUP` on any instance pushes the file to it; the admin API edits it
//!   (compare-and-set, retried). Every write is published ([`Event::Operators`]) and every
//!   instance re-reads the document at once, and also polls its version every few seconds, so an
//!   instance that missed the message catches up.
//!
//! `SIGHUP` also renews the TLS certificate, so on `SIGHUP` the file is pushed only when its
//! content changed since it was last read: a certificate renewal does not undo admin edits.
//! `POST /api/v1/operators/reload` pushes it regardless. Changes on one instance are applied one
//! at a time (edits, file pushes and refreshes never interleave).

use hypasis_cluster::{ClusterHandle, Event, Expect, OperatorsStore};
use hypasis_limits::{FairUse, Registry, RegistryDoc, RegistryError};
use std::{
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

/// Compare-and-set attempts before an edit gives up (`Conflict`).
const EDIT_ATTEMPTS: usize = 5;

/// Why a change was not made.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    /// No such operator.
    #[error("no operator named {0:?}")]
    NotFound(String),
    /// The change would make an invalid registry.
    #[error(transparent)]
    Invalid(#[from] RegistryError),
    /// The shared registry cannot be read or written.
    #[error("the shared operators registry in Redis is unreachable: {0}")]
    Redis(String),
    /// Other writers kept changing the registry.
    #[error("the operators registry kept changing under this edit ({EDIT_ATTEMPTS} attempts); try again")]
    Conflict,
    /// `reload` without an operators file.
    #[error("the node was started without --operators-file; there is no file to reload")]
    NoFile,
}

impl EditError {
    /// The HTTP status of the error.
    pub fn status(&self) -> u16 {
        match self {
            Self::NotFound(_) => 404,
            Self::Invalid(_) => 400,
            Self::Redis(_) => 503,
            Self::Conflict | Self::NoFile => 409,
        }
    }
}

/// The registry in force, its buckets, and where changes go.
#[derive(Debug)]
pub struct Operators {
    fair_use: Arc<FairUse>,
    file: Option<PathBuf>,
    shared: Option<ClusterHandle>,
    /// Version of the shared document in force (alone: edits made since start).
    version: AtomicU64,
    /// Held while a change is made or taken; the SHA-256 of the file as last read.
    changes: tokio::sync::Mutex<Option<[u8; 32]>>,
}

/// The operators file's text and its SHA-256.
fn read_file(path: &Path) -> Result<(String, [u8; 32]), RegistryError> {
    let text = std::fs::read_to_string(path).map_err(|source| RegistryError::Read { path: path.display().to_string(), source })?;
    let hash = hypasis_limits::registry::key_hash(&text);
    Ok((text, hash))
}

impl Operators {
    /// The service over `fair_use` (already holding the file's registry); on Redis, seeds the
    /// shared registry from the file if the cluster has none, then takes the shared one.
    pub async fn start(fair_use: Arc<FairUse>, file: Option<PathBuf>, cluster: Option<ClusterHandle>) -> Arc<Self> {
        let seen = file.as_deref().and_then(|path| read_file(path).ok()).map(|(_, hash)| hash);
        let me = Arc::new(Self { fair_use, file, shared: cluster, version: AtomicU64::new(0), changes: tokio::sync::Mutex::new(seen) });
        if let Some(store) = me.store() {
            if me.file.is_some() {
                let doc = serde_json::to_string(me.fair_use.registry().doc()).expect("registry serialises");
                match store.put(Expect::Absent, &doc).await {
                    Ok(Some(version)) => tracing::info!(version, "operators registry seeded in Redis from the operators file"),
                    Ok(None) => tracing::info!("operators registry taken from Redis (the file seeds an empty cluster; SIGHUP pushes it)"),
                    Err(e) => tracing::warn!(error = %e, "cannot seed the operators registry in Redis; the file's stays in force"),
                }
            }
            me.refresh().await;
        }
        me
    }

    fn store(&self) -> Option<&OperatorsStore> {
        self.shared.as_ref().map(ClusterHandle::operators)
    }

    /// The buckets.
    pub fn fair_use(&self) -> &Arc<FairUse> {
        &self.fair_use
    }

    /// The registry document in force and its version.
    pub fn current(&self) -> (RegistryDoc, u64) {
        (self.fair_use.registry().doc().clone(), self.version.load(Ordering::SeqCst))
    }

    /// Where the registry lives: `redis` or `local`.
    pub fn source(&self) -> &'static str {
        if self.shared.is_some() { "redis" } else { "local" }
    }

    /// Applies `change` to the registry (on Redis: to the shared document, compare-and-set,
    /// retried) and puts the result in force everywhere; returns what `change` returned and the
    /// new version.
    ///
    /// # Errors
    /// [`EditError`]: the change's own, an invalid result, Redis, or a lost race.
    pub async fn edit<T>(&self, origin: &str, change: impl Fn(&mut RegistryDoc) -> Result<T, EditError>) -> Result<(T, u64), EditError> {
        let _one_at_a_time = self.changes.lock().await;
        let Some(store) = self.store() else {
            let mut doc = self.fair_use.registry().doc().clone();
            let out = change(&mut doc)?;
            self.fair_use.reload(Registry::from_doc(doc, origin)?);
            return Ok((out, self.version.fetch_add(1, Ordering::SeqCst) + 1));
        };
        for _ in 0..EDIT_ATTEMPTS {
            let stored = store.get().await.map_err(|e| EditError::Redis(e.to_string()))?;
            let (version, mut doc) = match stored {
                Some((version, json)) => (version, parse(&json)?),
                None => (0, self.fair_use.registry().doc().clone()),
            };
            let out = change(&mut doc)?;
            let registry = Registry::from_doc(doc, origin)?;
            let json = serde_json::to_string(registry.doc()).expect("registry serialises");
            if let Some(version) = store.put(Expect::Version(version), &json).await.map_err(|e| EditError::Redis(e.to_string()))? {
                self.apply(registry, version);
                self.announce(version).await;
                return Ok((out, version));
            }
        }
        Err(EditError::Conflict)
    }

    /// Re-reads the operators file and puts it in force (on Redis: for every instance); unless
    /// `force`, only when its content changed since it was last read (`Ok(None)`: unchanged).
    ///
    /// # Errors
    /// [`EditError::NoFile`], an invalid file, or Redis.
    pub async fn reload_file(&self, force: bool) -> Result<Option<u64>, EditError> {
        let path = self.file.as_ref().ok_or(EditError::NoFile)?;
        let mut seen = self.changes.lock().await;
        let (text, hash) = read_file(path)?;
        if !force && *seen == Some(hash) {
            return Ok(None);
        }
        let registry = Registry::parse(&text, &path.display().to_string())?;
        let Some(store) = self.store() else {
            self.fair_use.reload(registry);
            *seen = Some(hash);
            return Ok(Some(self.version.fetch_add(1, Ordering::SeqCst) + 1));
        };
        let json = serde_json::to_string(registry.doc()).expect("registry serialises");
        let version = store.put(Expect::Any, &json).await.map_err(|e| EditError::Redis(e.to_string()))?.unwrap_or(0);
        *seen = Some(hash);
        self.apply(registry, version);
        self.announce(version).await;
        Ok(Some(version))
    }

    /// Takes the shared document if it is newer than the one in force (after an event, and on
    /// a timer).
    pub async fn refresh(&self) {
        let Some(store) = self.store() else { return };
        let _one_at_a_time = self.changes.lock().await;
        let newer = match store.version().await {
            Ok(version) => version > self.version.load(Ordering::SeqCst),
            Err(e) => {
                tracing::debug!(error = %e, "cannot poll the operators registry version");
                return;
            }
        };
        if !newer {
            return;
        }
        match store.get().await {
            Ok(Some((version, json))) => match parse(&json).and_then(|doc| Ok(Registry::from_doc(doc, "redis")?)) {
                Ok(registry) => {
                    tracing::info!(version, operators = registry.operators().count(), "operators registry updated from Redis");
                    self.apply(registry, version);
                }
                Err(e) => {
                    metrics::counter!("hypasis_limits_reload_errors_total").increment(1);
                    tracing::error!(version, error = %e, "the shared operators registry is invalid; the previous one stays in force");
                    self.version.store(version, Ordering::SeqCst);
                }
            },
            Ok(None) => {}
            Err(e) => tracing::debug!(error = %e, "cannot read the operators registry"),
        }
    }

    fn apply(&self, registry: Registry, version: u64) {
        // Only forwards: a slower reader must not put an older document back.
        if self.version.fetch_max(version, Ordering::SeqCst) <= version {
            self.fair_use.reload(registry);
            metrics::gauge!("hypasis_limits_registry_version").set(version as f64);
        }
    }

    async fn announce(&self, version: u64) {
        if let Some(cluster) = &self.shared
            && let Err(e) = cluster.events().publish(Event::Operators { version }).await
        {
            tracing::warn!(error = %e, "cannot publish the operators change; other instances pick it up within seconds");
        }
    }
}

fn parse(json: &str) -> Result<RegistryDoc, EditError> {
    serde_json::from_str(json).map_err(|e| EditError::Invalid(RegistryError::Yaml { path: "redis".into(), reason: e.to_string() }))
}
