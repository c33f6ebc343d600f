//! The object store holding sealed segments, opened from a URL:
//!
//! - `file:///srv/hypasis/history`: a local directory (created when missing);
//! - `s3://bucket/prefix`: S3 or an S3-compatible server. Credentials, region and endpoint come
//!   from the standard environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//!   `AWS_SESSION_TOKEN`, `AWS_REGION`, `AWS_ENDPOINT` for a non-AWS server, `AWS_ALLOW_HTTP=true`
//!   for plain HTTP) or, on AWS, from the instance or task role.

use crate::manifest::{self, SegmentMeta};
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt, stream::BoxStream};
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, path::Path, prefix::PrefixStore};
use std::{ops::Range, sync::Arc};
use url::Url;

/// Why the bucket could not be used.
#[derive(Debug, thiserror::Error)]
pub enum BucketError {
    /// The URL names no supported store.
    #[error("history URL {url}: {reason}")]
    BadUrl {
        /// The URL, without credentials.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// The object store failed (network, permissions, missing object).
    #[error("object store {bucket}: {source}")]
    Store {
        /// The bucket URL.
        bucket: String,
        /// The store's error.
        source: object_store::Error,
    },
    /// A manifest entry could not be read.
    #[error("object store {bucket}: manifest entry {path}: {reason}")]
    Manifest {
        /// The bucket URL.
        bucket: String,
        /// The entry's path.
        path: String,
        /// What is wrong.
        reason: String,
    },
}

impl BucketError {
    /// Whether the error is the object's absence.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::Store { source: object_store::Error::NotFound { .. }, .. })
    }
}

/// The segments' object store.
#[derive(Debug, Clone)]
pub struct Bucket {
    store: Arc<dyn ObjectStore>,
    url: String,
}

impl Bucket {
    /// Opens the store `url` names.
    ///
    /// # Errors
    /// [`BucketError::BadUrl`] for an unsupported scheme, a relative path, or an S3 configuration
    /// the environment leaves incomplete.
    pub fn open(url: &Url) -> Result<Self, BucketError> {
        Self::open_with(url, &[])
    }

    /// Like [`Bucket::open`], with S3 settings given as `(key, value)` pairs that override the
    /// environment's (keys as object_store's `AmazonS3ConfigKey` spells them: `aws_endpoint`,
    /// `aws_allow_http`, `aws_access_key_id`, ...).
    ///
    /// # Errors
    /// As [`Bucket::open`], and for an unknown key.
    pub fn open_with(url: &Url, s3_options: &[(&str, &str)]) -> Result<Self, BucketError> {
        let shown = shown(url);
        let bad = |reason: String| BucketError::BadUrl { url: shown.clone(), reason };
        let store: Arc<dyn ObjectStore> = match url.scheme() {
            "file" => {
                let dir = url.to_file_path().map_err(|()| bad("not an absolute local path".into()))?;
                std::fs::create_dir_all(&dir).map_err(|e| bad(format!("cannot create {}: {e}", dir.display())))?;
                Arc::new(object_store::local::LocalFileSystem::new_with_prefix(&dir).map_err(|e| bad(e.to_string()))?)
            }
            "s3" => {
                // reqwest is built without a bundled TLS provider: ring, as everywhere else here.
                let _ = rustls::crypto::ring::default_provider().install_default();
                let bucket = url.host_str().filter(|h| !h.is_empty()).ok_or_else(|| bad("names no bucket".into()))?;
                let mut builder = object_store::aws::AmazonS3Builder::new().with_bucket_name(bucket);
                // The standard AWS_* variables, as object_store's `from_env`, except that an empty
                // one (compose files pass unset ones as "") counts as unset.
                for (key, value) in std::env::vars().filter(|(k, v)| k.starts_with("AWS_") && !v.is_empty()) {
                    if let Ok(key) = key.to_ascii_lowercase().parse::<object_store::aws::AmazonS3ConfigKey>() {
                        builder = builder.with_config(key, value);
                    }
                }
                for (key, value) in s3_options {
                    let key: object_store::aws::AmazonS3ConfigKey = key.parse().map_err(|e: object_store::Error| bad(e.to_string()))?;
                    builder = builder.with_config(key, *value);
                }
                let s3 = builder.build().map_err(|e| bad(e.to_string()))?;
                let prefix = url.path().trim_matches('/');
                if prefix.is_empty() { Arc::new(s3) } else { Arc::new(PrefixStore::new(s3, prefix)) }
            }
            other => return Err(bad(format!("scheme {other:?} is not supported (use file:// or s3://)"))),
        };
        Ok(Self { store, url: shown })
    }

