//! HTTPS for the REST API and JSON-RPC listeners: rustls (TLS 1.2 and 1.3, ring), the
//! certificate chain and key read from PEM files and re-read on demand ([`ServerCert::reload`],
//! on SIGHUP in the node). A reload only changes what new handshakes get: open connections keep
//! their session, and a file that fails to load leaves the previous certificate in force.

use parking_lot::RwLock;
use rustls::{
    ServerConfig,
    pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject},
    server::{ClientHello, ResolvesServerCert},
    sign::CertifiedKey,
};
use std::{
    path::{Path, PathBuf},
    sync::Arc,
};
use tokio_rustls::TlsAcceptor;

/// Why a certificate or key could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The file holds no PEM certificate, or cannot be read.
    #[error("{path}: no usable PEM certificate ({reason})")]
    Cert {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The file holds no PEM private key (PKCS#8, PKCS#1 or SEC1), or cannot be read.
    #[error("{path}: no usable PEM private key ({reason})")]
    Key {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The key is not one rustls can sign with, or does not belong to the certificate.
    #[error("{key} does not go with {cert}: {reason}")]
    Mismatch {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// A certificate and key from files, swapped in place on [`ServerCert::reload`].
#[derive(Debug)]
pub struct ServerCert {
    cert_path: PathBuf,
    key_path: PathBuf,
    current: RwLock<Arc<CertifiedKey>>,
}

fn read(cert_path: &Path, key_path: &Path) -> Result<Arc<CertifiedKey>, TlsError> {
    let cert_error = |reason: String| TlsError::Cert { path: cert_path.to_owned(), reason };
    let chain = CertificateDer::pem_file_iter(cert_path)
        .map_err(|e| cert_error(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| cert_error(e.to_string()))?;
    if chain.is_empty() {
        return Err(cert_error("no CERTIFICATE block".into()));
    }
    let key = PrivateKeyDer::from_pem_file(key_path).map_err(|e| TlsError::Key { path: key_path.to_owned(), reason: e.to_string() })?;
    let provider = rustls::crypto::ring::default_provider();
    let certified = CertifiedKey::from_der(chain, key, &provider).map_err(|e| TlsError::Mismatch {
        cert: cert_path.to_owned(),
        key: key_path.to_owned(),
        reason: e.to_string(),
    })?;
    Ok(Arc::new(certified))
}

impl ServerCert {
    /// Reads `cert_path` (the chain, leaf first) and `key_path`.
    ///
    /// # Errors
    /// [`TlsError`] naming the file and what is wrong.
    pub fn load(cert_path: &Path, key_path: &Path) -> Result<Arc<Self>, TlsError> {
        let current = RwLock::new(read(cert_path, key_path)?);
        Ok(Arc::new(Self { cert_path: cert_path.to_owned(), key_path: key_path.to_owned(), current }))
    }

    /// Re-reads the files; on an error the previous certificate stays in force.
    ///
    /// # Errors
    /// [`TlsError`].
    pub fn reload(&self) -> Result<(), TlsError> {
        let result = read(&self.cert_path, &self.key_path).map(|fresh| *self.current.write() = fresh);
        let label = if result.is_ok() { "ok" } else { "error" };
        metrics::counter!("hypasis_tls_reloads_total", "result" => label).increment(1);
        result
    }

    /// A TLS acceptor serving this certificate (TLS 1.2 and 1.3; ALPN `http/1.1`).
    ///
    /// # Panics
    /// Never: the ring provider supports the default protocol versions.
    pub fn acceptor(self: &Arc<Self>) -> TlsAcceptor {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .expect("ring supports TLS 1.2 and 1.3")
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        TlsAcceptor::from(Arc::new(config))
    }
}

impl ResolvesServerCert for ServerCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.read().clone())
    }
}
