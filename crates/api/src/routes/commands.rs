//! `POST /v1/commands/{kind}`: signed commands.

use actix_web::http::StatusCode;
use actix_web::web::{self, Data, Path};
use actix_web::{HttpRequest, HttpResponse};
use serde_json::json;

use deedlog_core::SignedCommand;
use deedlog_domain::ids::IdKind;

use super::{Access, Body, Content, Method, RouteSpec, body_json, path_param, read_json, to_value};
use crate::AppState;
use crate::error::ApiError;

/// Kinds a newcomer (an actor the log does not know as verified) may send; they get the
/// tighter admission quota (see [`crate::ApiConfig::newcomer_per_minute`]).
pub const NEWCOMER_KINDS: &[&str] = &["party.register", "key.rotate", "key.revoke", "key.bind"];

/// The routes of this module.
pub(crate) fn routes() -> Vec<RouteSpec> {
    vec![
        RouteSpec::new(
            Method::Post,
            "/v1/commands/{kind}",
            Access::Command,
            "commands",
            "Append a signed command (201 receipt; 200 for a retry)",
            |r| r.to(post_command),
        )
        .scope("/v1/commands")
        .param(path_param(
            "kind",
            || json!({"type": "string", "enum": deedlog_domain::KINDS}),
            "The command kind, as in the body",
        ))
        .body(Body::Command)
        .reply(
            201,
            "The receipt of the new entry",
            Content::Json(receipt_schema),
        )
        .reply(
            200,
            "The first receipt of a retried command (`duplicate: true`)",
            Content::Json(receipt_schema),
        ),
    ]
}

/// The receipt's shape.
pub(crate) fn receipt_schema() -> serde_json::Value {
    json!({"type": "object",
        "required": ["seq", "stream", "stream_version", "kind", "leaf_hash", "checkpoint_size", "duplicate"],
        "properties": {
            "seq": {"type": "integer"}, "stream": {"type": "string"},
            "stream_version": {"type": "integer"}, "kind": {"type": "string"},
            "derived": {"type": "object"}, "leaf_hash": {"type": "string"},
            "checkpoint_size": {"type": "integer"}, "duplicate": {"type": "boolean"}}})
}

async fn post_command(
    req: HttpRequest,
    state: Data<AppState>,
    kind: Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let kind = kind.into_inner();
    if !deedlog_domain::KINDS.contains(&kind.as_str()) {
        return Err(ApiError::bad_request(
            "command.unknown_kind",
            format!("`{kind}` is not a command kind of the catalogue"),
        )
        .with_details(json!({"kind": kind.chars().take(64).collect::<String>()})));
    }
    let command: SignedCommand = read_json(&req, &state, payload).await?;
    if command.kind != kind {
        return Err(ApiError::bad_request(
            "command.kind_mismatch",
            format!("the path says `{kind}`, the command `{}`", command.kind),
        ));
    }
    if command.kind == "party.attest_identity" && IdKind::Office.matches(&command.actor) {
        // The office route checks the person against the population register, keeps the
        // clerk's record and the vault's copy; signed here, an office's attestation would skip
        // all three.
        return Err(ApiError::bad_request(
            "identity.office_route",
            "a filing office attests a person at POST /v1/identity/office/attest, which checks \
             them against the population register; it is not taken here",
        ));
    }
    admit(&req, &state, &command)?;
    let receipt = crate::write::submit(&state, command).await?;
    let status = if receipt.duplicate {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok(body_json(status, &to_value(&receipt)?))
}

/// The newcomer quota: commands of the kinds a newcomer may send, and any command of a party
/// the views do not know as verified, are limited per client address and per actor, tighter
/// than the general rate: account creation and key churn are what an attacker with many
/// phones or a script would flood, and each costs a signature check and an entry.
fn admit(req: &HttpRequest, state: &AppState, command: &SignedCommand) -> Result<(), ApiError> {
    let Some(limiter) = &state.newcomers else {
        return Ok(());
    };
    let newcomer = NEWCOMER_KINDS.contains(&command.kind.as_str())
        || (IdKind::Party.matches(&command.actor)
            && !matches!(
                state.node.views().doc(&command.actor),
                Ok(Some(deedlog_views::Doc::Party(ref p))) if p.verified
            ));
    if !newcomer {
        return Ok(());
    }
    let ip = crate::client_ip(req, &state.config);
    let mut keys = vec![format!("ip {ip}")];
    if signed_by_current_key(state, command)? {
        keys.push(format!("actor {}", command.actor));
    }
    for key in keys {
        if let Err(not_until) = limiter.check_key(&key) {
            let wait = not_until.wait_time_from(governor::clock::Clock::now(
                &governor::clock::DefaultClock::default(),
            ));
            let mut e = ApiError::new(
                429,
                "rate.newcomer_limited",
                "too many commands from a newcomer (registration, key changes, unverified party); slow down",
            )
            .with_details(json!({
                "retry_after_ms": u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                "per_minute": state.config.newcomer_per_minute,
            }));
            e.retry_after_s = Some(wait.as_secs().max(1));
            return Err(e);
        }
    }
    Ok(())
}

/// Whether the per-actor quota may be charged for `command`: only a command the actor itself
/// signed with its current key (as the views know it) counts against the actor, so that nobody
/// without that key can use up an actor's quota and keep its owner from revoking or rotating a
/// stolen key. An actor the views know no key for (a registration) is limited per address
/// alone. A command signed with the current key whose signature does not verify is refused
/// here, as the sequencer would refuse it, without charging anything.
fn signed_by_current_key(state: &AppState, command: &SignedCommand) -> Result<bool, ApiError> {
    let Some(doc) = state.node.views().actor_key(&command.actor)? else {
        return Ok(false);
    };
    if doc.key != command.key {
        return Ok(false);
    }
    match command.verify() {
        Ok(_) => Ok(true),
        Err(e) => Err(deedlog_core::decide::Rejection::of_command_error(&e).into()),
    }
}
