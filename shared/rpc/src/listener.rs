//! HTTP listeners (REST API, JSON-RPC): behind a load balancer speaking the PROXY protocol each
//! connection's header is read (from trusted proxies) or refused (from anyone else), and with a
//! certificate the TLS handshake is made, each on the connection's own task, so a slow or silent
//! connection never holds up the accept loop. Each listener has at most `max_connections` open
//! (more are closed at accept, so the API cannot eat the file descriptors devp2p needs) and
//! closes connections idle for `idle_timeout` ([`EdgeStream`]). [`ClientAddr`] is the
//! connection's client address for handlers (`ConnectInfo<ClientAddr>`), with or without the
//! PROXY protocol.

use crate::edge_stream::{EdgeStream, Transport};
use hypasis_p2p::proxy::{DEFAULT_HEADER_TIMEOUT, TrustedProxies, client_addr};
use std::{
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};
use tokio::{
    net::{TcpListener, TcpStream},
    sync::{OwnedSemaphorePermit, Semaphore, mpsc},
};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

/// Connections whose header has been read and that wait for the HTTP server.
const ACCEPTED_QUEUE: usize = 1_024;
/// Longest a client may take over the TLS handshake.
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Most connections open on one HTTP listener.
pub const DEFAULT_MAX_CONNECTIONS: usize = 4_096;
/// A connection with nothing read or written for this long is closed.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Refused connections are logged at most this often.
const REFUSAL_LOG_EVERY: Duration = Duration::from_secs(10);

/// How an [`EdgeListener`] treats new connections.
#[derive(Clone)]
pub struct EdgeOptions {
    /// Load balancers whose PROXY headers are believed (empty: the protocol is off).
    pub trusted: TrustedProxies,
    /// Longest a trusted proxy may take to send its header.
    pub header_timeout: Duration,
    /// HTTPS when set.
    pub tls: Option<TlsAcceptor>,
    /// Most connections open at once (counting those still in their PROXY or TLS handshake).
    pub max_connections: usize,
    /// Nothing read or written for this long closes the connection.
    pub idle_timeout: Duration,
}

impl Default for EdgeOptions {
    fn default() -> Self {
        Self {
            trusted: TrustedProxies::default(),
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            tls: None,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
        }
    }
}

impl std::fmt::Debug for EdgeOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EdgeOptions")
            .field("trusted", &self.trusted)
            .field("header_timeout", &self.header_timeout)
            .field("tls", &self.tls.is_some())
            .field("max_connections", &self.max_connections)
            .field("idle_timeout", &self.idle_timeout)
            .finish()
    }
}

/// A listener yielding connections ready for HTTP, with the client address their PROXY header
/// names (or their peer address).
#[derive(Debug)]
pub struct EdgeListener {
    rx: mpsc::Receiver<(EdgeStream, SocketAddr)>,
    local: SocketAddr,
}

/// Reads the PROXY header, then makes the TLS handshake, as `options` say.
async fn open(
    mut stream: TcpStream,
    peer: SocketAddr,
    place: OwnedSemaphorePermit,
    options: &EdgeOptions,
    name: &'static str,
) -> Option<(EdgeStream, SocketAddr)> {
    let client = match client_addr(&mut stream, peer, &options.trusted, options.header_timeout, name).await {
        Ok(client) => client,
        Err(e) => {
            tracing::debug!(target: "api::proxy", listener = name, %peer, error = %e, "connection refused");
            return None;
        }
    };
    let idle = options.idle_timeout;
    let Some(acceptor) = &options.tls else { return Some((EdgeStream::new(Transport::Plain(stream), idle, name, place), client)) };
    match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => Some((EdgeStream::new(Transport::Tls(Box::new(tls)), idle, name, place), client)),
        Ok(Err(e)) => {
            metrics::counter!("hypasis_tls_handshake_failures_total", "listener" => name, "reason" => "error").increment(1);
            tracing::debug!(target: "api::tls", listener = name, %client, error = %e, "TLS handshake failed");
            None
        }
        Err(_) => {
            metrics::counter!("hypasis_tls_handshake_failures_total", "listener" => name, "reason" => "timeout").increment(1);
            None
        }
    }
}

impl EdgeListener {
    /// Accepts on `listener` until `cancel`, each connection opened as `options` say; `name`
    /// labels the metrics (`api`, `rpc`).
    ///
    /// # Errors
    /// When the listener's local address cannot be read.
    pub fn spawn(listener: TcpListener, options: EdgeOptions, name: &'static str, cancel: CancellationToken) -> std::io::Result<Self> {
        let local = listener.local_addr()?;
        let (tx, rx) = mpsc::channel(ACCEPTED_QUEUE);
        let places = Arc::new(Semaphore::new(options.max_connections.max(1)));
        metrics::gauge!("hypasis_http_limit", "listener" => name, "name" => "max_connections").set(options.max_connections as f64);
        metrics::gauge!("hypasis_http_limit", "listener" => name, "name" => "idle_timeout_seconds").set(options.idle_timeout.as_secs_f64());
        tokio::spawn(async move {
            let (mut refused, mut logged) = (0u64, None::<Instant>);
            let (mut failed, mut failure_logged) = (0u64, None::<Instant>);
            loop {
                let (stream, peer) = tokio::select! {
                    () = cancel.cancelled() => return,
                    accepted = listener.accept() => match accepted {
                        Ok(a) => a,
                        Err(e) => {
                            // Out of file descriptors, most likely: say so now and then, not 20 times a second.
                            failed += 1;
                            metrics::counter!("hypasis_http_accept_errors_total", "listener" => name).increment(1);
                            if failure_logged.is_none_or(|at| at.elapsed() >= REFUSAL_LOG_EVERY) {
                                tracing::error!(target: "api::edge", listener = name, error = %e, failed, "accept failed");
                                (failed, failure_logged) = (0, Some(Instant::now()));
                            }
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    },
                };
                let Ok(place) = places.clone().try_acquire_owned() else {
                    drop(stream);
                    refused += 1;
                    metrics::counter!("hypasis_http_refused_total", "listener" => name, "reason" => "max_connections").increment(1);
                    if logged.is_none_or(|at| at.elapsed() >= REFUSAL_LOG_EVERY) {
                        tracing::warn!(target: "api::edge", listener = name, refused, max = options.max_connections, "connections refused: the listener is full");
                        (refused, logged) = (0, Some(Instant::now()));
                    }
                    continue;
                };
                let (tx, options) = (tx.clone(), options.clone());
                tokio::spawn(async move {
                    if let Some(opened) = open(stream, peer, place, &options, name).await {
                        let _ = tx.send(opened).await;
                    }
                });
            }
        });
        Ok(Self { rx, local })
    }
}

impl axum::serve::Listener for EdgeListener {
    type Io = EdgeStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.rx.recv().await {
            Some(accepted) => accepted,
            // The accept task stopped (shutdown): nothing more will come.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

/// The address a connection speaks for (the PROXY header's client, else the peer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub SocketAddr);

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, TcpListener>> for ClientAddr {
    fn connect_info(stream: axum::serve::IncomingStream<'_, TcpListener>) -> Self {
        Self(*stream.remote_addr())
    }
}

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, EdgeListener>> for ClientAddr {
    fn connect_info(stream: axum::serve::IncomingStream<'_, EdgeListener>) -> Self {
        Self(*stream.remote_addr())
    }
}
