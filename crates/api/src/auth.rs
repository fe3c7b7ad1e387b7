//! Signed requests: how a private read (or an identity call) proves who sends it.
//!
//! ```text
//! message   = "deedlog/request/v1\n" || METHOD || "\n" || PATH_AND_QUERY || "\n" || TIMESTAMP || "\n" || hex(SHA-256(body))
//! signature = Ed25519(actor's current key, message)      (verify_strict)
//! headers   = x-deedlog-actor, x-deedlog-key, x-deedlog-timestamp (ms), x-deedlog-signature (base64)
//! ```
//!
//! The key must be the actor's current key on the log (as the views know it) and the timestamp
//! within the configured skew of the server clock. A replay within the window repeats a read, or
//! an identity call that is idempotent.

use actix_web::HttpRequest;
use sha2::{Digest, Sha256};

use deedlog_core::{PublicKey, keys};

use crate::AppState;
use crate::error::ApiError;

/// The domain tag of request signatures.
pub const REQUEST_DOMAIN: &[u8] = b"deedlog/request/v1\n";
/// Header naming the actor.
pub const HEADER_ACTOR: &str = "x-deedlog-actor";
/// Header with the public key.
pub const HEADER_KEY: &str = "x-deedlog-key";
/// Header with the time, ms.
pub const HEADER_TIMESTAMP: &str = "x-deedlog-timestamp";
/// Header with the signature.
pub const HEADER_SIGNATURE: &str = "x-deedlog-signature";

/// The message a request signature covers (without the domain tag).
#[must_use]
pub fn request_message(
    method: &str,
    path_and_query: &str,
    timestamp_ms: i64,
    body: &[u8],
) -> Vec<u8> {
    format!(
        "{}\n{path_and_query}\n{timestamp_ms}\n{}",
        method.to_ascii_uppercase(),
        hex::encode(Sha256::digest(body))
    )
    .into_bytes()
}

/// The four headers of a signed request, for clients and tests.
#[must_use]
pub fn sign_request(
    secret: &deedlog_core::SecretKey,
    actor: &str,
    method: &str,
    path_and_query: &str,
    timestamp_ms: i64,
    body: &[u8],
) -> [(&'static str, String); 4] {
    let sig = secret.sign(
        REQUEST_DOMAIN,
        &request_message(method, path_and_query, timestamp_ms, body),
    );
    [
        (HEADER_ACTOR, actor.to_owned()),
        (HEADER_KEY, secret.public().to_base64()),
        (HEADER_TIMESTAMP, timestamp_ms.to_string()),
        (HEADER_SIGNATURE, keys::base64(&sig)),
    ]
}

fn header<'a>(req: &'a HttpRequest, name: &str) -> Result<&'a str, ApiError> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 256)
        .ok_or_else(|| {
            ApiError::new(
                401,
                "request.unsigned",
                format!("this route needs a signed request; header {name} is missing"),
            )
        })
}

/// A request whose signature verifies under the key in its own header, within the clock skew;
/// the key is not yet known to be the actor's (see [`check_key`]).
#[derive(Debug, Clone)]
pub struct Signed {
    /// The actor the request names.
    pub actor: String,
    /// The key in the header (base64).
    pub key: String,
}

fn bad() -> ApiError {
    ApiError::new(
        401,
        "request.bad_signature",
        "the request signature does not verify under the actor's current key",
    )
}

/// Checks the request's headers, timestamp and signature under the header's key: everything
/// that needs no view. A private route calls this before it waits for `?after_seq`, so that
/// an unauthenticated request never holds a connection.
///
/// # Errors
/// 401 `request.unsigned`, `request.stale`, `request.bad_signature`.
pub fn verify_signature(
    req: &HttpRequest,
    body: &[u8],
    state: &AppState,
) -> Result<Signed, ApiError> {
    let actor = header(req, HEADER_ACTOR)?;
    let key = header(req, HEADER_KEY)?;
    let timestamp = header(req, HEADER_TIMESTAMP)?;
    let signature = header(req, HEADER_SIGNATURE)?;
    let timestamp_ms: i64 = timestamp.parse().map_err(|_| bad())?;
    let now = state.node.now_ms();
    // `abs_diff` cannot overflow, whatever the client sends (`i64::MIN`, `i64::MAX`).
    let skew = u64::try_from(state.config.request_skew_ms).unwrap_or(0);
    if now.abs_diff(timestamp_ms) > skew {
        return Err(ApiError::new(
            401,
            "request.stale",
            "the request timestamp is too far from the server clock",
        )
        .with_details(
            serde_json::json!({"server_time_ms": now, "skew_ms": state.config.request_skew_ms}),
        ));
    }
    let public = PublicKey::from_base64(key).map_err(|_| bad())?;
    let sig = keys::signature_from_base64(signature).map_err(|_| bad())?;
    let path = req
        .uri()
        .path_and_query()
        .map_or_else(|| req.uri().path(), |p| p.as_str());
    public
        .verify(
            REQUEST_DOMAIN,
            &request_message(req.method().as_str(), path, timestamp_ms, body),
            &sig,
        )
        .map_err(|_| bad())?;
    Ok(Signed {
        actor: actor.to_owned(),
        key: key.to_owned(),
    })
}

/// Checks that the signing key is the actor's current key on the log (as the views know it);
/// returns the authenticated actor.
///
/// # Errors
/// 401 `request.bad_signature`.
pub fn check_key(signed: Signed, state: &AppState) -> Result<String, ApiError> {
    if let Some(auditor) = state
        .config
        .auditors
        .iter()
        .find(|a| a.actor == signed.actor)
    {
        return if auditor.key == signed.key {
            Ok(signed.actor)
        } else {
            Err(bad())
        };
    }
    let current = state
        .node
        .views()
        .actor_key(&signed.actor)?
        .ok_or_else(bad)?;
    if current.key != signed.key {
        return Err(bad());
    }
    Ok(signed.actor)
}

/// Checks the request's signature and that its key is the actor's current one; returns the
/// authenticated actor.
///
/// # Errors
/// 401 `request.unsigned`, `request.stale`, `request.bad_signature`.
pub fn authenticate(req: &HttpRequest, body: &[u8], state: &AppState) -> Result<String, ApiError> {
    check_key(verify_signature(req, body, state)?, state)
}

/// 403 `request.forbidden`.
#[must_use]
pub fn forbidden(actor: &str) -> ApiError {
    ApiError::new(
        403,
        "request.forbidden",
        format!("{actor} may not read this"),
    )
}
