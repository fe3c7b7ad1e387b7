//! The demo's stand-in for a phone's SMS inbox: `GET /v1/identity/demo/sms`.
//!
//! The embedded identity authority writes SMS codes only to the operator's outbox
//! (`DATA/outbox/sms.jsonl`). A person trying the demo in a browser has no phone that receives
//! them, so `deedlog serve --demo-sms` lets the `#/me` screen show the code of a challenge it
//! asked for. The route is off unless that flag is given **and** the node holds the embedded
//! identity authority's key (a node whose identity authority is a real provider never shows a
//! code); off, it answers `404 demo.sms_off`, and the page shows nothing of it.
//!
//! Even when on, a code is shown only to whoever names both the challenge (128 random bits,
//! answered only to the caller that asked for it) and the phone number it went to, so that the
//! route is no oracle for other people's codes beyond what the demo already gives away.

use std::io::{Read as _, Seek as _, SeekFrom};

use actix_web::web::{Data, Query};
use actix_web::{HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Access, Content, Method, RouteSpec, body_json, query_required};
use crate::AppState;
use crate::error::ApiError;

/// The most of the outbox's end that is read for a challenge, bytes: codes expire within
/// minutes, so the newest lines are enough, and the file is never read whole.
const OUTBOX_TAIL_BYTES: u64 = 256 * 1024;

/// The routes of this module.
pub(crate) fn routes() -> Vec<RouteSpec> {
    vec![
        RouteSpec::new(
            Method::Get,
            "/v1/identity/demo/sms",
            Access::Public,
            "identity",
            "Demo only (`serve --demo-sms`): the SMS code sent for a challenge to a number",
            |r| r.to(demo_sms),
        )
        .scope("/v1/identity")
        .param(query_required(
            "challenge",
            || json!({"type": "string", "pattern": "^ch-[0-9a-f]{32}$"}),
            "The challenge the phone or real-name step answered",
        ))
        .param(query_required(
            "phone",
            || json!({"type": "string", "pattern": "^1[3-9][0-9]{9}$"}),
            "The number the code was sent to",
        ))
        .reply(
            200,
            "The code, or `null` while none was sent",
            Content::Json(|| {
                json!({"type": "object", "required": ["demo", "challenge", "code", "purpose", "sent_at_ms"],
                    "properties": {"demo": {"type": "boolean", "const": true},
                        "challenge": {"type": "string"},
                        "code": {"type": ["string", "null"]},
                        "purpose": {"type": ["string", "null"]},
                        "sent_at_ms": {"type": ["integer", "null"]}}})
            }),
        ),
    ]
}

/// Whether the demo SMS inbox is served: the flag, and the embedded identity authority.
#[must_use]
pub fn demo_sms_on(state: &AppState) -> bool {
    state.config.demo_sms && state.node.keys().get("authority/identity").is_some()
}

/// `?challenge=&phone=`.
#[derive(Debug, Deserialize)]
pub struct DemoQuery {
    challenge: Option<String>,
    phone: Option<String>,
}

/// The newest outbox line for `challenge` sent to `phone`.
fn find(path: &std::path::Path, challenge: &str, phone: &str) -> Option<Value> {
    let mut f = std::fs::File::open(path).ok()?;
    let len = f.metadata().ok()?.len();
    let start = len.saturating_sub(OUTBOX_TAIL_BYTES);
    f.seek(SeekFrom::Start(start)).ok()?;
    let mut buf = Vec::new();
    f.take(OUTBOX_TAIL_BYTES).read_to_end(&mut buf).ok()?;
    let text = String::from_utf8_lossy(&buf);
    text.lines()
        .rev()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| {
            v.get("challenge").and_then(Value::as_str) == Some(challenge)
                && v.get("to").and_then(Value::as_str) == Some(phone)
        })
}

async fn demo_sms(
    _req: HttpRequest,
    state: Data<AppState>,
    q: Query<DemoQuery>,
) -> Result<HttpResponse, ApiError> {
    if !demo_sms_on(&state) {
        return Err(ApiError::new(
            404,
            deedlog_domain::codes::DEMO_SMS_OFF.code,
            "this node does not show SMS codes (it is not a demo started with --demo-sms)",
        ));
    }
    let challenge = q.challenge.as_deref().unwrap_or_default();
    let phone = q.phone.as_deref().unwrap_or_default();
    let well_formed = challenge.len() == 35
        && challenge.starts_with("ch-")
        && challenge[3..]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        && deedlog_domain::validate::mobile("phone", phone).is_ok_and(|p| p == phone);
    if !well_formed {
        return Err(ApiError::bad_request(
            "request.bad_query",
            "challenge must be ch- and 32 hex digits, phone an 11-digit mobile number",
        ));
    }
    let outbox = state.node.sms_outbox().to_path_buf();
    let (c, p) = (challenge.to_owned(), phone.to_owned());
    let line = actix_web::web::block(move || find(&outbox, &c, &p))
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let value = json!({
        "demo": true,
        "challenge": challenge,
        "code": line.as_ref().and_then(|l| l.get("code")).cloned().unwrap_or(Value::Null),
        "purpose": line.as_ref().and_then(|l| l.get("purpose")).cloned().unwrap_or(Value::Null),
        "sent_at_ms": line.as_ref().and_then(|l| l.get("sent_at_ms")).cloned().unwrap_or(Value::Null),
    });
    let mut res = body_json(actix_web::http::StatusCode::OK, &value);
    res.headers_mut().insert(
        actix_web::http::header::CACHE_CONTROL,
        actix_web::http::header::HeaderValue::from_static("no-store"),
    );
    Ok(res)
}
