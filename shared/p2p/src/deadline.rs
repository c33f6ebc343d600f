//! A write deadline for peer connections: a peer that stops reading blocks our writes once its
//! TCP window fills, and the session's idle check cannot run while a write is stuck. A write (or
//! flush) that makes no progress for the write timeout fails with `TimedOut`, which ends the
//! session (`hypasis_p2p_write_timeouts_total`). Reads pass through.

use std::{
    io,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::TcpStream,
    time::Sleep,
};

/// A peer's TCP stream whose writes must make progress within a timeout.
#[derive(Debug)]
pub struct PeerStream {
    inner: TcpStream,
    timeout: Duration,
    /// Armed when a write first waits; disarmed by any progress.
    stalled: Option<Pin<Box<Sleep>>>,
}

impl PeerStream {
    /// `inner` with writes that fail after `timeout` without progress.
    pub fn new(inner: TcpStream, timeout: Duration) -> Self {
        Self { inner, timeout, stalled: None }
    }

    fn waiting(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        let timeout = self.timeout;
        let stalled = self.stalled.get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        match stalled.as_mut().poll(cx) {
            Poll::Ready(()) => {
                metrics::counter!("hypasis_p2p_write_timeouts_total").increment(1);
                Poll::Ready(io::Error::new(io::ErrorKind::TimedOut, format!("the peer read nothing for {timeout:?}")))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncRead for PeerStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for PeerStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let me = self.get_mut();
        match Pin::new(&mut me.inner).poll_write(cx, buf) {
            Poll::Pending => me.waiting(cx).map(Err),
            done => {
                me.stalled = None;
                done
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        match Pin::new(&mut me.inner).poll_flush(cx) {
            Poll::Pending => me.waiting(cx).map(Err),
            done => {
                me.stalled = None;
                done
            }
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        match Pin::new(&mut me.inner).poll_shutdown(cx) {
            Poll::Pending => me.waiting(cx).map(Err),
            done => done,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[tokio::test]
    async fn a_peer_that_stops_reading_fails_our_writes_after_the_timeout() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let client = TcpStream::connect(listener.local_addr().expect("addr")).await.expect("connect");
        let (server, _) = listener.accept().await.expect("accept");
        let mut stream = PeerStream::new(server, Duration::from_millis(300));
        let chunk = vec![0u8; 64 * 1024];
        let started = std::time::Instant::now();
        // The client never reads: the socket buffers fill, then the write times out.
        let error = loop {
            if let Err(e) = stream.write_all(&chunk).await {
                break e;
            }
            assert!(started.elapsed() < Duration::from_secs(10), "writes never blocked");
        };
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        drop(client);
    }
}
