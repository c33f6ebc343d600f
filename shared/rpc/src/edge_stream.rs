//! One HTTP connection as the server reads it: plain TCP or TLS over it, holding one of its
//! listener's connection places, and closed when it sits idle (nothing read or written) for the
//! listener's idle timeout: a client that never finishes its request headers, keeps an idle
//! keep-alive connection, or stops reading its answer gives its place back.

use std::{
    io,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::TcpStream,
    sync::OwnedSemaphorePermit,
    time::{Instant, Sleep},
};
use tokio_rustls::server::TlsStream;

/// The bytes underneath.
#[derive(Debug)]
pub(crate) enum Transport {
    /// Plain HTTP.
    Plain(TcpStream),
    /// HTTPS.
    Tls(Box<TlsStream<TcpStream>>),
}

/// A connection with an idle deadline and a connection place.
#[derive(Debug)]
pub struct EdgeStream {
    transport: Transport,
    idle: Duration,
    deadline: Pin<Box<Sleep>>,
    listener: &'static str,
    _place: OwnedSemaphorePermit,
}

impl EdgeStream {
    pub(crate) fn new(transport: Transport, idle: Duration, listener: &'static str, place: OwnedSemaphorePermit) -> Self {
        metrics::gauge!("hypasis_http_connections", "listener" => listener).increment(1.0);
        Self { transport, idle, deadline: Box::pin(tokio::time::sleep(idle)), listener, _place: place }
    }

    /// Whether the connection is HTTPS.
    pub fn is_tls(&self) -> bool {
        matches!(self.transport, Transport::Tls(_))
    }

    fn touch(&mut self) {
        self.deadline.as_mut().reset(Instant::now() + self.idle);
    }

    /// While the transport waits: an error once the idle deadline has passed.
    fn expired(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => {
                metrics::counter!("hypasis_http_idle_closed_total", "listener" => self.listener).increment(1);
                Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, format!("idle for {:?}", self.idle))))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Drop for EdgeStream {
    fn drop(&mut self) {
        metrics::gauge!("hypasis_http_connections", "listener" => self.listener).decrement(1.0);
    }
}

impl AsyncRead for EdgeStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        let before = buf.filled().len();
        let polled = match &mut me.transport {
            Transport::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        };
        match polled {
            Poll::Ready(Ok(())) if buf.filled().len() > before => {
                me.touch();
                Poll::Ready(Ok(()))
            }
            Poll::Pending => me.expired(cx),
            other => other,
        }
    }
}

impl AsyncWrite for EdgeStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let me = self.get_mut();
        let polled = match &mut me.transport {
            Transport::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        };
        match polled {
            Poll::Ready(Ok(n)) => {
                if n > 0 {
                    me.touch();
                }
                Poll::Ready(Ok(n))
            }
            Poll::Pending => me.expired(cx).map(|r| r.map(|()| 0)),
            other => other,
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        let polled = match &mut me.transport {
            Transport::Plain(s) => Pin::new(s).poll_flush(cx),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        };
        match polled {
            Poll::Pending => me.expired(cx),
            other => other,
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().transport {
            Transport::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}
