//! Online messages (在线沟通): the conversations of a listing (with one buyer) or of a contract,
//! kept by the node off the log (`deedlog_node::messages`). Every route is a signed request.
//!
//! Order in every handler, as in the private reads: the body is read (bounded), the signature
//! is checked under the header's key, `?after_seq` is waited for, the key is checked to be the
//! actor's current one, then (posts only) the sender's per-minute rate, then the node decides
//! who takes part from the read models as they are now.

use actix_web::http::StatusCode;
use actix_web::web::{self, Data, Path, Query};
use actix_web::{HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use deedlog_domain::ids::IdKind;
use deedlog_node::messages::{Conversation, MessageError, PAGE_MAX, TEXT_CHARS_MAX};

use super::{
    Access, AfterSeq, Body, Content, Method, RouteSpec, after_seq_param, body_json, full_id,
    id_schema, path_param, query, read_body_vec, set_applied,
};
use crate::AppState;
use crate::auth::{HEADER_SIGNATURE, check_key, verify_signature};
use crate::error::ApiError;

/// Largest body of `POST` to a conversation, bytes (1000 characters of up to 4 bytes each, with
/// JSON escapes, fit).
pub const MESSAGE_BODY_MAX: usize = 8 * 1024;

const SCOPE: &str = "/v1/messages";

fn message_schema() -> Value {
    json!({"type": "object", "required": ["n", "from", "text", "at_ms"], "properties": {
        "n": {"type": "integer", "minimum": 1},
        "from": {"type": "string"},
        "text": {"type": ["string", "null"], "maxLength": TEXT_CHARS_MAX},
        "at_ms": {"type": "integer"}}})
}

fn conversation_fields() -> Value {
    json!({
        "conversation": {"type": "string"},
        "kind": {"type": "string", "enum": ["listing", "contract"]},
        "listing": {"type": ["string", "null"]},
        "buyer": {"type": ["string", "null"]},
        "contract": {"type": ["string", "null"]},
        "participants": {"type": "array", "items": {"type": "string"}},
        "total": {"type": "integer", "minimum": 0}})
}

fn conversation_page_schema() -> Value {
    let mut props = conversation_fields();
    props["items"] = json!({"type": "array", "items": message_schema()});
    props["next_after"] = json!({"type": "integer", "minimum": 0});
    props["more"] = json!({"type": "boolean"});
    json!({"type": "object", "required": ["conversation", "kind", "listing", "buyer", "contract",
        "participants", "total", "items", "next_after", "more"], "properties": props})
}

fn my_conversations_schema() -> Value {
    let mut item = conversation_fields();
    item["unread"] = json!({"type": "integer", "minimum": 0});
    item["last_at_ms"] = json!({"type": "integer"});
    item["last_from"] = json!({"type": ["string", "null"]});
    json!({"type": "object", "required": ["items", "limit", "offset", "next_offset"], "properties": {
        "items": {"type": "array", "items": {"type": "object", "required": ["conversation", "kind",
            "listing", "buyer", "contract", "participants", "total", "unread", "last_at_ms",
            "last_from"], "properties": item}},
        "limit": {"type": "integer"}, "offset": {"type": "integer"},
        "next_offset": {"type": ["integer", "null"]}}})
}

fn posted_schema() -> Value {
    json!({"type": "object", "required": ["conversation", "message", "duplicate"], "properties": {
        "conversation": {"type": "string"}, "message": message_schema(),
        "duplicate": {"type": "boolean"}}})
}

fn text_body() -> Value {
    json!({"type": "object", "additionalProperties": false, "required": ["text"],
        "properties": {"text": {"type": "string", "minLength": 1, "maxLength": TEXT_CHARS_MAX}}})
}

fn page_query_params() -> [super::Param; 2] {
    [
        query(
            "after",
            || json!({"type": "integer", "minimum": 0, "maximum": u64::MAX}),
            "Only messages numbered after this one (default 0: from the first)",
        ),
        query(
            "limit",
            || json!({"type": "integer", "minimum": 1, "maximum": PAGE_MAX}),
            "Most messages (default 50)",
        ),
    ]
}

fn listing_params(spec: RouteSpec) -> RouteSpec {
    spec.scope(SCOPE)
        .param(path_param(
            "LS",
            || id_schema(IdKind::Listing),
            "The listing id after `listing/`",
        ))
        .param(path_param(
            "PA",
            || id_schema(IdKind::Party),
            "The buyer's party id after `party/`",
        ))
}

fn contract_params(spec: RouteSpec) -> RouteSpec {
    spec.scope(SCOPE).param(path_param(
        "CT",
        || id_schema(IdKind::Contract),
        "The contract id after `contract/`",
    ))
}

/// The routes of this module.
pub(crate) fn routes() -> Vec<RouteSpec> {
    vec![
        RouteSpec::new(
            Method::Get,
            "/v1/messages/conversations",
            Access::Signed,
            "messages",
            "The signer's conversations with their unread counts",
            |r| r.to(mine),
        )
        .scope(SCOPE)
        .params(super::page_params())
        .param(after_seq_param())
        .reply(
            200,
            "A page of conversations",
            Content::Json(my_conversations_schema),
        ),
        listing_params(RouteSpec::new(
            Method::Get,
            "/v1/messages/listings/{LS}/{PA}",
            Access::Signed,
            "messages",
            "The messages of a listing's conversation with one buyer, oldest first",
            |r| r.to(listing_read),
        ))
        .params(page_query_params())
        .param(after_seq_param())
        .reply(
            200,
            "The conversation's messages",
            Content::Json(conversation_page_schema),
        ),
        listing_params(RouteSpec::new(
            Method::Post,
            "/v1/messages/listings/{LS}/{PA}",
            Access::Signed,
            "messages",
            "Send a message in a listing's conversation with one buyer",
            |r| r.to(listing_post),
        ))
        .param(after_seq_param())
        .body(Body::Json(text_body))
        .reply(201, "The message as stored", Content::Json(posted_schema))
        .reply(
            200,
            "The first answer, when this signed request was already stored",
            Content::Json(posted_schema),
        ),
        contract_params(RouteSpec::new(
            Method::Get,
            "/v1/messages/contracts/{CT}",
            Access::Signed,
            "messages",
            "The messages of a contract's conversation, oldest first",
            |r| r.to(contract_read),
        ))
        .params(page_query_params())
        .param(after_seq_param())
        .reply(
            200,
            "The conversation's messages",
            Content::Json(conversation_page_schema),
        ),
        contract_params(RouteSpec::new(
            Method::Post,
            "/v1/messages/contracts/{CT}",
            Access::Signed,
            "messages",
            "Send a message in a contract's conversation",
            |r| r.to(contract_post),
        ))
        .param(after_seq_param())
        .body(Body::Json(text_body))
        .reply(201, "The message as stored", Content::Json(posted_schema))
        .reply(
            200,
            "The first answer, when this signed request was already stored",
            Content::Json(posted_schema),
        ),
    ]
}

impl From<MessageError> for ApiError {
    fn from(e: MessageError) -> Self {
        match e {
            MessageError::Refused(r) => ApiError::from(r),
            MessageError::Views(v) => ApiError::from(v),
            MessageError::Store(cause) => {
                tracing::error!(%cause, "message store");
                let mut e = ApiError::new(
                    503,
                    deedlog_domain::codes::MESSAGE_STORE_UNAVAILABLE.code,
                    "the message store failed; nothing was stored; retry later",
                );
                e.retry_after_s = Some(1);
                e
            }
        }
    }
}

/// `?after=&limit=`.
#[derive(Debug, Deserialize)]
pub struct MessagePage {
    after: Option<u64>,
    limit: Option<usize>,
}

/// `{"text"}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TextBody {
    text: String,
}

