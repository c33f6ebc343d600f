//! HTTP listeners (REST API, JSON-RPC): behind a load balancer speaking the PROXY protocol each
//! connection's header is read (from trusted proxies) or refused (from anyone else), and with a
//! certificate the TLS handshake is made, each on the connection's own task, so a slow or silent
//! connection never holds up the accept loop. [`ClientAddr`] is the connection's client address
//! for handlers (`ConnectInfo<ClientAddr>`), with or without the PROXY protocol.

use hypasis_p2p::proxy::{TrustedProxies, client_addr};
use std::{
    io,
    net::SocketAddr,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
    sync::mpsc,
};
use tokio_rustls::{TlsAcceptor, server::TlsStream};
use tokio_util::sync::CancellationToken;

/// Connections whose header has been read and that wait for the HTTP server.
const ACCEPTED_QUEUE: usize = 1_024;
/// Longest a client may take over the TLS handshake.
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How an [`EdgeListener`] treats new connections.
#[derive(Clone, Default)]
pub struct EdgeOptions {
    /// Load balancers whose PROXY headers are believed (empty: the protocol is off).
    pub trusted: TrustedProxies,
    /// Longest a trusted proxy may take to send its header.
    pub header_timeout: Duration,
    /// HTTPS when set.
    pub tls: Option<TlsAcceptor>,
}

impl std::fmt::Debug for EdgeOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EdgeOptions")
            .field("trusted", &self.trusted)
            .field("header_timeout", &self.header_timeout)
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

/// A connection the HTTP server reads: plain TCP or TLS over it.
#[derive(Debug)]
pub enum EdgeStream {
    /// Plain HTTP.
    Plain(TcpStream),
    /// HTTPS.
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for EdgeStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for EdgeStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_flush(cx),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }

    fn poll_write_vectored(self: Pin<&mut Self>, cx: &mut Context<'_>, bufs: &[io::IoSlice<'_>]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Self::Plain(s) => s.is_write_vectored(),
            Self::Tls(s) => s.is_write_vectored(),
        }
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
async fn open(mut stream: TcpStream, peer: SocketAddr, options: &EdgeOptions, name: &'static str) -> Option<(EdgeStream, SocketAddr)> {
    let client = match client_addr(&mut stream, peer, &options.trusted, options.header_timeout, name).await {
        Ok(client) => client,
        Err(e) => {
            tracing::debug!(target: "api::proxy", listener = name, %peer, error = %e, "connection refused");
            return None;
        }
    };
    let Some(acceptor) = &options.tls else { return Some((EdgeStream::Plain(stream), client)) };
    match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => Some((EdgeStream::Tls(Box::new(tls)), client)),
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
        tokio::spawn(async move {
            loop {
                let (stream, peer) = tokio::select! {
                    () = cancel.cancelled() => return,
                    accepted = listener.accept() => match accepted {
                        Ok(a) => a,
                        Err(e) => {
                            tracing::warn!(target: "api::proxy", listener = name, error = %e, "accept failed");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    },
                };
                let (tx, options) = (tx.clone(), options.clone());
                tokio::spawn(async move {
                    if let Some(opened) = open(stream, peer, &options, name).await {
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
