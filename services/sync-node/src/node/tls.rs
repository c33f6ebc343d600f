//! HTTPS on the REST API and JSON-RPC ports: the certificate is read before any port is bound
//! (a bad file is a configuration error) and re-read on SIGHUP (a bad file then keeps the
//! certificate in force; open connections are never dropped).

use super::NodeError;
use crate::config::Settings;
use hypasis_rpc::ServerCert;
use std::sync::Arc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// The certificate from `--tls-cert` / `--tls-key`, or `None` (plain HTTP) without them.
///
/// # Errors
/// [`NodeError::Tls`] when a file is unreadable, not PEM, or the key does not fit.
pub(super) fn load(settings: &Settings) -> Result<Option<Arc<ServerCert>>, NodeError> {
    let Some(files) = &settings.tls else { return Ok(None) };
    let cert = ServerCert::load(&files.cert, &files.key).map_err(NodeError::Tls)?;
    tracing::info!(cert = %files.cert.display(), "HTTPS on the REST API and JSON-RPC ports");
    Ok(Some(cert))
}

/// Re-reads the certificate on every SIGHUP until `cancel`.
pub(super) fn spawn_reload(cert: &Arc<ServerCert>, tasks: &mut JoinSet<()>, cancel: &CancellationToken) {
    let (cert, cancel) = (cert.clone(), cancel.clone());
    tasks.spawn(async move {
        let Ok(mut hangups) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else {
            tracing::warn!("cannot listen for SIGHUP; the TLS certificate is read at start only");
            return;
        };
        loop {
            tokio::select! {
                () = cancel.cancelled() => return,
                _ = hangups.recv() => {}
            }
            match cert.reload() {
                Ok(()) => tracing::info!("TLS certificate reloaded"),
                Err(e) => tracing::error!(error = %e, "TLS certificate refused; the previous one stays in force"),
            }
        }
    });
}
