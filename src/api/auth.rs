//! Who is calling: a bearer token in the `authorization` metadata, looked up by its SHA-256,
//! or, over mutual TLS, a client certificate whose subject CN is a registered provider's
//! credit code. Tokens are never logged and never stored in the clear.

use rand::RngCore;
use tonic::Request;

use super::observe::Call;
use super::status::{permission_denied, to_status, unauthenticated};
use crate::domain::credit_code::CreditCode;
use crate::domain::model::{Actor, Role};
use crate::engine::Reader;

/// The longest secret accepted; anything longer is not one of ours.
const SECRET_LENGTH_MAX: usize = 256;
/// Every secret starts with this, so one pasted in the wrong place is recognisable.
pub const SECRET_PREFIX: &str = "qdv_";

/// Authenticates the request, notes the caller's role on `call`, and checks the role is one
/// of `allowed`.
pub fn authorize<T>(
    reader: &Reader,
    request: &Request<T>,
    allowed: &[Role],
    call: &Call,
) -> Result<Actor, tonic::Status> {
    call.set_address(request.remote_addr());
    let certified = certified_provider(request);
    let authenticated = match bearer_secret(request) {
        Ok(Some(secret)) => token_actor(reader, secret, certified, call),
        Ok(None) => certificate_actor(reader, certified),
        Err(refusal) => Err(refusal),
    };
    let actor = authenticated.inspect_err(|refusal| {
        if refusal.code() == tonic::Code::Unauthenticated {
            crate::metrics::authentication_failed("grpc");
            tracing::warn!(
                address = ?request.remote_addr(),
                reason = refusal.message(),
                "authentication failed"
            );
        }
    })?;
    call.set_role(actor.role());
    if !allowed.contains(&actor.role()) {
        return Err(permission_denied(&format!(
            "a {} may not do this",
            actor.role().as_str()
        )));
    }
    Ok(actor)
}

fn token_actor(
    reader: &Reader,
    secret: &str,
    certified: Option<CreditCode>,
    call: &Call,
) -> Result<Actor, tonic::Status> {
    let token = reader
        .authenticate(secret)
        .map_err(to_status)?
        .ok_or_else(|| unauthenticated("the token is unknown or revoked"))?;
    call.set_token(token.token_id);
    let actor = token.actor();
    match certified {
        Some(code) if actor != Actor::Provider(code) => Err(permission_denied(&format!(
            "the client certificate names provider {code}, but the token speaks for a {}",
            actor.role().as_str()
        ))),
        _ => Ok(actor),
    }
}

/// Without a token, a client certificate naming a registered provider identifies it.
fn certificate_actor(
    reader: &Reader,
    certified: Option<CreditCode>,
) -> Result<Actor, tonic::Status> {
    let Some(code) = certified else {
        return Err(unauthenticated(
            "missing authorization metadata: send \"Bearer <token>\"",
        ));
    };
    match reader.store().provider(&code) {
        Ok(Some(_)) => Ok(Actor::Provider(code)),
        Ok(None) => Err(unauthenticated(&format!(
            "the client certificate names {code}, which is not a registered provider"
        ))),
        Err(error) => Err(to_status(error.into())),
    }
}

/// The provider a verified client certificate names in its subject CN, if it names one.
fn certified_provider<T>(request: &Request<T>) -> Option<CreditCode> {
    let certificates = request.peer_certs()?;
    let leaf = certificates.first()?;
    let (_, parsed) = x509_parser::parse_x509_certificate(leaf.as_ref()).ok()?;
    let common_name = parsed.subject().iter_common_name().next()?.as_str().ok()?;
    CreditCode::parse(common_name).ok()
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
