//! The gRPC surface, and the only module that knows gRPC: the `VoucherLedger` service, the
//! standard health service, and server reflection (v1 and v1alpha) so that `grpcurl` works
//! without the proto files.

pub mod audit;
pub mod auth;
pub mod codec;
pub mod convert;
pub mod enterprise;
pub mod limit;
pub mod observe;
pub mod requests;
pub mod service;
pub mod status;

use std::future::Future;

use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::transport::{Certificate, Identity, ServerTlsConfig};

use crate::engine::Engine;
use crate::proto::voucher::v1::FILE_DESCRIPTOR_SET;
use crate::proto::voucher::v1::voucher_ledger_server::VoucherLedgerServer;
use service::LedgerService;

/// How often an idle connection is pinged, and how long the ping's answer may take before the
/// connection is closed.
const HTTP2_KEEPALIVE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(30);
const HTTP2_KEEPALIVE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
const TCP_KEEPALIVE: std::time::Duration = std::time::Duration::from_secs(60);
/// A connection with not a byte either way for this long is closed (a live client's keepalive
/// pings, and ours, are bytes).
const CONNECTION_IDLE_DEADLINE: std::time::Duration = std::time::Duration::from_secs(300);

/// Bounds on what one caller can make the server hold.
#[derive(Clone, Copy, Debug)]
pub struct ServeLimits {
    /// The largest request or response message.
    pub message_bytes_max: usize,
    /// Requests the whole server handles at once; past it, RESOURCE_EXHAUSTED at once.
    pub concurrent_requests_max: usize,
    /// Requests one connection may have in flight; more wait for a slot.
    pub concurrent_requests_per_connection_max: usize,
    /// How long a request's message may take to arrive once its headers have; it holds no
    /// slot meanwhile, and its stream is answered DEADLINE_EXCEEDED after.
    pub body_read_deadline: std::time::Duration,
    /// Connections open at once; a new one beyond is closed at once.
    pub connections_max: usize,
}

impl Default for ServeLimits {
    fn default() -> ServeLimits {
        ServeLimits {
            message_bytes_max: 64 * 1024,
            concurrent_requests_max: 1024,
            concurrent_requests_per_connection_max: 256,
            body_read_deadline: std::time::Duration::from_secs(10),
            connections_max: 4096,
        }
    }
}

/// The PEM files of the server's TLS, and whether client certificates are required.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    pub cert_pem: Vec<u8>,
    pub key_pem: Vec<u8>,
    /// The CA of accepted client certificates (mTLS), if any.
    pub client_ca_pem: Option<Vec<u8>>,
    pub require_client_cert: bool,
}

impl TlsFiles {
    fn server_config(&self) -> ServerTlsConfig {
        let identity = Identity::from_pem(&self.cert_pem, &self.key_pem);
        let config = ServerTlsConfig::new().identity(identity);
        match &self.client_ca_pem {
            Some(ca) => config
                .client_ca_root(Certificate::from_pem(ca))
                .client_auth_optional(!self.require_client_cert),
            None => config,
        }
    }

    /// Parses the certificates and key without serving, so a bad file stops voucherd before
    /// it says it is listening.
    pub fn check(&self) -> Result<(), tonic::transport::Error> {
        tonic::transport::Server::builder()
            .tls_config(self.server_config())
            .map(drop)
    }
}

/// The connections `listener` accepts, at most `limits.connections_max` open at once (a new
/// one beyond is closed and logged) and each closed when idle (see `connections`).
fn bounded_incoming(
    listener: TcpListener,
    limits: ServeLimits,
) -> impl tokio_stream::Stream<Item = std::io::Result<crate::connections::BoundedStream>> {
    use tokio_stream::StreamExt;
    let connections = crate::connections::Connections::new(
        "grpc",
        limits.connections_max,
        CONNECTION_IDLE_DEADLINE,
    );
    // tonic only traces a failed accept and asks again at once: out of descriptors, that
    // spins. A failure is logged here, waited on, and not passed on.
    TcpListenerStream::new(listener)
        .then(|accepted| async move {
            match accepted {
                Ok(stream) => Some(stream),
                Err(error) => {
                    crate::connections::accept_failed("grpc", &error).await;
                    None
                }
            }
        })
        .filter_map(move |accepted| connections.admit(accepted?).map(Ok))
}

/// The health service's name for "this voucherd writes": SERVING on the active voucherd,
/// NOT_SERVING on a standby (reads are served by both: `voucher.v1.VoucherLedger`). A probe
/// or a load balancer that sends writes asks for this one.
pub const WRITER_HEALTH_SERVICE: &str = "voucher.v1.VoucherLedger.Writer";

/// Keeps [`WRITER_HEALTH_SERVICE`]'s status equal to whether this voucherd writes.
async fn report_writer_health(
    reporter: tonic_health::server::HealthReporter,
    mut writer: tokio::sync::watch::Receiver<bool>,
) {
    use tonic_health::ServingStatus;
    loop {
        let status = if *writer.borrow_and_update() {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        };
        reporter
            .set_service_status(WRITER_HEALTH_SERVICE, status)
            .await;
        if writer.changed().await.is_err() {
            return;
        }
    }
}

/// Serves on `listener` (over TLS when `tls` is given) until `shutdown` resolves, then stops
/// taking requests and lets those in flight finish.
pub async fn serve(
    listener: TcpListener,
    engine: Engine,
    limits: ServeLimits,
    tls: Option<TlsFiles>,
    attempts: std::sync::Arc<crate::attempts::FailedAttempts>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    health_reporter
        .set_serving::<VoucherLedgerServer<LedgerService>>()
        .await;
    tokio::spawn(report_writer_health(
        health_reporter.clone(),
        engine.writer_changes(),
    ));
    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .expect("the compiled descriptor set is valid");
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()
        .expect("the compiled descriptor set is valid");
    let ledger = VoucherLedgerServer::new(LedgerService::new(engine, attempts))
        .max_decoding_message_size(limits.message_bytes_max)
        .max_encoding_message_size(limits.message_bytes_max * 16);
    let mut server = tonic::transport::Server::builder();
    if let Some(tls) = &tls {
        server = server.tls_config(tls.server_config())?;
    }
    let streams_per_connection_max =
        u32::try_from(limits.concurrent_requests_per_connection_max).unwrap_or(u32::MAX);
    server
        .concurrency_limit_per_connection(limits.concurrent_requests_per_connection_max)
        // A peer that stops answering is found and dropped; HTTP/2 itself bounds its streams.
        .max_concurrent_streams(streams_per_connection_max)
        .http2_keepalive_interval(Some(HTTP2_KEEPALIVE_INTERVAL))
        .http2_keepalive_timeout(Some(HTTP2_KEEPALIVE_TIMEOUT))
        .tcp_keepalive(Some(TCP_KEEPALIVE))
        .layer(limit::RequestLimitLayer::new(
            limits.concurrent_requests_max,
            limits.message_bytes_max,
            limits.body_read_deadline,
        ))
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(ledger)
        .serve_with_incoming_shutdown(bounded_incoming(listener, limits), shutdown)
        .await
}
