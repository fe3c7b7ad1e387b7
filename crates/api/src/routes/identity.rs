//! The embedded identity authority's two routes. Kept in one module with its own route
//! entries, so that replacing the identity handlers is a change of this file (and of the one
//! line in [`super::all`] that names it).

use actix_web::http::StatusCode;
use actix_web::web::{self, Data};
use actix_web::{HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use deedlog_domain::ids::IdKind;

use super::{Access, Body, Content, Method, RouteSpec, body_json, read_body_vec, to_value};
use crate::AppState;
use crate::auth::{check_key, forbidden, verify_signature};
use crate::error::ApiError;

/// The routes of this module.
pub(crate) fn routes() -> Vec<RouteSpec> {
    vec![
        RouteSpec::new(
            Method::Post,
            "/v1/identity/phone-commitment",
            Access::Public,
            "identity",
            "The phone commitment for party.register",
            |r| r.to(identity_phone),
        )
        .body(Body::Json(|| {
            json!({"type": "object", "additionalProperties": false, "required": ["phone"],
                "properties": {"phone": {"type": "string", "pattern": "^1[3-9][0-9]{9}$"}}})
        }))
        .reply(
            200,
            "The commitment",
            Content::Json(|| {
                json!({"type": "object", "required": ["phone_commitment"],
                "properties": {"phone_commitment": {"type": "string"}}})
            }),
        ),
        RouteSpec::new(
            Method::Post,
            "/v1/identity/attest",
            Access::Signed,
            "identity",
            "Real-name attestation by the identity authority",
            |r| r.to(identity_attest),
        )
        .param(super::after_seq_param())
        .body(Body::Json(|| {
            json!({"type": "object", "additionalProperties": false,
                "required": ["name", "id_number", "phone", "method"],
                "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 40},
                    "id_number": {"type": "string", "pattern": "^[0-9]{17}[0-9X]$"},
                    "phone": {"type": "string", "pattern": "^1[3-9][0-9]{9}$"},
                    "method": {"type": "string", "enum": ["online_face", "office"]}}})
        }))
        .reply(
            201,
            "The receipt of party.attest_identity",
            Content::Json(super::commands::receipt_schema),
        )
        .reply(
            200,
            "The first receipt, when already recorded",
            Content::Json(super::commands::receipt_schema),
        ),
    ]
}

/// `{"phone"}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhoneBody {
    phone: String,
}

async fn identity_phone(
    req: HttpRequest,
    state: Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body: PhoneBody = super::read_json(&req, &state, payload).await?;
    let node = state.node.clone();
    let phone = body.phone;
    let commitment = web::block(move || node.phone_commitment(&phone))
        .await
        .map_err(|e| ApiError::internal(&e))??;
    Ok(body_json(
        StatusCode::OK,
        &json!({ "phone_commitment": commitment }),
    ))
}

async fn identity_attest(
    req: HttpRequest,
    state: Data<AppState>,
    payload: web::Payload,
    after: web::Query<super::AfterSeq>,
) -> Result<HttpResponse, ApiError> {
    let body = read_body_vec(&state, payload, state.config.json_bytes_max).await?;
    // The party's key is in the `party.register` entry the client may be waiting for: the
    // signature is checked under the header's key first, then the wait, then the key.
    let signed = verify_signature(&req, &body, &state)?;
    super::views_at(&state, &after).await?;
    let actor = check_key(signed, &state)?;
    if !IdKind::Party.matches(&actor) {
        return Err(forbidden(&actor));
    }
    let identity: deedlog_node::Identity = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request("request.bad_json", e.to_string()))?;
    let node = state.node.clone();
    let party = actor.clone();
    let command = web::block(move || node.attestation(&party, &identity))
        .await
        .map_err(|e| ApiError::internal(&e))??;
    // The same back-pressure answer as every other write path.
    let receipt = crate::write::submit(&state, command).await?;
    let status = if receipt.duplicate {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok(body_json(status, &to_value(&receipt)?))
}