/// Authenticates a signed request with `body`: signature, `?after_seq`, current key.
async fn signed(
    req: &HttpRequest,
    state: &AppState,
    body: &[u8],
    after: &AfterSeq,
) -> Result<(String, u64), ApiError> {
    let signed = verify_signature(req, body, state)?;
    let applied = super::views_at(state, after).await?;
    let actor = check_key(signed, state)?;
    Ok((actor, applied))
}

/// The sender's per-minute quota: `429 rate.limited` with `Retry-After` beyond it.
fn admit(state: &AppState, actor: &str) -> Result<(), ApiError> {
    let Some(limiter) = &state.message_senders else {
        return Ok(());
    };
    if let Err(not_until) = limiter.check_key(&format!("message {actor}")) {
        let wait = not_until.wait_time_from(governor::clock::Clock::now(
            &governor::clock::DefaultClock::default(),
        ));
        let mut e = ApiError::new(
            429,
            "rate.limited",
            "too many messages from this sender; slow down",
        )
        .with_details(json!({
            "retry_after_ms": u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
            "per_minute": state.config.messages_per_minute,
        }));
        e.retry_after_s = Some(wait.as_secs().max(1));
        return Err(e);
    }
    Ok(())
}

fn answer(status: StatusCode, applied: u64, value: &Value) -> HttpResponse {
    let mut res = body_json(status, value);
    set_applied(&mut res, applied);
    res
}

