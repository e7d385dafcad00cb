//! Who is calling: a bearer token in the `authorization` metadata, looked up by its SHA-256,
//! or, over mutual TLS, a client certificate whose subject CN is a registered provider's or
//! enterprise's credit code (a code registered as both identifies the provider: such an
//! enterprise acts as itself with a token). Tokens are never logged and never stored in the
//! clear.

use rand::RngCore;
use tonic::Request;

use super::observe::Call;
use std::time::Instant;

use super::status::{
    access_refused, permission_denied, to_status, too_many_failures, unauthenticated,
};
use crate::attempts::FailedAttempts;
use crate::domain::credit_code::CreditCode;
use crate::domain::model::{Actor, Caller, CallerStamp, EventCause, Role, Sha256Hex, Token};
use crate::engine::Reader;
use sha2::{Digest, Sha256};

/// The most characters of a certificate's subject the log keeps.
const SUBJECT_LENGTH_MAX: usize = 200;

/// The longest secret accepted; anything longer is not one of ours.
const SECRET_LENGTH_MAX: usize = 256;
/// Every secret starts with this, so one pasted in the wrong place is recognisable.
pub const SECRET_PREFIX: &str = "qdv_";

/// Authenticates the request, notes the caller's role on `call`, and checks the role is one
/// of `allowed`. A provider is also checked against its access (see SECURITY.md): suspended, or
/// come with a certificate the bureau revoked or did not pin, it is refused however it
/// authenticated.
pub fn authorize<T>(
    reader: &Reader,
    attempts: &FailedAttempts,
    request: &Request<T>,
    allowed: &[Role],
    call: &Call,
) -> Result<Caller, tonic::Status> {
    call.set_address(request.remote_addr());
    let address = request.remote_addr().map(|address| address.ip());
    if let Some(wait) = attempts.wait(address, Instant::now()) {
        return Err(too_many_failures(wait));
    }
    let certificate = client_certificate(request);
    let authenticated = match bearer_secret(request) {
        Ok(Some(secret)) => {
            token_actor(reader, secret, certificate.as_ref(), call).and_then(|(actor, token)| {
                admitted(reader, actor, certificate.as_ref()).map(|actor| (actor, Some(token)))
            })
        }
        Ok(None) => certificate_actor(reader, certificate.as_ref()).map(|actor| (actor, None)),
        Err(refusal) => Err(refusal),
    };
    let (actor, token) = authenticated.inspect_err(|refusal| {
        if refusal.code() == tonic::Code::Unauthenticated {
            crate::metrics::authentication_failed("grpc");
            let wait_s = attempts
                .failed(address, Instant::now())
                .map(|wait| wait.as_secs());
            tracing::warn!(
                address = ?request.remote_addr(),
                reason = refusal.message(),
                ?wait_s,
                "authentication failed"
            );
        }
    })?;
    call.set_role(actor.role());
    if !allowed.contains(&actor.role()) {
        return Err(permission_denied(&format!(
            "{} may not do this",
            caller_words(actor.role())
        )));
    }
    Ok(caller_of(actor, token, certificate))
}

/// The caller's role as a refusal names it.
fn caller_words(role: Role) -> &'static str {
    match role {
        Role::Bureau => "a bureau token",
        Role::Provider => "a provider",
        Role::Auditor => "an auditor",
        Role::Enterprise => "an enterprise",
        Role::Finance => "the finance bureau",
    }
}

/// The caller as the ledger sees it: what it may do, the programs its token acts in, and how
/// its events will name it (its token, role and certificate subject).
fn caller_of(actor: Actor, token: Option<Token>, certificate: Option<ClientCertificate>) -> Caller {
    Caller {
        actor,
        programs: token
            .as_ref()
            .map(|token| token.programs.clone())
            .unwrap_or_default(),
        cause: EventCause::Caller(CallerStamp {
            token_id: token.map(|token| token.token_id),
            role: actor.role(),
            certificate_subject: certificate.and_then(|certificate| certificate.subject),
        }),
    }
}

/// A verified client certificate: the credit code its subject CN names (if it names one), and
/// the SHA-256 of its DER bytes, which the bureau pins and revokes.
struct ClientCertificate {
    party: Option<CreditCode>,
    sha256: Sha256Hex,
    /// The subject as text (`CN=…, O=…`), for the log.
    subject: Option<String>,
}

