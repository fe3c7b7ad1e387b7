//! The identity routes: the embedded identity authority's phone vouchers and real-name
//! attestations (see `deedlog_node::identity` and `docs/API.md`, "Identity").
//!
//! Every signed route here checks the request's signature *before* it waits for `?after_seq`
//! (so an unsigned caller cannot park a worker), then waits at most `after_seq_wait` for the
//! views to know the actor's key, then authenticates against the current key. Submissions never
//! block a worker on a full sequencer queue: `503 ledger.busy` with `Retry-After` instead. The
//! SMS code is never in an answer.

use actix_web::http::StatusCode;
use actix_web::web::{self, Data, Query};
use actix_web::{HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::{Value, json};

use deedlog_core::{PublicKey, SignedCommand, keys};
use deedlog_domain::ids::IdKind;
use deedlog_node::IdentityError;

// The body reader is routes.rs's own, so that both enforce limits the same way.
use super::{Access, Route, read_body};
use crate::AppState;
use crate::auth::{
    HEADER_KEY, HEADER_SIGNATURE, HEADER_TIMESTAMP, REQUEST_DOMAIN, authenticate, request_message,
};
use crate::error::ApiError;

/// Largest body of the identity routes that take small JSON objects, bytes.
pub const IDENTITY_BODY_MAX: usize = 4 * 1024;
/// Largest body of `POST /v1/identity/office/attest` (a signed command), bytes.
pub const OFFICE_ATTEST_BODY_MAX: usize = 64 * 1024;

const fn route(
    method: &'static str,
    path: &'static str,
    access: Access,
    summary: &'static str,
) -> Route {
    Route {
        method,
        path,
        access,
        tag: "identity",
        summary,
    }
}

/// `POST /v1/identity/phone/challenge`.
pub const PHONE_CHALLENGE: Route = route(
    "POST",
    "/v1/identity/phone/challenge",
    Access::Public,
    "Send an SMS code to a phone number (same answer for every number)",
);
/// `POST /v1/identity/phone/voucher`.
pub const PHONE_VOUCHER: Route = route(
    "POST",
    "/v1/identity/phone/voucher",
    Access::Public,
    "The phone commitment and voucher for party.register, after the code is proven",
);
/// `POST /v1/identity/realname/challenge`.
pub const REALNAME_CHALLENGE: Route = route(
    "POST",
    "/v1/identity/realname/challenge",
    Access::Signed,
    "Send an SMS code to the phone on file for a name and ID number (same answer either way)",
);
/// `POST /v1/identity/realname/attest`.
pub const REALNAME_ATTEST: Route = route(
    "POST",
    "/v1/identity/realname/attest",
    Access::Signed,
    "Real-name attestation by the identity authority, after the code is proven",
);
/// `POST /v1/identity/office/commitments`.
pub const OFFICE_COMMITMENTS: Route = route(
    "POST",
    "/v1/identity/office/commitments",
    Access::Signed,
    "A filing office's in-person check: the commitments it signs party.attest_identity with",
);
/// `POST /v1/identity/office/attest`.
pub const OFFICE_ATTEST: Route = route(
    "POST",
    "/v1/identity/office/attest",
    Access::Command,
    "Submit an office's party.attest_identity; the vault is written after it commits",
);

/// Registers the identity routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/v1/identity")
            .route("/phone/challenge", web::post().to(phone_challenge))
            .route("/phone/voucher", web::post().to(phone_voucher))
            .route("/realname/challenge", web::post().to(realname_challenge))
            .route("/realname/attest", web::post().to(realname_attest))
            .route("/office/commitments", web::post().to(office_commitments))
            .route("/office/attest", web::post().to(office_attest)),
    );
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
            IdentityError::Rejected(r) => {
                let busy = r.code == "ledger.busy";
                let mut out = ApiError::from(r);
                if busy {
                    out.retry_after_s = Some(1);
                }
                out
            }
            IdentityError::Node(n) => ApiError::from(n),
            other => ApiError::internal(&other),
        }
    }
}

fn answer(status: StatusCode, value: &Value) -> HttpResponse {
    let bytes = deedlog_core::canonical::encode(value)
        .unwrap_or_else(|_| serde_json::to_vec(value).unwrap_or_default());
    HttpResponse::build(status)
        .content_type("application/json")
        .body(bytes)
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request("request.bad_json", e.to_string()))
}

fn client_of(req: &HttpRequest) -> String {
    req.peer_addr()
        .map_or_else(|| "unknown".to_owned(), |a| a.ip().to_string())
}

/// `?after_seq=N`.
#[derive(Debug, Deserialize)]
pub struct AfterSeq {
    after_seq: Option<u64>,
}