fn listing_of(path: &(String, String)) -> Result<Conversation, ApiError> {
    Ok(Conversation::Listing {
        listing: full_id(IdKind::Listing, &path.0)?,
        buyer: full_id(IdKind::Party, &path.1)?,
    })
}

async fn read(
    req: HttpRequest,
    state: Data<AppState>,
    conversation: Conversation,
    page: &MessagePage,
    after: &AfterSeq,
) -> Result<HttpResponse, ApiError> {
    let limit = page.limit.unwrap_or(50);
    if limit == 0 || limit > PAGE_MAX {
        return Err(ApiError::bad_request(
            "request.bad_query",
            format!("limit must be 1 to {PAGE_MAX}"),
        ));
    }
    let (actor, applied) = signed(&req, &state, b"", after).await?;
    let node = state.node.clone();
    let from = page.after.unwrap_or(0);
    let value = web::block(move || node.conversation(&actor, &conversation, from, limit))
        .await
        .map_err(|e| ApiError::internal(&e))??;
    Ok(answer(StatusCode::OK, applied, &value))
}

async fn post(
    req: HttpRequest,
    state: Data<AppState>,
    payload: web::Payload,
    conversation: Conversation,
    after: &AfterSeq,
) -> Result<HttpResponse, ApiError> {
    let bytes = read_body_vec(&state, payload, MESSAGE_BODY_MAX).await?;
    let (actor, applied) = signed(&req, &state, &bytes, after).await?;
    let body: TextBody = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request("request.bad_json", e.to_string()))?;
    // Text refused on its own merits is answered before the quota counts it: the quota is for
    // what would be stored.
    deedlog_node::messages::check_text(&body.text)?;
    admit(&state, &actor)?;
    // The signature identifies the signed request: the same request sent again (a retry, or a
    // replay by whoever saw it) is answered with the first message and stores nothing.
    let replay: [u8; 32] = Sha256::digest(
        req.headers()
            .get(HEADER_SIGNATURE)
            .map_or(&b""[..], |v| v.as_bytes()),
    )
    .into();
    let node = state.node.clone();
    let id = conversation.id();
    let posted = web::block(move || node.post_message(&actor, &conversation, &body.text, replay))
        .await
        .map_err(|e| ApiError::internal(&e))??;
    let status = if posted.duplicate {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    let value = json!({
        "conversation": id,
        "message": serde_json::to_value(&posted.message).map_err(|e| ApiError::internal(&e))?,
        "duplicate": posted.duplicate,
    });
    Ok(answer(status, applied, &value))
}

async fn listing_read(
    req: HttpRequest,
    state: Data<AppState>,
    path: Path<(String, String)>,
    page: Query<MessagePage>,
    after: Query<AfterSeq>,
) -> Result<HttpResponse, ApiError> {
    let c = listing_of(&path)?;
    read(req, state, c, &page, &after).await
}

async fn listing_post(
    req: HttpRequest,
    state: Data<AppState>,
    path: Path<(String, String)>,
    payload: web::Payload,
    after: Query<AfterSeq>,
) -> Result<HttpResponse, ApiError> {
    let c = listing_of(&path)?;
    post(req, state, payload, c, &after).await
}

async fn contract_read(
    req: HttpRequest,
    state: Data<AppState>,
    path: Path<String>,
    page: Query<MessagePage>,
    after: Query<AfterSeq>,
) -> Result<HttpResponse, ApiError> {
    let c = Conversation::Contract {
        contract: full_id(IdKind::Contract, &path)?,
    };
    read(req, state, c, &page, &after).await
}

async fn contract_post(
    req: HttpRequest,
    state: Data<AppState>,
    path: Path<String>,
    payload: web::Payload,
    after: Query<AfterSeq>,
) -> Result<HttpResponse, ApiError> {
    let c = Conversation::Contract {
        contract: full_id(IdKind::Contract, &path)?,
    };
    post(req, state, payload, c, &after).await
}

async fn mine(
    req: HttpRequest,
    state: Data<AppState>,
    page: Query<super::PageQuery>,
    after: Query<AfterSeq>,
) -> Result<HttpResponse, ApiError> {
    let paging = page.paging()?;
    let (actor, applied) = signed(&req, &state, b"", &after).await?;
    let node = state.node.clone();
    let value = web::block(move || node.my_conversations(&actor, paging.offset, paging.limit))
        .await
        .map_err(|e| ApiError::internal(&e))??;
    Ok(answer(StatusCode::OK, applied, &value))
}
