//! HTTP listeners (REST API, JSON-RPC): behind a load balancer speaking the PROXY protocol each
//! connection's header is read (from trusted proxies) or refused (from anyone else), and with a
//! certificate the TLS handshake is made, each on the connection's own task, so a slow or silent
//! connection never holds up the accept loop. Each listener has at most `max_connections` open
//! (more are closed at accept, so the API cannot eat the file descriptors devp2p needs) and
//! closes connections idle for `idle_timeout` ([`EdgeStream`]). [`ClientAddr`] is the
//! connection's client address for handlers (`ConnectInfo<ClientAddr>`), with or without the
//! PROXY protocol.

use crate::edge_stream::{Busy, EdgeStream, Transport};
use hypasis_p2p::{
    per_ip::IpCounts,
    proxy::{DEFAULT_HEADER_TIMEOUT, TrustedProxies, client_addr},
};
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
/// Most connections open from one client address on one HTTP listener (trusted load balancers,
/// whose connections carry many clients, are not counted).
pub const DEFAULT_MAX_CONNECTIONS_PER_IP: usize = 256;
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
    /// Most connections open from one client address.
    pub max_connections_per_ip: usize,
}

impl Default for EdgeOptions {
    fn default() -> Self {
        Self {
            trusted: TrustedProxies::default(),
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            tls: None,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_connections_per_ip: DEFAULT_MAX_CONNECTIONS_PER_IP,
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
            .field("max_connections_per_ip", &self.max_connections_per_ip)
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

/// Reads the PROXY header, takes the client's share of the connections, then makes the TLS
/// handshake, as `options` say.
async fn open(
    mut stream: TcpStream,
    peer: SocketAddr,
    place: OwnedSemaphorePermit,
    (options, per_ip): (&EdgeOptions, &Arc<IpCounts>),
    name: &'static str,
) -> Option<(EdgeStream, SocketAddr)> {
    let client = match client_addr(&mut stream, peer, &options.trusted, options.header_timeout, name).await {
        Ok(client) => client,
        Err(e) => {
            tracing::debug!(target: "api::proxy", listener = name, %peer, error = %e, "connection refused");
            return None;
        }
    };
    // A load balancer's own connections (no PROXY header: HTTP proxying) carry many clients.
    let ticket = if options.trusted.contains(client.ip()) {
        None
    } else {
        let Some(ticket) = per_ip.take(client.ip()) else {
            metrics::counter!("hypasis_http_refused_total", "listener" => name, "reason" => "per_ip").increment(1);
            return None;
        };
        Some(ticket)
    };
    let place = (place, ticket);
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
        let per_ip = IpCounts::new(options.max_connections_per_ip.max(1));
        metrics::gauge!("hypasis_http_limit", "listener" => name, "name" => "max_connections").set(options.max_connections as f64);
        metrics::gauge!("hypasis_http_limit", "listener" => name, "name" => "max_connections_per_ip")
            .set(options.max_connections_per_ip as f64);
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
                let (tx, options, per_ip) = (tx.clone(), options.clone(), per_ip.clone());
                tokio::spawn(async move {
                    if let Some(opened) = open(stream, peer, place, (&options, &per_ip), name).await {
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

/// The address a connection speaks for (the PROXY header's client, else the peer), and its
/// request counter ([`Busy`]: [`track_busy`] holds it while a request is handled).
#[derive(Debug, Clone)]
pub struct ClientAddr(pub SocketAddr, pub Busy);

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, TcpListener>> for ClientAddr {
    fn connect_info(stream: axum::serve::IncomingStream<'_, TcpListener>) -> Self {
        Self(*stream.remote_addr(), Busy::default())
    }
}

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, EdgeListener>> for ClientAddr {
    fn connect_info(stream: axum::serve::IncomingStream<'_, EdgeListener>) -> Self {
        Self(*stream.remote_addr(), stream.io().busy())
    }
}

/// Middleware: a GET or HEAD request (no body to wait for) makes its connection busy (never
/// idle) while it is handled, up to the response head; the response body is then written under
/// the idle timeout like any write. Requests with a body enter [`Busy`] in their handler once the
/// body has arrived, so a client that stops sending a body is still cut off.
pub async fn track_busy(request: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    let bodiless = matches!(*request.method(), axum::http::Method::GET | axum::http::Method::HEAD);
    let guard = bodiless.then(|| request.extensions().get::<axum::extract::ConnectInfo<ClientAddr>>().map(|info| info.0.1.enter()));
    let response = next.run(request).await;
    drop(guard);
    response
}