/// Whether the request's signature verifies under the key in its own header (not yet whether
/// that key is the actor's current one: the views may not know it yet).
fn signature_verifies(req: &HttpRequest, body: &[u8]) -> bool {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty() && v.len() <= 256)
    };
    let (Some(key), Some(ts), Some(sig)) = (
        header(HEADER_KEY),
        header(HEADER_TIMESTAMP),
        header(HEADER_SIGNATURE),
    ) else {
        return false;
    };
    let (Ok(public), Ok(ts), Ok(sig)) = (
        PublicKey::from_base64(key),
        ts.parse::<i64>(),
        keys::signature_from_base64(sig),
    ) else {
        return false;
    };
    let path = req
        .uri()
        .path_and_query()
        .map_or_else(|| req.uri().path(), |p| p.as_str());
    public
        .verify(
            REQUEST_DOMAIN,
            &request_message(req.method().as_str(), path, ts, body),
            &sig,
        )
        .is_ok()
}

/// Authenticates a signed identity request, honouring `?after_seq`: the signature first, then
/// a bounded wait for the views, then the current-key check.
async fn signed(
    req: &HttpRequest,
    body: &[u8],
    state: &AppState,
    after: &AfterSeq,
) -> Result<String, ApiError> {
    if let Some(n) = after.after_seq {
        if !signature_verifies(req, body) {
            // Let authenticate name the exact reason (unsigned, stale, bad signature).
            authenticate(req, body, state)?;
            return Err(ApiError::new(
                401,
                "request.bad_signature",
                "the request signature does not verify",
            ));
        }
        if !state
            .node
            .views()
            .wait_applied(n.saturating_add(1), state.config.after_seq_wait)
            .await
        {
            return Err(ApiError::new(
                503,
                "views.behind",
                "the views have not applied that entry yet; retry",
            )
            .with_details(json!({"applied": state.node.views().applied(), "requested": n})));
        }
    }
    authenticate(req, body, state)
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
    let body: PhoneBody = parse(&read_body(payload, IDENTITY_BODY_MAX).await?)?;
    let c = state.node.phone_challenge(&body.phone, &client_of(&req))?;
    Ok(answer(StatusCode::ACCEPTED, &json!(c)))
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
    state: Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body: VoucherBody = parse(&read_body(payload, IDENTITY_BODY_MAX).await?)?;
    let node = state.node.clone();
    let v =
        web::block(move || node.phone_voucher(&body.challenge, &body.code, &body.party, &body.key))
            .await
            .map_err(|e| ApiError::internal(&e))??;
    Ok(answer(StatusCode::OK, &json!(v)))
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
    let bytes = read_body(payload, IDENTITY_BODY_MAX).await?;
    let actor = signed(&req, &bytes, &state, &after).await?;
    if !IdKind::Party.matches(&actor) {
        return Err(crate::auth::forbidden(&actor));
    }
    let body: RealNameBody = parse(&bytes)?;
    let c = state
        .node
        .realname_challenge(&actor, &body.name, &body.id_number, &client_of(&req))?;
    Ok(answer(StatusCode::ACCEPTED, &json!(c)))
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
    Ok(answer(
        status,
        &serde_json::to_value(receipt).map_err(|e| ApiError::internal(&e))?,
    ))
}

async fn realname_attest(
    req: HttpRequest,
    state: Data<AppState>,
    payload: web::Payload,
    after: Query<AfterSeq>,
) -> Result<HttpResponse, ApiError> {
    let bytes = read_body(payload, IDENTITY_BODY_MAX).await?;
    let actor = signed(&req, &bytes, &state, &after).await?;
    if !IdKind::Party.matches(&actor) {
        return Err(crate::auth::forbidden(&actor));
    }
    let body: CodeBody = parse(&bytes)?;
    let receipt = state
        .node
        .realname_attest(&actor, &body.challenge, &body.code)
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
    let bytes = read_body(payload, IDENTITY_BODY_MAX).await?;
    let actor = signed(&req, &bytes, &state, &after).await?;
    if !IdKind::Office.matches(&actor) {
        return Err(crate::auth::forbidden(&actor));
    }
    let body: OfficeBody = parse(&bytes)?;
    let node = state.node.clone();
    let c = web::block(move || {
        node.office_commitments(&actor, &body.party, &body.name, &body.id_number)
    })
    .await
    .map_err(|e| ApiError::internal(&e))??;
    Ok(answer(StatusCode::OK, &json!(c)))
}

async fn office_attest(
    state: Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let command: SignedCommand = parse(&read_body(payload, OFFICE_ATTEST_BODY_MAX).await?)?;
    let receipt = state.node.office_attest(command).await?;
    receipt_answer(&receipt)
}
