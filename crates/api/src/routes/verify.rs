//! Public verification with proof bundles: listing codes, filing codes, documents by hash.

use actix_web::HttpResponse;
use actix_web::web::{self, Bytes, Data, Path, Query};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use deedlog_domain::ids::IdKind;
use deedlog_views::Doc;

use super::{
    Access, AfterSeq, Body, Content, Method, RouteSpec, after_seq_param, bundle, bundle_at_size,
    path_param, read_body, set_applied, to_value, view_json,
};
use crate::AppState;
use crate::error::ApiError;

/// Most document matches returned.
pub const MATCHES_MAX: usize = 20;

fn code_schema(prefix: &'static str) -> Value {
    json!({"type": "string", "maxLength": deedlog_domain::ids::CODE_TEXT_MAX,
        "description": format!("The spoken form ({prefix}- then 13 Crockford base32 symbols and a check symbol, \
            hyphens and case ignored) or the v1 form ({prefix}- then 16 hex digits)")})
}

/// Reads a code from a path, expecting `tag`: `400 code.mistyped` when no code can look like it
/// (a bad symbol, a wrong length or prefix, a check symbol that does not match), so that a typo is
/// told apart from a well-formed code the log does not know (`404`). Returns the v1 form the log
/// and the indexes carry.
pub(crate) fn read_code(text: &str, tag: deedlog_domain::ids::CodeTag) -> Result<String, ApiError> {
    let (got, v1) = deedlog_domain::ids::parse_code(text).map_err(|e| {
        ApiError::bad_request("code.mistyped", e.to_string())
            .with_details(json!({"code": text.chars().take(64).collect::<String>()}))
    })?;
    if got != tag {
        return Err(ApiError::bad_request(
            "code.mistyped",
            format!(
                "a {}- code was given where a {}- code is asked",
                got.prefix(),
                tag.prefix()
            ),
        )
        .with_details(json!({"code": text})));
    }
    Ok(v1)
}

/// The proof bundle's shape.
pub(crate) fn bundle_schema() -> Value {
    json!({"type": "object", "required": ["format", "seq", "entry", "leaf_hash", "tree_size", "inclusion", "checkpoint", "log_key"],
        "properties": {"format": {"type": "string"}, "seq": {"type": "integer"}, "entry": {"type": "string"},
            "leaf_hash": {"type": "string"}, "tree_size": {"type": "integer"},
            "inclusion": {"type": "array", "items": {"type": "string"}}, "checkpoint": {"type": "string"},
            "log_key": {"type": "string"},
            "witnessed": {"type": "object", "required": ["checkpoint", "consistency"],
                "properties": {"checkpoint": {"type": "string"},
                    "consistency": {"type": "array", "items": {"type": "string"}}}}}})
}

/// The `state` of a verify answer: the bundle of the entry that committed the newest state root
/// and, against that root, the status and state proof of each aggregate the answer is about.
pub(crate) fn state_schema() -> Value {
    json!({"type": "object", "required": ["bundle", "aggregates"],
        "description": "Still current? The bundle of the last entry of the newest batch at or below the checkpoint served (its derived.state_root is the root of the state map after it) and, against that root, each aggregate's public status and its sparse Merkle proof (FORMAT.md, \"State map\")",
        "properties": {"bundle": bundle_schema(),
            "aggregates": {"type": "array", "maxItems": 2, "items": {"type": "object", "required": ["aggregate", "status", "proof"],
                "properties": {"aggregate": {"type": "string"},
                    "status": {"type": ["string", "null"], "description": "The canonical JSON text of the public status; its SHA-256 is the proof's value (null: not in the map)"},
                    "proof": {"type": "object", "required": ["key", "siblings", "terminal"],
                        "properties": {"key": {"type": "string"}, "siblings": {"type": "array", "maxItems": 256, "items": {"type": "string"}},
                            "terminal": {"type": "object", "required": ["kind"], "properties": {"kind": {"type": "string", "enum": ["member", "empty", "other"]},
                                "key": {"type": "string"}, "value": {"type": "string"}}}}}}}}}})
}

