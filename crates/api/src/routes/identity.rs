//! The identity routes: the embedded identity authority's phone vouchers and real-name
//! attestations (see `docs/API.md`, "Identity", and `docs/PRIVACY.md`).
//!
//! Every signed route here checks the request's signature *before* it waits for `?after_seq`
//! (so an unsigned caller cannot park a worker), waits only for an entry the log already has,
//! then authenticates against the actor's current key. Submissions never block a worker on a
//! full sequencer queue: `503 ledger.busy` with `Retry-After` instead. The SMS code is never in
//! an answer.

use actix_web::http::StatusCode;
use actix_web::web::{self, Data, Query};
use actix_web::{HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::{Value, json};

use deedlog_core::SignedCommand;
use deedlog_domain::ids::IdKind;
use deedlog_node::IdentityError;

use super::{
    Access, AfterSeq, Body, Content, Method, RouteSpec, after_seq_param, read_body_vec, to_value,
    views_at,
};
use crate::AppState;
use crate::auth::{check_key, forbidden, verify_signature};
use crate::error::ApiError;

/// Largest body of the identity routes that take small JSON objects, bytes.
pub const IDENTITY_BODY_MAX: usize = 4 * 1024;
/// Largest body of `POST /v1/identity/office/attest` (a signed command), bytes.
pub const OFFICE_ATTEST_BODY_MAX: usize = 64 * 1024;

const SCOPE: &str = "/v1/identity";

fn phone_schema() -> Value {
    json!({"type": "string", "pattern": "^1[3-9][0-9]{9}$"})
}

fn challenge_reply() -> Value {
    json!({"type": "object", "required": ["challenge", "expires_in_s"], "properties": {
        "challenge": {"type": "string"}, "expires_in_s": {"type": "integer", "minimum": 0}}})
}

fn code_body() -> Value {
    json!({"type": "object", "additionalProperties": false, "required": ["challenge", "code"],
        "properties": {"challenge": {"type": "string", "maxLength": 128},
            "code": {"type": "string", "pattern": "^[0-9]{6}$"}}})
}

/// The body of both recovery starts: the person's name and ID number (typed by the person, or
/// read off the ID card by a clerk) and the new device's public key.
fn recovery_person_body() -> Value {
    json!({"type": "object", "additionalProperties": false,
        "required": ["name", "id_number", "key"],
        "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 40},
            "id_number": {"type": "string", "pattern": "^[0-9]{17}[0-9X]$"},
            "key": {"type": "string", "maxLength": 44}}})
}

/// A proven recovery: the challenge to bind with and the party the new key is for.
fn recovery_proven_reply() -> Value {
    json!({"type": "object", "required": ["challenge", "party"], "properties": {
        "challenge": {"type": "string"}, "party": super::id_schema(IdKind::Party)}})
}

/// An office's signed `party.attest_identity`.
fn attest_command_schema() -> Value {
    crate::openapi::signed_command_schema(
        "party.attest_identity",
        json!({"type": "object", "additionalProperties": false,
            "required": ["name_commitment", "id_commitment", "method"],
            "properties": {"name_commitment": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                "id_commitment": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                "method": {"type": "string", "const": "office"}}}),
    )
}

