//! TLS for tests: a throwaway CA, a server certificate for 127.0.0.1 and localhost, client
//! certificates naming whom they like, and a channel that trusts the CA.

use std::path::Path;

use sha2::{Digest, Sha256};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};

use super::{CONNECT_DEADLINE, TestServer, test_endpoint, within};

/// A CA, a server certificate for 127.0.0.1 and localhost, and client certificates.
pub struct Certificates {
    pub ca_pem: String,
    server_pem: String,
    server_key: String,
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
}

impl Certificates {
    pub fn new() -> Certificates {
        let ca_key = rcgen::KeyPair::generate().expect("key");
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "voucher ledger test CA");
        let ca = ca_params.self_signed(&ca_key).expect("CA");
        let issuer = rcgen::Issuer::new(ca_params, ca_key);
        let server_key = rcgen::KeyPair::generate().expect("key");
        let mut server_params =
            rcgen::CertificateParams::new(vec!["localhost".to_owned()]).expect("params");
        server_params
            .subject_alt_names
            .push(rcgen::SanType::IpAddress("127.0.0.1".parse().expect("ip")));
        let server = server_params
            .signed_by(&server_key, &issuer)
            .expect("server certificate");
        Certificates {
            ca_pem: ca.pem(),
            server_pem: server.pem(),
            server_key: server_key.serialize_pem(),
            issuer,
        }
    }

    /// A client certificate whose subject CN is `common_name`: (certificate, key) as PEM.
    pub fn client(&self, common_name: &str) -> (String, String) {
        let (certificate, key, _) = self.client_with_fingerprint(common_name);
        (certificate, key)
    }

    /// [`Certificates::client`] and the SHA-256 of the certificate's DER bytes in hex, the
    /// fingerprint the bureau pins and revokes.
    pub fn client_with_fingerprint(&self, common_name: &str) -> (String, String, String) {
        let key = rcgen::KeyPair::generate().expect("key");
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, common_name);
        let certificate = params
            .signed_by(&key, &self.issuer)
            .expect("client certificate");
        let fingerprint = hex::encode(Sha256::digest(certificate.der()));
        (certificate.pem(), key.serialize_pem(), fingerprint)
    }

    /// The server's certificate and key, as PEM (for a database's TLS).
    pub fn server(&self) -> (&str, &str) {
        (&self.server_pem, &self.server_key)
    }

    pub fn write(&self, directory: &Path) -> [String; 3] {
        let write = |name: &str, text: &str| {
            let path = directory.join(name);
            std::fs::write(&path, text).expect("write");
            path.to_str().expect("utf-8").to_owned()
        };
        [
            write("ca.pem", &self.ca_pem),
            write("server.pem", &self.server_pem),
            write("server.key", &self.server_key),
        ]
    }
}

pub async fn tls_channel(
    server: &TestServer,
    certificates: &Certificates,
    client: Option<(String, String)>,
) -> Result<Channel, tonic::transport::Error> {
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&certificates.ca_pem))
        .domain_name("localhost");
    if let Some((certificate, key)) = client {
        tls = tls.identity(Identity::from_pem(certificate, key));
    }
    within(
        CONNECT_DEADLINE,
        "a TLS connection",
        test_endpoint(&format!("https://{}", server.address))
            .tls_config(tls)?
            .connect(),
    )
    .await
}
