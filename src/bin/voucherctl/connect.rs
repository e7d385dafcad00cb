//! The connection to voucherd: a channel to `--addr` (over TLS for `https://`, with
//! `--ca-cert`, `--tls-server-name` and `--client-cert` for mutual TLS), and the ledger's client
//! that puts the bearer token on every call. `health` opens a bare channel, since it needs no
//! token.

use std::path::Path;
use std::time::Duration;

use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};
use voucher_ledger::client::{error_chain, normalize_address};
use voucher_ledger::proto::voucher::v1::voucher_ledger_client::VoucherLedgerClient;
use voucher_ledger::wire::BearerToken;

use crate::token::Token;
use crate::{Cli, Failure};

pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// The ledger's client, every call carrying the bearer token.
pub type Client = VoucherLedgerClient<InterceptedService<Channel, BearerToken>>;

pub async fn connect(cli: &Cli, token: &Token) -> Result<Client, Failure> {
    let channel = open_channel(cli, CALL_TIMEOUT).await?;
    Ok(VoucherLedgerClient::with_interceptor(
        channel,
        token.bearer.clone(),
    ))
}

/// A channel to `--addr`, over TLS for https:// (with `--ca-cert`, and `--client-cert` for mTLS).
pub async fn open_channel(cli: &Cli, timeout: Duration) -> Result<Channel, Failure> {
    let address = &cli.addr;
    let uri = normalize_address(address).map_err(Failure::Usage)?;
    let mut endpoint = Endpoint::from_shared(uri.clone())
        .map_err(|error| Failure::Usage(format!("--addr {address:?} is not an address: {error}")))?
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(timeout);
    if uri.starts_with("https://") {
        endpoint = endpoint
            .tls_config(client_tls(cli)?)
            .map_err(|error| Failure::Usage(format!("TLS: {}", error_chain(&error))))?;
    }
    endpoint.connect().await.map_err(|error| {
        Failure::Connect(format!("cannot connect to {uri}: {}", error_chain(&error)))
    })
}

fn client_tls(cli: &Cli) -> Result<ClientTlsConfig, Failure> {
    let read = |flag: &str, path: &Path| {
        std::fs::read(path)
            .map_err(|error| Failure::Usage(format!("{flag} {}: {error}", path.display())))
    };
    let mut tls = ClientTlsConfig::new();
    tls = match &cli.ca_cert {
        Some(path) => tls.ca_certificate(Certificate::from_pem(read("--ca-cert", path)?)),
        None => tls.with_webpki_roots(),
    };
    if let Some(name) = &cli.tls_server_name {
        tls = tls.domain_name(name.as_str());
    }
    if let (Some(certificate), Some(key)) = (&cli.client_cert, &cli.client_key) {
        let identity = Identity::from_pem(
            read("--client-cert", certificate)?,
            read("--client-key", key)?,
        );
        tls = tls.identity(identity);
    }
    Ok(tls)
}
