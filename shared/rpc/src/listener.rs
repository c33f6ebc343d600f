//! HTTP listeners (REST API, JSON-RPC) behind a load balancer speaking the PROXY protocol:
//! each connection's header is read (from trusted proxies) or refused (from anyone else) on its
//! own task, so a slow or silent connection never holds up the accept loop. [`ClientAddr`] is
//! the connection's client address for handlers (`ConnectInfo<ClientAddr>`), with or without the
//! PROXY protocol.

use hypasis_p2p::proxy::{TrustedProxies, client_addr};
use std::{net::SocketAddr, time::Duration};
use tokio::{
    net::{TcpListener, TcpStream},
    sync::mpsc,
};
use tokio_util::sync::CancellationToken;

/// Connections whose header has been read and that wait for the HTTP server.
const ACCEPTED_QUEUE: usize = 1_024;

/// A listener yielding connections with the client address their PROXY header names.
#[derive(Debug)]
pub struct ProxiedListener {
    rx: mpsc::Receiver<(TcpStream, SocketAddr)>,
    local: SocketAddr,
}

impl ProxiedListener {
    /// Accepts on `listener` until `cancel`, reading PROXY headers from `trusted` proxies
    /// within `timeout`; `name` labels the metrics (`api`, `rpc`).
    ///
    /// # Errors
    /// When the listener's local address cannot be read.
    pub fn spawn(
        listener: TcpListener,
        trusted: TrustedProxies,
        timeout: Duration,
        name: &'static str,
        cancel: CancellationToken,
    ) -> std::io::Result<Self> {
        let local = listener.local_addr()?;
        let (tx, rx) = mpsc::channel(ACCEPTED_QUEUE);
        tokio::spawn(async move {
            loop {
                let (mut stream, peer) = tokio::select! {
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
                let (tx, trusted) = (tx.clone(), trusted.clone());
                tokio::spawn(async move {
                    match client_addr(&mut stream, peer, &trusted, timeout, name).await {
                        Ok(client) => {
                            let _ = tx.send((stream, client)).await;
                        }
                        Err(e) => tracing::debug!(target: "api::proxy", listener = name, %peer, error = %e, "connection refused"),
                    }
                });
            }
        });
        Ok(Self { rx, local })
    }
}

impl axum::serve::Listener for ProxiedListener {
    type Io = TcpStream;
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

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, ProxiedListener>> for ClientAddr {
    fn connect_info(stream: axum::serve::IncomingStream<'_, ProxiedListener>) -> Self {
        Self(*stream.remote_addr())
    }
}
