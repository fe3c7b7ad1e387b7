//! Listing photos: a bounded, signed upload and a read that serves a photo only once it may be
//! seen (see [`crate::photos`] for the store).
//!
//! Who may fetch a photo: anyone, once it was shown on an active listing (the projection indexes
//! it as a `listing_photo`); before that only its uploader, the housing authority, and the seller
//! or agent of the listing named by `?listing=` while that listing's pending proposal (the
//! seller's "review the agent's edits") carries it. Any other request gets the same `404` as a
//! photo that does not exist, so a hash tells nobody whether a flat is about to be listed.

use actix_web::web::{self, Data, Path, Query};
use actix_web::{HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::{Value, json};

use deedlog_domain::ids::{self, IdKind};
use deedlog_views::Doc;

use super::{Access, Body, Content, Method, RouteSpec, path_param, query, read_body_vec};
use crate::AppState;
use crate::disclose::Reader;
use crate::error::ApiError;
use crate::photos::{MediaType, PhotoError, PhotoLimits, Photos, Stored, is_sha256_hex};

/// The media types a photo is served with.
const MEDIA_TYPES: &[&str] = &["image/jpeg", "image/png", "image/webp"];

/// The routes of this module.
pub(crate) fn routes() -> Vec<RouteSpec> {
    vec![
        RouteSpec::new(Method::Post, "/v1/photos", Access::Signed, "listings",
            "Upload a listing photo (JPEG, PNG or WebP), as a certified agent or a party whose real name is verified; answers its SHA-256 for the listing command", |r| r.to(upload))
            .body(Body::Raw)
            .reply(201, "Stored: the hash to put in listing.publish or listing.change_photos",
                Content::Json(stored_schema))
            .reply(200, "The same bytes were stored before: the same hash", Content::Json(stored_schema)),
        RouteSpec::new(Method::Get, "/v1/photos/{sha256}", Access::Public, "listings",
            "A listing photo by its SHA-256 (public once shown; before that signed, for its uploader and the listing's seller and agent)",
            |r| r.to(fetch))
            .param(path_param("sha256", || json!({"type": "string", "pattern": "^[0-9a-f]{64}$"}),
                "The photo's SHA-256 as the listing on the log carries it"))
            .param(query("listing", || json!({"type": "string", "maxLength": 64}),
                "A listing whose pending proposal carries the photo (its seller or agent, signed)"))
            .reply(200, "The photo's bytes; the caller checks they hash to the name", Content::Binary(MEDIA_TYPES)),
    ]
}

fn stored_schema() -> Value {
    json!({"type": "object", "required": ["sha256", "bytes", "media_type"], "properties": {
        "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
        "bytes": {"type": "integer", "minimum": 1},
        "media_type": {"type": "string", "enum": MEDIA_TYPES}}})
}

fn store(state: &AppState) -> Photos {
    Photos::with_limits(
        state.node.data_dir(),
        PhotoLimits::per_actor(state.config.photos_per_actor_max),
    )
}

/// How long an upload waits for the views to catch up with the log before an actor they do
/// not (yet) know as one who may upload is refused: a party verified a moment ago uploads at
/// once.
const VIEWS_CATCH_UP: std::time::Duration = std::time::Duration::from_secs(2);

/// Whether the views know `actor` as one who can use photos: a certified agent (who publishes
/// for sellers), or a party whose real name is verified and not erased (the only parties who
/// may list: `listing.publish` needs a verified real name). An unverified party, who can list
/// nothing, keeps no bytes on the node's disk.
fn may_upload(state: &AppState, actor: &str) -> Result<bool, ApiError> {
    Ok(match state.node.views().doc(actor)? {
        Some(Doc::Agent(a)) => a.status == "certified",
        Some(Doc::Party(p)) => p.verified && !p.erased,
        _ => false,
    })
}

fn photo_error(e: &PhotoError) -> ApiError {
    match e {
        PhotoError::NotAnImage => ApiError::bad_request("photo.not_an_image", e.to_string()),
        PhotoError::TooSmall => ApiError::bad_request("photo.too_small", e.to_string()),
        PhotoError::Quota(..) => ApiError::new(409, "photo.quota_full", e.to_string()),
        PhotoError::StoreFull { used, max, .. } => {
            tracing::warn!(used, max, "the photo store is full; uploads are refused");
            ApiError::new(507, "photo.store_full", e.to_string())
                .with_details(json!({"bytes_kept": used, "bytes_max": max}))
        }
        PhotoError::DiskLow { free, reserve } => {
            tracing::warn!(
                free,
                reserve,
                "the disk under the data folder is nearly full; photo uploads are refused"
            );
            let mut e = ApiError::new(507, "photo.disk_full", e.to_string())
                .with_details(json!({"bytes_free": free, "bytes_reserved": reserve}));
            e.retry_after_s = Some(60);
            e
        }
        PhotoError::Io(io) => {
            tracing::error!(error = %io, "photo store");
            ApiError::new(
                503,
                "photo.store_unavailable",
                "the photo could not be stored (the server's disk); nothing was kept, try again later",
            )
        }
    }
}

async fn upload(
    state: Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = read_body_vec(&state, payload, state.config.photo_bytes_max).await?;
    let actor = crate::auth::authenticate(&req, &body, &state)?;
    // Listers only: an agent publishes for a seller, a citizen self-lists.
    if !matches!(ids::actor_kind(&actor), Some(IdKind::Agent | IdKind::Party)) {
        return Err(crate::auth::forbidden(&actor));
    }
    // ... and only those who can: a certified agent, a party with a verified real name.
    let mut allowed = may_upload(&state, &actor)?;
    if !allowed {
        let size = state.node.reader().size();
        if state.node.views().applied() < size
            && state.node.views().wait_applied(size, VIEWS_CATCH_UP).await
        {
            allowed = may_upload(&state, &actor)?;
        }
    }
    if !allowed {
        return Err(ApiError::new(
            403,
            "request.forbidden",
            format!(
                "{actor} may not upload photos: only a certified agent, or a party whose real \
                 name is verified, can put photos on a listing (verify your identity first)"
            ),
        ));
    }
    let photos = store(&state);
    let stored: Stored = web::block(move || photos.put(&actor, &body))
        .await
        .map_err(|e| ApiError::internal(&e))?
        .map_err(|e| photo_error(&e))?;
    let status = if stored.existed { 200 } else { 201 };
    Ok(super::body_json(
        actix_web::http::StatusCode::from_u16(status)
            .unwrap_or(actix_web::http::StatusCode::CREATED),
        &json!({"sha256": stored.sha256, "bytes": stored.bytes, "media_type": stored.media_type.as_str()}),
    ))
}

#[derive(Debug, Deserialize)]
struct FetchQuery {
    listing: Option<String>,
}

/// Whether `value` holds a `"photos"` array with `hex` anywhere inside.
fn proposes(value: &Value, hex: &str) -> bool {
    match value {
        Value::Object(map) => map.iter().any(|(k, v)| {
            (k == "photos"
                && v.as_array()
                    .is_some_and(|a| a.iter().any(|p| p.as_str() == Some(hex))))
                || proposes(v, hex)
        }),
        Value::Array(items) => items.iter().any(|v| proposes(v, hex)),
        _ => false,
    }
}

/// Whether a photo not yet public may go to `reader`.
fn may_see_unshown(
    state: &AppState,
    reader: &Reader,
    hex: &str,
    listing: Option<&str>,
) -> Result<bool, ApiError> {
    let Reader::Actor(actor) = reader else {
        return Ok(false);
    };
    if actor == ids::HOUSING || store(state).uploaded_by(actor, hex) {
        return Ok(true);
    }
    let Some(listing) = listing.filter(|l| IdKind::Listing.matches(l)) else {
        return Ok(false);
    };
    Ok(match state.node.views().doc(listing)? {
        Some(Doc::Listing(l)) => {
            (l.seller == *actor || l.agent.as_ref().is_some_and(|a| a.id == *actor))
                && (l.photos.iter().any(|p| p == hex) || proposes(&l.pending, hex))
        }
        _ => false,
    })
}

async fn fetch(
    state: Data<AppState>,
    req: HttpRequest,
    sha256: Path<String>,
    q: Query<FetchQuery>,
) -> Result<HttpResponse, ApiError> {
    let hex = sha256.into_inner();
    if !is_sha256_hex(&hex) {
        return Err(ApiError::bad_request(
            "request.bad_path",
            "the hash must be 64 lower-case hex digits",
        ));
    }
    let shown = state
        .node
        .views()
        .by_hash(&hex, super::verify::MATCHES_MAX)?
        .iter()
        .any(|m| m.what == "listing_photo");
    let not_found = || {
        ApiError::new(
            404,
            "photo.not_found",
            "no photo with that hash is shown on a listing (or it is not yet public)",
        )
    };
    if !shown {
        let reader = Reader::of(&req, &state)?;
        if !may_see_unshown(&state, &reader, &hex, q.listing.as_deref())? {
            return Err(not_found());
        }
    }
    let photos = store(&state);
    let key = hex.clone();
    let (media_type, bytes): (MediaType, Vec<u8>) = web::block(move || photos.read_checked(&key))
        .await
        .map_err(|e| ApiError::internal(&e))?
        .map_err(|e| photo_error(&e))?
        .ok_or_else(not_found)?;
    Ok(HttpResponse::Ok()
        .content_type(media_type.as_str())
        .insert_header(("x-content-type-options", "nosniff"))
        .insert_header(("content-security-policy", "default-src 'none'; sandbox"))
        .insert_header(("cross-origin-resource-policy", "same-origin"))
        .insert_header(("etag", format!("\"{hex}\"")))
        .insert_header((
            "cache-control",
            if shown {
                "public, max-age=31536000, immutable"
            } else {
                "private, no-store"
            },
        ))
        .body(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pending_proposal_carries_photos_at_any_depth() {
        let h = "a".repeat(64);
        assert!(proposes(
            &json!({"seq": 3, "change": {"Photos": {"photos": [h.clone()]}}}),
            &h
        ));
        assert!(!proposes(&json!({"photos": ["b".repeat(64)]}), &h));
        assert!(!proposes(&json!({"title": h.clone()}), &h));
        assert!(!proposes(&Value::Null, &h));
    }
}