/// The `state` of an answer about `aggregates`: `None` while the log commits no root for its
/// current size (a log written before roots were committed, until its next batch).
fn state_answer(state: &AppState, aggregates: &[&str]) -> Result<Option<Value>, ApiError> {
    let proofs = state.node.state_proofs(aggregates).map_err(|error| {
        tracing::error!(%error, "state proofs");
        ApiError::new(
            503,
            "ledger.unavailable",
            "the state proofs cannot be read now; try again",
        )
    })?;
    let Some((size, proofs)) = proofs else {
        return Ok(None);
    };
    let bundle = bundle_at_size(state, size - 1, size)?;
    Ok(Some(
        json!({"bundle": to_value(&bundle)?, "aggregates": serde_json::to_value(&proofs).map_err(|e| ApiError::internal(&e))?}),
    ))
}

/// The filed contract as `verify/contract` shows it: these fields of the `ContractDoc`.
pub(crate) fn filed_contract_schema() -> Value {
    const SHOWN: [&str; 7] = [
        "id",
        "status",
        "listing",
        "property",
        "document_hash",
        "filed_seq",
        "signatures",
    ];
    let full =
        serde_json::to_value(<deedlog_views::docs::ContractDoc as utoipa::PartialSchema>::schema())
            .unwrap_or(Value::Null);
    let properties: serde_json::Map<String, Value> = SHOWN
        .iter()
        .map(|k| ((*k).to_owned(), full["properties"][*k].clone()))
        .collect();
    json!({"type": "object", "required": SHOWN, "properties": properties})
}

/// One place a file's hash was found on the log.
fn match_schema() -> Value {
    json!({"type": "object", "required": ["what", "id", "seq", "current", "status", "code", "proof"],
        "properties": {
            "what": {"type": "string", "enum": ["contract_document", "offline_scan", "listing_photo"]},
            "id": {"type": "string", "description": "The contract or listing"},
            "seq": {"type": "integer", "description": "The entry that put the hash on the log"},
            "current": {"type": "boolean", "description": "Still the current document, scan or shown photo"},
            "status": {"type": "string", "description": "The contract's or listing's status"},
            "code": {"type": ["string", "null"], "description": "The filing code or listing code"},
            "proof": bundle_schema()}})
}

/// The routes of this module.
pub(crate) fn routes() -> Vec<RouteSpec> {
    vec![
        RouteSpec::new(Method::Get, "/v1/verify/listing/{code}", Access::Public, "verify",
            "Authenticity of a listing, with proof bundles", |r| r.to(verify_listing))
            .scope("/v1/verify")
            .param(path_param("code", || code_schema("LV"), "The listing verification code (房源验真码)"))
            .param(after_seq_param())
            .reply(200, "The listing with the bundles of the entry that issued the code, of its last change, and (when that change is the seller's approval) of the approved proposal; and `state`: the listing's and its property's current public status, proved against the newest committed state root",
                Content::Json(|| json!({"type": "object", "required": ["code", "listing", "proof", "current"],
                    "properties": {"code": {"type": "string", "description": "The code in the v1 form the log carries"},
                        "spoken_code": {"type": "string", "description": "The same code in its spoken form"}, "listing": super::listings::public_listing_schema(),
                        "proof": bundle_schema(), "current": bundle_schema(),
                        "approved": bundle_schema(), "state": state_schema()}}))),
        RouteSpec::new(Method::Get, "/v1/verify/contract/{filing_code}", Access::Public, "verify",
            "Authenticity of a filed contract, with proof bundles", |r| r.to(verify_contract))
            .scope("/v1/verify")
            .param(path_param("filing_code", || code_schema("FC"), "The contract filing code (备案码)"))
            .param(after_seq_param())
            .reply(200, "The filed contract with the bundles of its filing and of its latest entry; and `state`: its current public status, proved against the newest committed state root",
                Content::Json(|| json!({"type": "object", "required": ["filing_code", "contract", "proof", "latest"],
                    "properties": {"filing_code": {"type": "string", "description": "The code in the v1 form the log carries"},
                        "spoken_code": {"type": "string", "description": "The same code in its spoken form"}, "contract": filed_contract_schema(),
                        "proof": bundle_schema(), "latest": bundle_schema(), "state": state_schema()}}))),
        RouteSpec::new(Method::Post, "/v1/verify/document", Access::Public, "verify",
            "Find a file's SHA-256 on the log, with proof bundles", |r| r.to(verify_document))
            .scope("/v1/verify")
            .body(Body::Raw)
            .param(after_seq_param())
            .reply(200, "Where the file's hash is on the log (at most 20 matches)",
                Content::Json(document_answer_schema)),
        RouteSpec::new(Method::Get, "/v1/verify/document/{sha256}", Access::Public, "verify",
            "Find a SHA-256 computed by the caller on the log, with proof bundles", |r| r.to(verify_document_hash))
            .scope("/v1/verify")
            .param(path_param("sha256", || json!({"type": "string", "pattern": "^[0-9a-f]{64}$"}),
                "The file's SHA-256, 64 lower-case hex digits (the file itself is never sent)"))
            .param(after_seq_param())
            .reply(200, "Where the hash is on the log (at most 20 matches)", Content::Json(document_answer_schema)),
    ]
}