/// The routes of this module.
pub(crate) fn routes() -> Vec<RouteSpec> {
    vec![
        RouteSpec::new(
            Method::Post,
            "/v1/identity/phone/challenge",
            Access::Public,
            "identity",
            "Send an SMS code to a phone number (the same answer for every number)",
            |r| r.to(phone_challenge),
        )
        .scope(SCOPE)
        .body(Body::Json(|| {
            json!({"type": "object", "additionalProperties": false, "required": ["phone"],
                "properties": {"phone": phone_schema()}})
        }))
        .reply(202, "A challenge; the code went to the phone", Content::Json(challenge_reply)),
        RouteSpec::new(
            Method::Post,
            "/v1/identity/phone/voucher",
            Access::Public,
            "identity",
            "The phone commitment and voucher for party.register, after the code is proven",
            |r| r.to(phone_voucher),
        )
        .scope(SCOPE)
        .body(Body::Json(|| {
            json!({"type": "object", "additionalProperties": false,
                "required": ["challenge", "code", "party", "key"],
                "properties": {"challenge": {"type": "string", "maxLength": 128},
                    "code": {"type": "string", "pattern": "^[0-9]{6}$"},
                    "party": super::id_schema(IdKind::Party),
                    "key": {"type": "string", "maxLength": 64}}})
        }))
        .reply(
            200,
            "The commitment and the voucher",
            Content::Json(|| {
                json!({"type": "object", "required": ["phone_commitment", "voucher"],
                    "properties": {"phone_commitment": {"type": "string"},
                        "voucher": {"type": "object", "required":
                            ["party", "key", "issued_at_ms", "signature"]}}})
            }),
        ),
        RouteSpec::new(
            Method::Post,
            "/v1/identity/realname/challenge",
            Access::Signed,
            "identity",
            "Send an SMS code to the phone on file for a name and ID number (the same answer either way)",
            |r| r.to(realname_challenge),
        )
        .scope(SCOPE)
        .param(after_seq_param())
        .body(Body::Json(|| {
            json!({"type": "object", "additionalProperties": false,
                "required": ["name", "id_number"],
                "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 40},
                    "id_number": {"type": "string", "pattern": "^[0-9]{17}[0-9X]$"}}})
        }))
        .reply(202, "A challenge", Content::Json(challenge_reply)),
        RouteSpec::new(
            Method::Post,
            "/v1/identity/realname/attest",
            Access::Signed,
            "identity",
            "Real-name attestation by the identity authority, after the code is proven",
            |r| r.to(realname_attest),
        )
        .scope(SCOPE)
        .param(after_seq_param())
        .body(Body::Json(code_body))
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
        RouteSpec::new(
            Method::Post,
            "/v1/identity/office/commitments",
            Access::Signed,
            "identity",
            "A filing office's in-person check: the commitments it signs party.attest_identity with",
            |r| r.to(office_commitments),
        )
        .scope(SCOPE)
        .param(after_seq_param())
        .body(Body::Json(|| {
            json!({"type": "object", "additionalProperties": false,
                "required": ["party", "name", "id_number"],
                "properties": {"party": super::id_schema(IdKind::Party),
                    "name": {"type": "string", "minLength": 1, "maxLength": 40},
                    "id_number": {"type": "string", "pattern": "^[0-9]{17}[0-9X]$"}}})
        }))
        .reply(
            200,
            "What the office signs",
            Content::Json(|| {
                json!({"type": "object",
                    "required": ["party", "name_commitment", "id_commitment", "method"]})
            }),
        ),
        RouteSpec::new(
            Method::Post,
            "/v1/identity/recover/challenge",
            Access::Public,
            "identity",
            "A lost or new device: ask for a code to the phone on file for this name and ID number",
            |r| r.to(recover_challenge),
        )
        .scope(SCOPE)
        .body(Body::Json(recovery_person_body))
        .reply(202, "Always the same answer", Content::Json(challenge_reply)),
        RouteSpec::new(
            Method::Post,
            "/v1/identity/recover/verify",
            Access::Public,
            "identity",
            "The code of a recovery: names the party the new key will be bound to",
            |r| r.to(recover_verify),
        )
        .scope(SCOPE)
        .body(Body::Json(code_body))
        .reply(
            200,
            "The recovery is proven",
            Content::Json(recovery_proven_reply),
        ),
        RouteSpec::new(
            Method::Post,
            "/v1/identity/recover/bind",
            Access::Public,
            "identity",
            "The new key's proof of possession: the identity authority revokes the old key and binds the new one",
            |r| r.to(recover_bind),
        )
        .scope(SCOPE)
        .body(Body::Json(|| {
            json!({"type": "object", "additionalProperties": false,
                "required": ["challenge", "proof"],
                "properties": {"challenge": {"type": "string", "maxLength": 128},
                    "proof": {"type": "string", "maxLength": 128}}})
        }))
        .reply(
            201,
            "The receipts of key.revoke (or null) and key.bind",
            Content::Json(|| {
                json!({"type": "object", "required": ["revoke", "bind"], "properties": {
                    "revoke": {"oneOf": [super::commands::receipt_schema(), {"type": "null"}]},
                    "bind": super::commands::receipt_schema()}})
            }),
        ),
        RouteSpec::new(
            Method::Post,
            "/v1/identity/office/recover",
            Access::Signed,
            "identity",
            "A lost or new device at an office: the clerk's in-person check proves the recovery",
            |r| r.to(office_recover),
        )
        .scope(SCOPE)
        .param(after_seq_param())
        .body(Body::Json(recovery_person_body))
        .reply(
            200,
            "The recovery is proven",
            Content::Json(recovery_proven_reply),
        ),
        RouteSpec::new(
            Method::Post,
            "/v1/identity/agent/commitments",
            Access::Signed,
            "identity",
            "The housing authority's check of a new agent: the commitments it signs agent.certify with",
            |r| r.to(agent_commitments),
        )
        .scope(SCOPE)
        .param(after_seq_param())
        .body(Body::Json(|| {
            json!({"type": "object", "additionalProperties": false,
                "required": ["name", "id_number"],
                "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 40},
                    "id_number": {"type": "string", "pattern": "^[0-9]{17}[0-9X]$"}}})
        }))
        .reply(
            200,
            "What the authority signs into agent.certify",
            Content::Json(|| {
                json!({"type": "object",
                    "required": ["name_commitment", "id_commitment", "phone_commitment"]})
            }),
        ),
        RouteSpec::new(
            Method::Post,
            "/v1/identity/office/attest",
            Access::Command,
            "identity",
            "Submit an office's party.attest_identity; the vault is written after it commits",
            |r| r.to(office_attest),
        )
        .scope(SCOPE)
        .body(Body::Json(attest_command_schema))
        .reply(
            201,
            "The receipt",
            Content::Json(super::commands::receipt_schema),
        )
        .reply(
            200,
            "The first receipt, when already recorded",
            Content::Json(super::commands::receipt_schema),
        ),
    ]
}

