//! The console's listener: a bound on open connections, and a deadline on idle ones (see SECURITY.md).
//!
//! `axum::serve` sets no timer, so hyper would wait forever for a request's headers or body,
//! and every connection holds a file descriptor: a client with a thousand idle sockets could
//! lock everyone out. Here a connection that neither sends nor receives a byte for
//! [`IDLE_DEADLINE`] is closed, and past [`CONNECTIONS_MAX`] open connections a new one is
//! closed at once (logged), so descriptors stay far below the unit's `LimitNOFILE`.

use std::io;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::connections::{BoundedStream, Connections};

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
    connections: Connections,
}

impl BoundedListener {
    pub fn new(listener: TcpListener) -> BoundedListener {
        BoundedListener {
            listener,
            connections: Connections::new("console", CONNECTIONS_MAX, IDLE_DEADLINE),
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
                    crate::connections::accept_failed("console", &error).await;
                    continue;
                }
            };
            if let Some(admitted) = self.connections.admit(stream) {
                return (admitted, address);
            }
        }
    }

    fn local_addr(&self) -> io::Result<std::net::SocketAddr> {
        self.listener.local_addr()
    }
}
