//! Accepted connections, bounded in number and closed when idle (see SECURITY.md): shared by the gRPC
//! server and the console. Every connection holds a file descriptor and some memory; past the
//! bound a new one is closed at once (logged), and one that neither sends nor receives a byte
//! for its idle deadline is closed.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};

/// The places for open connections, and how long one may stay silent.
#[derive(Clone)]
pub struct Connections {
    open: Arc<Semaphore>,
    connections_max: usize,
    idle_deadline: Duration,
    /// Which server, for the log line.
    surface: &'static str,
}

impl Connections {
    pub fn new(
        surface: &'static str,
        connections_max: usize,
        idle_deadline: Duration,
    ) -> Connections {
        Connections {
            open: Arc::new(Semaphore::new(connections_max)),
            connections_max,
            idle_deadline,
            surface,
        }
    }

    /// The stream with a place, or `None` (the stream closed) when every place is taken.
    pub fn admit(&self, stream: TcpStream) -> Option<BoundedStream> {
        match self.open.clone().try_acquire_owned() {
            Ok(place) => Some(BoundedStream::new(stream, place, self.idle_deadline)),
            Err(_) => {
                let address = stream.peer_addr().ok();
                tracing::warn!(
                    surface = self.surface,
                    ?address,
                    limit = self.connections_max,
                    "too many open connections; closed a new one"
                );
                None
            }
        }
    }
}

/// How long to wait after a failed accept before the next: out of descriptors, accepting again
/// at once would only spin.
pub const ACCEPT_RETRY_DELAY: Duration = Duration::from_millis(50);

/// Logs a failed accept clearly (the open-file limit, mostly) and waits a moment.
pub async fn accept_failed(surface: &'static str, error: &io::Error) {
    // EMFILE (this process) and ENFILE (the whole system) on Linux.
    const TOO_MANY_OPEN_FILES: [i32; 2] = [24, 23];
    if error
        .raw_os_error()
        .is_some_and(|code| TOO_MANY_OPEN_FILES.contains(&code))
    {
        tracing::error!(
            surface,
            %error,
            "cannot accept a connection: the open-file limit is reached; raise LimitNOFILE (systemd) or `ulimit -n`, or lower max_connections"
        );
    } else {
        tracing::warn!(surface, %error, "cannot accept a connection");
    }
    tokio::time::sleep(ACCEPT_RETRY_DELAY).await;
}

/// An accepted connection: closed after its idle deadline without a byte either way; its
/// place is given back when it is dropped.
pub struct BoundedStream {
    stream: TcpStream,
    idle: Pin<Box<Sleep>>,
    idle_deadline: Duration,
    _place: OwnedSemaphorePermit,
}

impl BoundedStream {
    fn new(
        stream: TcpStream,
        place: OwnedSemaphorePermit,
        idle_deadline: Duration,
    ) -> BoundedStream {
        BoundedStream {
            stream,
            idle: Box::pin(tokio::time::sleep(idle_deadline)),
            idle_deadline,
            _place: place,
        }
    }

    pub fn peer_addr(&self) -> io::Result<std::net::SocketAddr> {
        self.stream.peer_addr()
    }

    fn active(&mut self) {
        let deadline = Instant::now() + self.idle_deadline;
        self.idle.as_mut().reset(deadline);
    }

    /// An error once the connection has been idle too long.
    fn check_idle(&mut self, context: &mut Context<'_>) -> Poll<io::Error> {
        ready!(self.idle.as_mut().poll(context));
        Poll::Ready(io::Error::new(
            io::ErrorKind::TimedOut,
            "the connection was idle too long",
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

/// The gRPC server learns the caller's address through this (`Request::remote_addr`).
impl tonic::transport::server::Connected for BoundedStream {
    type ConnectInfo = tonic::transport::server::TcpConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.stream.connect_info()
    }
}
