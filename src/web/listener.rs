//! The console's listener: a bound on open connections, and a deadline on idle ones (issue 12).
//!
//! `axum::serve` sets no timer, so hyper would wait forever for a request's headers or body,
//! and every connection holds a file descriptor: a client with a thousand idle sockets could
//! lock everyone out. Here a connection that neither sends nor receives a byte for
//! [`IDLE_DEADLINE`] is closed, and past [`CONNECTIONS_MAX`] open connections a new one is
//! closed at once (logged), so descriptors stay far below the unit's `LimitNOFILE`.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};

/// The most connections the console keeps open at once.
pub const CONNECTIONS_MAX: usize = 512;
/// How long a connection may stay silent both ways before it is closed.
pub const IDLE_DEADLINE: Duration = Duration::from_secs(30);

/// The address a console request came from (axum's `ConnectInfo` for this listener).
#[derive(Clone, Copy, Debug)]
pub struct PeerAddress(pub std::net::SocketAddr);

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, BoundedListener>>
    for PeerAddress
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, BoundedListener>) -> PeerAddress {
        PeerAddress(*stream.remote_addr())
    }
}

/// A TCP listener that bounds and times out what it accepts.
pub struct BoundedListener {
    listener: TcpListener,
    open: Arc<Semaphore>,
}

impl BoundedListener {
    pub fn new(listener: TcpListener) -> BoundedListener {
        BoundedListener {
            listener,
            open: Arc::new(Semaphore::new(CONNECTIONS_MAX)),
        }
    }
}

impl axum::serve::Listener for BoundedListener {
    type Io = BoundedStream;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (BoundedStream, std::net::SocketAddr) {
        loop {
            let (stream, address) = match self.listener.accept().await {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of descriptors, mostly: wait a moment rather than spin.
                    tracing::warn!(%error, "console: cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            match self.open.clone().try_acquire_owned() {
                Ok(permit) => return (BoundedStream::new(stream, permit), address),
                Err(_) => {
                    tracing::warn!(%address, limit = CONNECTIONS_MAX, "console: too many open connections; closed a new one");
                    drop(stream);
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<std::net::SocketAddr> {
        self.listener.local_addr()
    }
}

/// An accepted connection: closed after [`IDLE_DEADLINE`] without a byte either way; its
/// place among [`CONNECTIONS_MAX`] is given back when it is dropped.
pub struct BoundedStream {
    stream: TcpStream,
    idle: Pin<Box<Sleep>>,
    _place: OwnedSemaphorePermit,
}

impl BoundedStream {
    fn new(stream: TcpStream, place: OwnedSemaphorePermit) -> BoundedStream {
        BoundedStream {
            stream,
            idle: Box::pin(tokio::time::sleep(IDLE_DEADLINE)),
            _place: place,
        }
    }

    fn active(&mut self) {
        self.idle.as_mut().reset(Instant::now() + IDLE_DEADLINE);
    }

    /// An error once the connection has been idle too long.
    fn check_idle(&mut self, context: &mut Context<'_>) -> Poll<io::Error> {
        ready!(self.idle.as_mut().poll(context));
        Poll::Ready(io::Error::new(
            io::ErrorKind::TimedOut,
            "the console connection was idle too long",
        ))
    }
}

impl AsyncRead for BoundedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffer: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buffer.filled().len();
        match Pin::new(&mut self.stream).poll_read(context, buffer) {
            Poll::Ready(result) => {
                if buffer.filled().len() > before {
                    self.active();
                }
                Poll::Ready(result)
            }
            Poll::Pending => self.check_idle(context).map(Err),
        }
    }
}

impl AsyncWrite for BoundedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
        bytes: &[u8],
    ) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.stream).poll_write(context, bytes) {
            Poll::Ready(result) => {
                self.active();
                Poll::Ready(result)
            }
            Poll::Pending => self.check_idle(context).map(Err),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(context)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(context)
    }
}