fn token_actor(
    reader: &Reader,
    secret: &str,
    certificate: Option<&ClientCertificate>,
    call: &Call,
) -> Result<(Actor, Token), tonic::Status> {
    let token = reader
        .authenticate(secret)
        .map_err(to_status)?
        .ok_or_else(|| unauthenticated("the token is unknown or revoked"))?;
    call.set_token(token.token_id);
    let actor = token.actor();
    match certificate.and_then(|certificate| certificate.party) {
        Some(code) if actor != Actor::Provider(code) && actor != Actor::Enterprise(code) => {
            Err(permission_denied(&format!(
                "the client certificate names {code}, but the token speaks for a {}",
                actor.role().as_str()
            )))
        }
        _ => Ok((actor, token)),
    }
}

/// Without a token, a client certificate naming a registered provider identifies it, if the
/// bureau has not shut that provider or that certificate out (one read of the provider serves
/// both); one naming a registered enterprise (and no provider) identifies the enterprise.
fn certificate_actor(
    reader: &Reader,
    certificate: Option<&ClientCertificate>,
) -> Result<Actor, tonic::Status> {
    let Some((code, certificate)) =
        certificate.and_then(|certificate| certificate.party.map(|code| (code, certificate)))
    else {
        return Err(unauthenticated(
            "missing authorization metadata: send \"Bearer <token>\"",
        ));
    };
    match reader.registered_provider(&code) {
        Ok(Some(provider)) => {
            provider
                .access
                .admits(Some(&certificate.sha256))
                .map_err(access_refused)?;
            Ok(Actor::Provider(code))
        }
        Ok(None) => certificate_enterprise(reader, code),
        Err(error) => Err(to_status(error)),
    }
}

fn certificate_enterprise(reader: &Reader, code: CreditCode) -> Result<Actor, tonic::Status> {
    match reader.store().enterprise(&code) {
        Ok(Some(_)) => Ok(Actor::Enterprise(code)),
        Ok(None) => Err(unauthenticated(&format!(
            "the client certificate names {code}, which is neither a registered provider nor a registered enterprise"
        ))),
        Err(error) => Err(to_status(error.into())),
    }
}

/// The actor a token named, if it is not a provider the bureau has shut out (suspended, or
/// come with a revoked or unpinned certificate).
fn admitted(
    reader: &Reader,
    actor: Actor,
    certificate: Option<&ClientCertificate>,
) -> Result<Actor, tonic::Status> {
    let Actor::Provider(code) = actor else {
        return Ok(actor);
    };
    let provider = reader
        .registered_provider(&code)
        .map_err(to_status)?
        .ok_or_else(|| unauthenticated("the provider is not registered"))?;
    provider
        .access
        .admits(certificate.map(|certificate| &certificate.sha256))
        .map_err(access_refused)?;
    Ok(actor)
}

/// The verified client certificate the request came with, if any.
fn client_certificate<T>(request: &Request<T>) -> Option<ClientCertificate> {
    let certificates = request.peer_certs()?;
    let leaf = certificates.first()?;
    let sha256 = Sha256Hex::parse(&hex::encode(Sha256::digest(leaf.as_ref())))
        .expect("a SHA-256 in hex is 64 hex digits");
    let parsed = x509_parser::parse_x509_certificate(leaf.as_ref()).ok();
    let party = parsed.as_ref().and_then(|(_, parsed)| {
        let common_name = parsed.subject().iter_common_name().next()?.as_str().ok()?;
        CreditCode::parse(common_name).ok()
    });
    let subject = parsed.map(|(_, parsed)| {
        let text = parsed.subject().to_string();
        text.chars().take(SUBJECT_LENGTH_MAX).collect()
    });
    Some(ClientCertificate {
        party,
        sha256,
        subject,
    })
}

fn bearer_secret<T>(request: &Request<T>) -> Result<Option<&str>, tonic::Status> {
    let Some(value) = request.metadata().get("authorization") else {
        return Ok(None);
    };
    let text = value
        .to_str()
        .map_err(|_| unauthenticated("authorization metadata is not text"))?;
    let (scheme, secret) = text
        .split_once(' ')
        .ok_or_else(|| unauthenticated("authorization must be \"Bearer <token>\""))?;
    if !scheme.eq_ignore_ascii_case("bearer")
        || secret.trim().is_empty()
        || secret.len() > SECRET_LENGTH_MAX
    {
        return Err(unauthenticated("authorization must be \"Bearer <token>\""));
    }
    Ok(Some(secret.trim()))
}

/// A new random secret: the prefix and 32 random bytes in hex.
pub fn generate_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{SECRET_PREFIX}{}", hex::encode(bytes))
}
