//! [`RedisTarget`]: where Redis is and how to reach it, turned into a fred [`Config`].

use fred::{
    prelude::Config,
    rustls::{ClientConfig, RootCertStore, pki_types::CertificateDer, pki_types::pem::PemObject},
    types::config::{TlsConfig, TlsConnector},
};
use std::path::PathBuf;

/// Why a [`RedisTarget`] cannot be turned into a fred configuration.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// The URL is not a Redis URL fred understands.
    #[error("bad Redis URL: {0}")]
    Url(#[source] fred::prelude::Error),
    /// The CA file could not be read or holds no usable certificate.
    #[error("{}: {reason}", path.display())]
    CaFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

/// Where Redis is and how to reach it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RedisTarget {
    /// `redis://`, `rediss://` (TLS), `redis-cluster://host:port?node=host:port` or
    /// `redis-sentinel://` URL.
    pub url: String,
    /// Password (overrides one in the URL).
    pub password: Option<String>,
    /// PEM file of the CA certificates to trust for TLS instead of the system store; giving one
    /// turns TLS on.
    pub tls_ca_file: Option<PathBuf>,
}

impl RedisTarget {
    /// A target at `url` with no other settings.
    pub fn new(url: impl Into<String>) -> Self {
        Self { url: url.into(), ..Self::default() }
    }

    /// The fred configuration.
    ///
    /// # Errors
    /// [`TargetError`] naming what is wrong (the URL, or the CA file).
    pub fn fred_config(&self) -> Result<Config, TargetError> {
        let mut config = Config::from_url(&self.url).map_err(TargetError::Url)?;
        if self.password.is_some() {
            config.password.clone_from(&self.password);
        }
        if let Some(path) = &self.tls_ca_file {
            let mut roots = RootCertStore::empty();
            let bad = |reason: String| TargetError::CaFile { path: path.clone(), reason };
            let certs = CertificateDer::pem_file_iter(path).map_err(|e| bad(format!("cannot read it: {e}")))?;
            for cert in certs {
                let cert = cert.map_err(|e| bad(format!("not a PEM certificate file: {e}")))?;
                roots.add(cert).map_err(|e| bad(format!("unusable CA certificate: {e}")))?;
            }
            if roots.is_empty() {
                return Err(bad("no certificate in the file".into()));
            }
            let client = ClientConfig::builder().with_root_certificates(roots).with_no_client_auth();
            config.tls = Some(TlsConfig::from(TlsConnector::from(client)));
        }
        Ok(config)
    }
}