impl From<IdentityError> for ApiError {
    fn from(e: IdentityError) -> Self {
        match e {
            IdentityError::Refused {
                status,
                code,
                message,
                details,
                retry_after_s,
            } => {
                let mut out = ApiError::new(status, code, message).with_details(details);
                out.retry_after_s = retry_after_s;
                out
            }
            // The rejection mapping gives `ledger.busy` its `Retry-After`.
            IdentityError::Rejected(r) => ApiError::from(r),
            IdentityError::Node(n) => ApiError::from(n),
            other => ApiError::internal(&other),
        }
    }
}

fn answer(status: StatusCode, value: &Value) -> HttpResponse {
    super::body_json(status, value)
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request("request.bad_json", e.to_string()))
}

/// The client address the per-client limits count (the forwarded address only behind a
/// trusted proxy).
fn client_of(req: &HttpRequest, state: &AppState) -> String {
    crate::client_ip(req, &state.config).to_string()
}

/// Authenticates a signed identity request, honouring `?after_seq`: the signature under the
/// header's key first, then a bounded wait for an entry the log already has, then the
/// current-key check (the key may be in the awaited `party.register`).
///
/// Returns the authenticated actor, which must be of `kind`, and the body parsed as `T`.
async fn signed<T: serde::de::DeserializeOwned>(
    req: &HttpRequest,
    state: &AppState,
    payload: web::Payload,
    after: &AfterSeq,
    kind: IdKind,
) -> Result<(String, T), ApiError> {
    let bytes = read_body_vec(state, payload, IDENTITY_BODY_MAX).await?;
    let signed = verify_signature(req, &bytes, state)?;
    views_at(state, after).await?;
    let actor = check_key(signed, state)?;
    if !kind.matches(&actor) {
        return Err(forbidden(&actor));
    }
    Ok((actor, parse(&bytes)?))
}

/// `{"phone"}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PhoneBody {
    phone: String,
}

async fn phone_challenge(
    req: HttpRequest,
    state: Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body: PhoneBody = parse(&read_body_vec(&state, payload, IDENTITY_BODY_MAX).await?)?;
    let c = state
        .node
        .phone_challenge(&body.phone, &client_of(&req, &state))?;
    Ok(answer(StatusCode::ACCEPTED, &to_value(&c)?))
}

/// `{"challenge","code","party","key"}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VoucherBody {
    challenge: String,
    code: String,
    party: String,
    key: String,
}

async fn phone_voucher(
    req: HttpRequest,
    state: Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body: VoucherBody = parse(&read_body_vec(&state, payload, IDENTITY_BODY_MAX).await?)?;
    let client = client_of(&req, &state);
    let node = state.node.clone();
    let v = web::block(move || {
        node.phone_voucher(&body.challenge, &body.code, &body.party, &body.key, &client)
    })
    .await
    .map_err(|e| ApiError::internal(&e))??;
    Ok(answer(StatusCode::OK, &to_value(&v)?))
}

/// `{"name","id_number"}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RealNameBody {
    name: String,
    id_number: String,
}

async fn realname_challenge(
    req: HttpRequest,
    state: Data<AppState>,
    payload: web::Payload,
    after: Query<AfterSeq>,
) -> Result<HttpResponse, ApiError> {
    let (actor, body): (String, RealNameBody) =
        signed(&req, &state, payload, &after, IdKind::Party).await?;
    let c = state.node.realname_challenge(
        &actor,
        &body.name,
        &body.id_number,
        &client_of(&req, &state),
    )?;
    Ok(answer(StatusCode::ACCEPTED, &to_value(&c)?))
}

