//! One HTTP connection as the server reads it: plain TCP or TLS over it, holding one of its
//! listener's connection places, and closed when it sits idle (nothing read or written) for the
//! listener's idle timeout: a client that never finishes its request headers, keeps an idle
//! keep-alive connection, or stops reading its answer gives its place back. While a request is
//! being handled ([`Busy`], entered by the routers' middleware) the connection is not idle, however
//! long the handler takes: the server keeps a read pending meanwhile, which must not time out.

use hypasis_p2p::per_ip::IpTicket;
use std::{
    io,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
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

/// Requests of one connection being handled now.
#[derive(Debug, Clone, Default)]
pub struct Busy(Arc<AtomicUsize>);

impl Busy {
    /// One request being handled until the guard drops.
    pub fn enter(&self) -> BusyGuard {
        self.0.fetch_add(1, Ordering::SeqCst);
        BusyGuard(self.0.clone())
    }

    fn is_busy(&self) -> bool {
        self.0.load(Ordering::SeqCst) > 0
    }
}

/// A request being handled (see [`Busy::enter`]).
#[derive(Debug)]
pub struct BusyGuard(Arc<AtomicUsize>);

impl Drop for BusyGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A connection with an idle deadline and a connection place.
#[derive(Debug)]
pub struct EdgeStream {
    transport: Transport,
    busy: Busy,
    idle: Duration,
    deadline: Pin<Box<Sleep>>,
    listener: &'static str,
    /// The listener's place and the client address's (none for a load balancer's connection).
    _place: (OwnedSemaphorePermit, Option<IpTicket>),
}

impl EdgeStream {
    pub(crate) fn new(
        transport: Transport,
        idle: Duration,
        listener: &'static str,
        place: (OwnedSemaphorePermit, Option<IpTicket>),
    ) -> Self {
        metrics::gauge!("hypasis_http_connections", "listener" => listener).increment(1.0);
        Self { transport, busy: Busy::default(), idle, deadline: Box::pin(tokio::time::sleep(idle)), listener, _place: place }
    }

    /// The connection's request counter, for the routers' middleware.
    pub fn busy(&self) -> Busy {
        self.busy.clone()
    }

    /// Whether the connection is HTTPS.
    pub fn is_tls(&self) -> bool {
        matches!(self.transport, Transport::Tls(_))
    }

    fn touch(&mut self) {
        self.deadline.as_mut().reset(Instant::now() + self.idle);
    }

    /// While a read waits: as [`EdgeStream::expired`], except while a request is being handled
    /// (the server reads ahead for the next request or for the client going away).
    fn read_expired(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.busy.is_busy() {
            self.touch();
            let _ = self.deadline.as_mut().poll(cx);
            return Poll::Pending;
        }
        self.expired(cx)
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
            Poll::Pending => me.read_expired(cx),
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

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::{io::AsyncReadExt, net::TcpListener, sync::Semaphore};

    /// A server-side stream with a 200 ms idle timeout, and the client's end.
    async fn pair() -> (EdgeStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let client = TcpStream::connect(listener.local_addr().expect("addr")).await.expect("connect");
        let (server, _) = listener.accept().await.expect("accept");
        let place = (Arc::new(Semaphore::new(1)).try_acquire_owned().expect("place"), None);
        (EdgeStream::new(Transport::Plain(server), Duration::from_millis(200), "test", place), client)
    }

    #[tokio::test]
    async fn an_idle_read_times_out_but_not_while_a_request_is_handled() {
        let (mut stream, _client) = pair().await;
        let guard = stream.busy().enter();
        let mut byte = [0u8; 1];
        let busy_read = tokio::time::timeout(Duration::from_millis(600), stream.read(&mut byte)).await;
        assert!(busy_read.is_err(), "still waiting after three idle timeouts while busy: {busy_read:?}");
        drop(guard);
        let idle_read = tokio::time::timeout(Duration::from_millis(600), stream.read(&mut byte)).await.expect("ends");
        assert_eq!(idle_read.map_err(|e| e.kind()), Err(io::ErrorKind::TimedOut), "idle once the request is answered");
    }
}
