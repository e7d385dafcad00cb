//! Who is calling: a bearer token in the `authorization` metadata, looked up by its SHA-256.
//! Tokens are never logged and never stored in the clear.

use rand::RngCore;
use tonic::Request;

use super::status::{permission_denied, to_status, unauthenticated};
use crate::domain::model::{Actor, Role};
use crate::engine::Reader;

/// The longest secret accepted; anything longer is not one of ours.
const SECRET_LENGTH_MAX: usize = 256;
/// Every secret starts with this, so one pasted in the wrong place is recognisable.
pub const SECRET_PREFIX: &str = "qdv_";

/// Authenticates the request and checks its role is one of `allowed`.
pub fn authorize<T>(
    reader: &Reader,
    request: &Request<T>,
    allowed: &[Role],
) -> Result<Actor, tonic::Status> {
    let secret = bearer_secret(request)?;
    let token = reader
        .authenticate(secret)
        .map_err(to_status)?
        .ok_or_else(|| unauthenticated("the token is unknown or revoked"))?;
    if !allowed.contains(&token.role) {
        return Err(permission_denied(&format!(
            "a {} token may not do this",
            token.role.as_str()
        )));
    }
    Ok(token.actor())
}

fn bearer_secret<T>(request: &Request<T>) -> Result<&str, tonic::Status> {
    let value = request.metadata().get("authorization").ok_or_else(|| {
        unauthenticated("missing authorization metadata: send \"Bearer <token>\"")
    })?;
    let text = value
        .to_str()
        .map_err(|_| unauthenticated("authorization metadata is not text"))?;
    let (scheme, secret) = text
        .split_once(' ')
        .ok_or_else(|| unauthenticated("authorization must be \"Bearer <token>\""))?;
    if !scheme.eq_ignore_ascii_case("bearer")
        || secret.is_empty()
        || secret.len() > SECRET_LENGTH_MAX
    {
        return Err(unauthenticated("authorization must be \"Bearer <token>\""));
    }
    Ok(secret.trim())
}

/// A new random secret: the prefix and 32 random bytes in hex.
pub fn generate_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{SECRET_PREFIX}{}", hex::encode(bytes))
}