fn document_answer_schema() -> Value {
    json!({"type": "object", "required": ["sha256", "matches"],
        "properties": {"sha256": {"type": "string"}, "matches": {"type": "array", "maxItems": MATCHES_MAX,
            "items": match_schema()}}})
}

/// The state a verification answer depends on: views applied and the latest checkpoint's size.
fn answer_state(state: &AppState, applied: u64) -> (u64, u64) {
    let size = state
        .node
        .reader()
        .latest_checkpoint()
        .map_or(0, |c| c.size);
    (applied, size)
}

fn cached_view_json(applied: u64, bytes: Bytes) -> HttpResponse {
    let mut res = HttpResponse::Ok()
        .content_type("application/json")
        .body(bytes);
    set_applied(&mut res, applied);
    res
}

async fn verify_listing(
    state: Data<AppState>,
    code: Path<String>,
    after: Query<AfterSeq>,
) -> Result<HttpResponse, ApiError> {
    let code = read_code(&code, deedlog_domain::ids::CodeTag::Listing)?;
    let applied = super::views_at(&state, &after).await?;
    let at = answer_state(&state, applied);
    let key = format!("listing\0{}", code.as_str());
    if let Some(bytes) = state.answers.get(at, &key) {
        return Ok(cached_view_json(applied, bytes));
    }
    let views = state.node.views();
    let id = views
        .by_code(&code)?
        .filter(|id| IdKind::Listing.matches(id))
        .ok_or_else(|| ApiError::not_found(&format!("listing code {code}")))?;
    // A listing that never showed (a proposal waiting for the seller's review, or one rejected)
    // is not public: the same answer as an unknown code, as `GET /v1/listings/{id}` gives.
    let Some(Doc::Listing(doc)) = views.doc(&id)?.filter(|d| match d {
        Doc::Listing(l) => l.ever_shown,
        _ => false,
    }) else {
        return Err(ApiError::not_found(&format!("listing code {code}")));
    };
    let proof = bundle_at_size(&state, doc.created_seq, at.1)?;
    let current = bundle_at_size(&state, doc.updated_seq, at.1)?;
    let mut answer = json!({"code": code.as_str(), "spoken_code": deedlog_domain::ids::spoken_code(&code), "listing": deedlog_views::public_listing_value(&doc), "proof": to_value(&proof)?, "current": to_value(&current)?});
    // When the last change shown is the seller's approval, the fields it made show come from
    // the approved proposal: its bundle lets a verifier prove them too.
    if let Some(proposal) = approved_proposal(&current) {
        answer["approved"] = to_value(&bundle_at_size(&state, proposal, at.1)?)?;
    }
    let committed = state_answer(&state, &[doc.id.as_str(), doc.property.as_str()])?;
    // Cached only when the state stands at the checkpoint served: the published state map
    // follows a batch's publication by a moment, and an answer cached in that moment would
    // keep the older state for as long as the checkpoint does not move.
    let fresh = committed
        .as_ref()
        .and_then(|c| c["bundle"]["tree_size"].as_u64())
        == Some(at.1);
    if let Some(c) = committed {
        answer["state"] = c;
    }
    let bytes =
        Bytes::from(deedlog_core::canonical::encode(&answer).map_err(|e| ApiError::internal(&e))?);
    if fresh {
        state.answers.put(at, key, bytes.clone());
    }
    Ok(cached_view_json(applied, bytes))
}