    /// A bucket over an already built store (tests).
    pub fn from_store(store: Arc<dyn ObjectStore>, url: impl Into<String>) -> Self {
        Self { store, url: url.into() }
    }

    /// The same store seen under `prefix` (one chain's segments in a shared bucket).
    pub fn scoped(&self, prefix: &str) -> Self {
        Self { store: Arc::new(PrefixStore::new(self.store.clone(), prefix)), url: format!("{}/{prefix}", self.url.trim_end_matches('/')) }
    }

    /// The bucket's URL, without credentials.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn error(&self, source: object_store::Error) -> BucketError {
        BucketError::Store { bucket: self.url.clone(), source }
    }

    /// Writes a whole object.
    ///
    /// # Errors
    /// The store's error.
    pub async fn put(&self, path: &Path, bytes: Bytes) -> Result<(), BucketError> {
        self.store.put(path, PutPayload::from(bytes)).await.map(|_| ()).map_err(|e| self.error(e))
    }

    /// Reads a whole object.
    ///
    /// # Errors
    /// The store's error ([`BucketError::is_not_found`] when absent).
    pub async fn get(&self, path: &Path) -> Result<Bytes, BucketError> {
        let result = self.store.get(path).await.map_err(|e| self.error(e))?;
        result.bytes().await.map_err(|e| self.error(e))
    }

    /// Reads a whole object as a stream of chunks (a large segment is never held in memory).
    ///
    /// # Errors
    /// The store's error, at the start or for a chunk.
    pub async fn get_stream(&self, path: &Path) -> Result<BoxStream<'static, Result<Bytes, BucketError>>, BucketError> {
        let result = self.store.get(path).await.map_err(|e| self.error(e))?;
        let bucket = self.url.clone();
        Ok(result.into_stream().map_err(move |source| BucketError::Store { bucket: bucket.clone(), source }).boxed())
    }

    /// Reads `range` of an object.
    ///
    /// # Errors
    /// The store's error.
    pub async fn get_range(&self, path: &Path, range: Range<u64>) -> Result<Bytes, BucketError> {
        self.store.get_range(path, range).await.map_err(|e| self.error(e))
    }

    /// Deletes an object (absent is fine).
    ///
    /// # Errors
    /// The store's error.
    pub async fn delete(&self, path: &Path) -> Result<(), BucketError> {
        match self.store.delete(path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.error(e)),
        }
    }

    /// The first blocks of the sealed segments, from one listing of the manifest folder (its
    /// entries are not read: a refresh reads only the entries it does not know yet).
    ///
    /// # Errors
    /// The store's error.
    pub async fn sealed_starts(&self) -> Result<Vec<u64>, BucketError> {
        let dir = manifest::manifest_dir();
        let listed: Vec<_> = self.store.list(Some(&dir)).try_collect().await.map_err(|e| self.error(e))?;
        let mut starts: Vec<u64> =
            listed.iter().filter_map(|object| object.location.filename()?.strip_suffix(".json")?.parse().ok()).collect();
        starts.sort_unstable();
        Ok(starts)
    }

    /// Reads one manifest entry; `None` when the segment is not sealed.
    ///
    /// # Errors
    /// The store's error, or a malformed entry.
    pub async fn meta(&self, start: u64) -> Result<Option<SegmentMeta>, BucketError> {
        let path = manifest::meta_path(start);
        match self.get(&path).await {
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| BucketError::Manifest {
                bucket: self.url.clone(),
                path: path.to_string(),
                reason: e.to_string(),
            }),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// `url` without user name or password, for messages.
fn shown(url: &Url) -> String {
    let mut shown = url.clone();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.to_string()
}