/// `{"challenge","code"}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CodeBody {
    challenge: String,
    code: String,
}

fn receipt_answer(receipt: &deedlog_store::Receipt) -> Result<HttpResponse, ApiError> {
    let status = if receipt.duplicate {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok(answer(status, &to_value(receipt)?))
}

async fn realname_attest(
    req: HttpRequest,
    state: Data<AppState>,
    payload: web::Payload,
    after: Query<AfterSeq>,
) -> Result<HttpResponse, ApiError> {
    let (actor, body): (String, CodeBody) =
        signed(&req, &state, payload, &after, IdKind::Party).await?;
    let receipt = state
        .node
        .realname_attest(
            &actor,
            &body.challenge,
            &body.code,
            &client_of(&req, &state),
        )
        .await?;
    receipt_answer(&receipt)
}

/// `{"party","name","id_number"}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OfficeBody {
    party: String,
    name: String,
    id_number: String,
}

async fn office_commitments(
    req: HttpRequest,
    state: Data<AppState>,
    payload: web::Payload,
    after: Query<AfterSeq>,
) -> Result<HttpResponse, ApiError> {
    let (actor, body): (String, OfficeBody) =
        signed(&req, &state, payload, &after, IdKind::Office).await?;
    let node = state.node.clone();
    let c = web::block(move || {
        node.office_commitments(&actor, &body.party, &body.name, &body.id_number)
    })
    .await
    .map_err(|e| ApiError::internal(&e))??;
    Ok(answer(StatusCode::OK, &to_value(&c)?))
}

/// `{"name","id_number","key"}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RecoverBody {
    name: String,
    id_number: String,
    key: String,
}

async fn recover_challenge(
    req: HttpRequest,
    state: Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body: RecoverBody = parse(&read_body_vec(&state, payload, IDENTITY_BODY_MAX).await?)?;
    let client = client_of(&req, &state);
    let node = state.node.clone();
    let c =
        web::block(move || node.recover_challenge(&body.name, &body.id_number, &body.key, &client))
            .await
            .map_err(|e| ApiError::internal(&e))??;
    Ok(answer(StatusCode::ACCEPTED, &to_value(&c)?))
}

async fn recover_verify(
    req: HttpRequest,
    state: Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body: CodeBody = parse(&read_body_vec(&state, payload, IDENTITY_BODY_MAX).await?)?;
    let proven =
        state
            .node
            .recover_verify(&body.challenge, &body.code, &client_of(&req, &state))?;
    Ok(answer(StatusCode::OK, &to_value(&proven)?))
}

async fn office_recover(
    req: HttpRequest,
    state: Data<AppState>,
    payload: web::Payload,
    after: Query<AfterSeq>,
) -> Result<HttpResponse, ApiError> {
    let (actor, body): (String, RecoverBody) =
        signed(&req, &state, payload, &after, IdKind::Office).await?;
    let node = state.node.clone();
    let proven =
        web::block(move || node.office_recover(&actor, &body.name, &body.id_number, &body.key))
            .await
            .map_err(|e| ApiError::internal(&e))??;
    Ok(answer(StatusCode::OK, &to_value(&proven)?))
}

/// `{"challenge","proof"}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BindBody {
    challenge: String,
    proof: String,
}

async fn recover_bind(
    state: Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body: BindBody = parse(&read_body_vec(&state, payload, IDENTITY_BODY_MAX).await?)?;
    let receipts = state
        .node
        .recover_bind(&body.challenge, &body.proof)
        .await?;
    Ok(answer(StatusCode::CREATED, &to_value(&receipts)?))
}

async fn agent_commitments(
    req: HttpRequest,
    state: Data<AppState>,
    payload: web::Payload,
    after: Query<AfterSeq>,
) -> Result<HttpResponse, ApiError> {
    let (actor, body): (String, RealNameBody) =
        signed(&req, &state, payload, &after, IdKind::Authority).await?;
    let node = state.node.clone();
    let c = web::block(move || node.agent_commitments(&actor, &body.name, &body.id_number))
        .await
        .map_err(|e| ApiError::internal(&e))??;
    Ok(answer(StatusCode::OK, &to_value(&c)?))
}

async fn office_attest(
    state: Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let command: SignedCommand =
        parse(&read_body_vec(&state, payload, OFFICE_ATTEST_BODY_MAX).await?)?;
    let receipt = state.node.office_attest(command).await?;
    receipt_answer(&receipt)
}