/// The proposal a `listing.approve` bundle approved (`payload.proposal_seq` of its opening), if
/// the bundle is of an approval with its opening.
fn approved_proposal(bundle: &deedlog_core::bundle::ProofBundle) -> Option<u64> {
    let entry =
        deedlog_core::LoggedEntry::decode(&deedlog_core::keys::from_base64(&bundle.entry).ok()?)
            .ok()?;
    if entry.command_kind() != "listing.approve" {
        return None;
    }
    let payload = bundle.opening.as_ref()?.get("payload")?;
    payload
        .get("proposal_seq")?
        .as_u64()
        .filter(|p| *p < entry.seq)
}

async fn verify_contract(
    state: Data<AppState>,
    code: Path<String>,
    after: Query<AfterSeq>,
) -> Result<HttpResponse, ApiError> {
    let code = read_code(&code, deedlog_domain::ids::CodeTag::Filing)?;
    let applied = super::views_at(&state, &after).await?;
    let views = state.node.views();
    let id = views
        .by_code(&code)?
        .filter(|id| IdKind::Contract.matches(id))
        .ok_or_else(|| ApiError::not_found(&format!("filing code {code}")))?;
    let Some(Doc::Contract(doc)) = views.doc(&id)? else {
        return Err(ApiError::not_found(&id));
    };
    let filed = doc
        .filed_seq
        .ok_or_else(|| ApiError::not_found(&format!("filing code {code}")))?;
    let latest_seq = {
        let reader = state.node.reader();
        let version = reader.stream_version(&id)?;
        reader
            .stream_seqs(&id, version, 1)?
            .first()
            .copied()
            .unwrap_or(filed)
    };
    let proof = bundle(&state, filed)?;
    let latest = bundle(&state, latest_seq.max(filed))?;
    let mut answer = json!({
        "filing_code": code.as_str(),
        "spoken_code": deedlog_domain::ids::spoken_code(&code),
        "contract": {"id": doc.id, "status": doc.status, "listing": doc.listing, "property": doc.property,
                     "document_hash": doc.document_hash, "filed_seq": doc.filed_seq, "signatures": doc.signatures},
        "proof": to_value(&proof)?, "latest": to_value(&latest)?,
    });
    if let Some(c) = state_answer(&state, &[doc.id.as_str()])? {
        answer["state"] = c;
    }
    Ok(view_json(applied, &answer))
}

async fn verify_document(
    state: Data<AppState>,
    payload: web::Payload,
    after: Query<AfterSeq>,
) -> Result<HttpResponse, ApiError> {
    let max = state.config.document_bytes_max;
    let mut hasher = Sha256::new();
    read_body(&state, payload, max, |c| hasher.update(c)).await?;
    let hex = hex::encode(hasher.finalize());
    document_matches(&state, hex, &after).await
}

/// `GET /v1/verify/document/{sha256}`: the same answer for a hash the caller computed, so that
/// the web page checks a file without sending it.
async fn verify_document_hash(
    state: Data<AppState>,
    sha256: Path<String>,
    after: Query<AfterSeq>,
) -> Result<HttpResponse, ApiError> {
    let hex = sha256.into_inner();
    if hex.len() != 64 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(ApiError::bad_request(
            "request.bad_path",
            "the hash must be 64 lower-case hex digits",
        ));
    }
    document_matches(&state, hex, &after).await
}

/// Where `hex` is on the log, with a bundle per match.
async fn document_matches(
    state: &AppState,
    hex: String,
    after: &AfterSeq,
) -> Result<HttpResponse, ApiError> {
    let applied = super::views_at(state, after).await?;
    let views = state.node.views();
    let mut matches = Vec::new();
    for m in views.by_hash(&hex, MATCHES_MAX)? {
        let (current, status, code) = match views.doc(&m.id)? {
            Some(Doc::Contract(c)) => {
                let current = match m.what.as_str() {
                    "contract_document" => c.document_hash == hex,
                    _ => true,
                };
                (current, c.status.clone(), c.filing_code.clone())
            }
            Some(Doc::Listing(l)) => (
                l.status == "active" && l.photos.contains(&hex),
                l.status.clone(),
                Some(l.code.clone()),
            ),
            _ => (false, String::new(), None),
        };
        matches.push(
            json!({"what": m.what, "id": m.id, "seq": m.seq, "current": current, "status": status,
                            "code": code, "proof": to_value(&bundle(state, m.seq)?)?}),
        );
    }
    Ok(view_json(
        applied,
        &json!({"sha256": hex, "matches": matches}),
    ))
}
