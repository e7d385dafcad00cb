//! TLS to the database, asked for in the store URL in libpq's own words, so the address an
//! operator gives `psql` is the one voucherd takes:
//! `postgres://voucher@db.example:5432/ledger?sslmode=verify-full&sslrootcert=/etc/voucher/db-ca.pem`.
//!
//! - `sslmode=verify-full`, `verify-ca` or `require`: TLS, and the server's certificate must
//!   chain to `sslrootcert` (PEM, one or more CAs) and name the host of the URL. All three
//!   verify in full: voucherd never sends a ledger or a password to a server it has not
//!   checked, whatever libpq would accept under `require`.
//! - `sslmode=disable`, or none: no TLS (a database on the same machine or a private network).
//! - `sslmode=prefer` or `allow`: refused. Each falls back to a connection in the clear
//!   without saying so, which is not a choice a ledger of public money should make silently.
//!
//! tokio-postgres reads the rest of the URL; it knows neither `sslrootcert` nor the `verify-*`
//! modes, so [`split`] takes them out first.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::store::StoreError;

/// How voucherd's connections to the database are protected.
#[derive(Clone)]
pub(super) enum Security {
    /// In the clear (`sslmode=disable`, or none).
    Plain,
    /// TLS, the server's certificate verified against the configured CAs.
    Verified(MakeRustlsConnect),
}

/// What the URL asked for, before the CA file is read.
#[derive(Debug, PartialEq, Eq)]
enum Asked {
    Plain,
    Verified { root_certificates: PathBuf },
}

/// Splits the store URL into what tokio-postgres reads (with `sslmode=require` when TLS is
/// asked for, so a server without TLS is refused) and how to protect the connection.
pub(super) fn split(url: &str) -> Result<(String, Security), StoreError> {
    let (rest, asked) = read_parameters(url)?;
    let security = match asked {
        Asked::Plain => Security::Plain,
        Asked::Verified { root_certificates } => Security::Verified(connector(&root_certificates)?),
    };
    Ok((rest, security))
}

/// The URL tokio-postgres reads: without the TLS parameters voucherd reads itself.
pub(super) fn url_for_client(url: &str) -> Result<String, StoreError> {
    read_parameters(url).map(|(rest, _)| rest)
}

fn refused(why: String) -> StoreError {
    StoreError::Postgres(format!("the store address: {why}"))
}

/// Takes `sslmode` and `sslrootcert` out of the URL's query, leaving every other parameter
/// exactly as written.
fn read_parameters(url: &str) -> Result<(String, Asked), StoreError> {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut kept: Vec<&str> = Vec::new();
    let mut mode: Option<String> = None;
    let mut root_certificates: Option<String> = None;
    for piece in query.split('&').filter(|piece| !piece.is_empty()) {
        let Some((key, value)) = form_urlencoded::parse(piece.as_bytes()).next() else {
            continue;
        };
        match key.as_ref() {
            "sslmode" => mode = Some(value.into_owned()),
            "sslrootcert" => root_certificates = Some(value.into_owned()),
            _ => kept.push(piece),
        }
    }
    let asked = match mode.as_deref() {
        None | Some("disable") => {
            if root_certificates.is_some() {
                return Err(refused(
                    "sslrootcert is given but sslmode does not ask for TLS: add sslmode=verify-full"
                        .to_owned(),
                ));
            }
            Asked::Plain
        }
        Some("require" | "verify-ca" | "verify-full") => {
            let Some(path) = root_certificates else {
                return Err(refused(
                    "sslmode asks for TLS but names no sslrootcert: add sslrootcert=FILE, the PEM of the CA that signed the database's certificate"
                        .to_owned(),
                ));
            };
            kept.push("sslmode=require");
            Asked::Verified {
                root_certificates: PathBuf::from(path),
            }
        }
        Some(opportunistic @ ("prefer" | "allow")) => {
            return Err(refused(format!(
                "sslmode={opportunistic} falls back to a connection in the clear without saying so: use sslmode=verify-full with sslrootcert=FILE, or sslmode=disable on a trusted network"
            )));
        }
        Some(other) => {
            return Err(refused(format!(
                "sslmode={other} is not one of disable, require, verify-ca, verify-full"
            )));
        }
    };
    let rest = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((rest, asked))
}

/// A TLS connector trusting exactly the CAs in the PEM file at `path`.
fn connector(path: &Path) -> Result<MakeRustlsConnect, StoreError> {
    let unreadable = |error: &dyn std::fmt::Display| {
        refused(format!(
            "sslrootcert {} could not be read as PEM certificates: {error}",
            path.display()
        ))
    };
    let mut roots = rustls::RootCertStore::empty();
    for certificate in CertificateDer::pem_file_iter(path).map_err(|error| unreadable(&error))? {
        let certificate = certificate.map_err(|error| unreadable(&error))?;
        roots.add(certificate).map_err(|error| unreadable(&error))?;
    }
    if roots.is_empty() {
        return Err(unreadable(&"it holds no certificate"));
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|error| refused(format!("TLS could not be set up: {error}")))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asked(url: &str) -> Result<(String, Asked), String> {
        read_parameters(url).map_err(|error| error.to_string())
    }

    #[test]
    fn no_sslmode_is_plain_and_leaves_the_url_alone() {
        let url = "postgres://voucher@db:5432/ledger?application_name=x&options=-c%20a%3Db";
        assert_eq!(asked(url), Ok((url.to_owned(), Asked::Plain)));
        assert_eq!(
            asked("postgres://voucher@db/ledger?sslmode=disable"),
            Ok(("postgres://voucher@db/ledger".to_owned(), Asked::Plain))
        );
    }

    #[test]
    fn verify_full_takes_the_ca_file_and_asks_tokio_postgres_for_tls() {
        assert_eq!(
            asked(
                "postgres://v@db/l?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem&connect_timeout=3"
            ),
            Ok((
                "postgres://v@db/l?connect_timeout=3&sslmode=require".to_owned(),
                Asked::Verified {
                    root_certificates: PathBuf::from("/etc/ca.pem")
                }
            ))
        );
    }

    #[test]
    fn tls_without_a_ca_and_a_ca_without_tls_are_refused() {
        let missing = asked("postgres://v@db/l?sslmode=require").unwrap_err();
        assert!(missing.contains("sslrootcert"), "{missing}");
        let idle = asked("postgres://v@db/l?sslrootcert=/ca.pem").unwrap_err();
        assert!(idle.contains("sslmode=verify-full"), "{idle}");
    }

    #[test]
    fn modes_that_fall_back_to_the_clear_are_refused() {
        for mode in ["prefer", "allow"] {
            let refused = asked(&format!("postgres://v@db/l?sslmode={mode}")).unwrap_err();
            assert!(refused.contains("in the clear"), "{refused}");
        }
        let unknown = asked("postgres://v@db/l?sslmode=sometimes").unwrap_err();
        assert!(unknown.contains("sslmode=sometimes"), "{unknown}");
    }

    #[test]
    fn a_ca_file_that_is_not_pem_is_refused_naming_it() {
        let directory = tempfile::tempdir().expect("temporary directory");
        let path = directory.path().join("ca.pem");
        std::fs::write(&path, "not a certificate").expect("written");
        let error = connector(&path).err().map(|error| error.to_string());
        assert!(
            error
                .as_deref()
                .is_some_and(|error| error.contains("ca.pem")),
            "{error:?}"
        );
    }
}
