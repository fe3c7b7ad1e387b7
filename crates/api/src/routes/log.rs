//! The log itself: checkpoints, exact entry bytes, proofs, and the follow stream.

use actix_web::http::StatusCode;
use actix_web::web::{Data, Path, Query};
use actix_web::{HttpRequest, HttpResponse};
use deedlog_core::verify::OpeningLine;
use serde::Deserialize;
use serde_json::json;

use super::{
    Access, Content, Method, RouteSpec, body_json, path_param, query, query_required, to_value,
    u64_schema,
};
use crate::disclose::{self, Reader};
use crate::error::ApiError;
use crate::{AppState, sse};

/// Most entries in one `/v1/log/entries` answer.
pub const ENTRIES_MAX: u64 = 1000;
/// About the most bytes of one `/v1/log/entries` answer.
pub const ENTRIES_BYTES_MAX: usize = 4 << 20;
/// Most checkpoints in one answer.
pub const CHECKPOINTS_MAX: usize = 1000;
/// Widest size range scanned for checkpoints in one answer.
pub const CHECKPOINT_RANGE_MAX: u64 = 10_000;

fn checkpoint_schema() -> serde_json::Value {
    json!({"type": "object", "required": ["origin", "size", "note", "log_key"], "properties": {
        "origin": {"type": "string"}, "size": {"type": "integer"}, "note": {"type": "string"},
        "log_key": {"type": "string"}, "policy": {"type": "string"}}})
}

/// The routes of this module.
pub(crate) fn routes() -> Vec<RouteSpec> {
    let s = "/v1/log";
    vec![
        RouteSpec::new(Method::Get, "/v1/log/checkpoint", Access::Public, "log", "The latest signed checkpoint", |r| r.to(log_checkpoint))
            .scope(s)
            .reply(200, "The checkpoint", Content::Json(checkpoint_schema)),
        RouteSpec::new(Method::Get, "/v1/log/entries", Access::Public, "log", "Exact entry bytes, one per line", |r| r.to(log_entries))
            .scope(s)
            .param(query_required("start", u64_schema, "First seq"))
            .param(query("end", u64_schema, "Seq after the last (default start+100; at most start+1000)"))
            .reply(200, "Entries, one canonical JSON object per line", Content::Text("application/x-ndjson")),
        RouteSpec::new(Method::Get, "/v1/log/entries/{seq}", Access::Public, "log", "One entry with its inclusion proof bundle", |r| r.to(log_entry))
            .scope(s)
            .param(path_param("seq", u64_schema, "The entry's seq"))
            .param(query("proof_size", u64_schema, "Prove against the first stored checkpoint of at least this size (default: the latest)"))
            .reply(200, "A proof bundle", Content::Json(super::verify::bundle_schema)),
        RouteSpec::new(Method::Get, "/v1/log/entries/{seq}/tlog-proof", Access::Public, "log", "One entry's inclusion proof as a C2SP tlog-proof v1 text", |r| r.to(log_entry_tlog_proof))
            .scope(s)
            .param(path_param("seq", u64_schema, "The entry's seq"))
            .reply(200, "c2sp.org/tlog-proof@v1: the entry's bytes as extra data, the proof, the newest cosigned checkpoint covering it (else the latest)", Content::Text("text/plain; charset=utf-8")),
        RouteSpec::new(Method::Get, "/v1/log/proof/consistency", Access::Public, "log", "A consistency proof between two tree sizes", |r| r.to(log_consistency))
            .scope(s)
            .param(query_required("from", u64_schema, "The older size"))
            .param(query("to", u64_schema, "The newer size (default: the latest)"))
            .reply(200, "RFC 9162 consistency proof", Content::Json(|| json!({"type": "object", "required": ["from", "to", "proof"],
                "properties": {"from": {"type": "integer"}, "to": {"type": "integer"}, "proof": {"type": "array", "items": {"type": "string"}}}}))),
        RouteSpec::new(Method::Get, "/v1/log/checkpoints", Access::Public, "log", "Stored checkpoints in a size range", |r| r.to(log_checkpoints))
            .scope(s)
            .param(query_required("from", u64_schema, "Smallest size"))
            .param(query("to", u64_schema, "Largest size (default: the latest)"))
            .reply(200, "At most 1000 checkpoints", Content::Json(|| json!({"type": "object", "required": ["checkpoints", "next_from"],
                "properties": {"checkpoints": {"type": "array", "maxItems": CHECKPOINTS_MAX, "items": {"type": "object", "required": ["size", "note"]}},
                    "next_from": {"type": ["integer", "null"]}}}))),
        RouteSpec::new(Method::Get, "/v1/log/follow", Access::Public, "log", "Server-sent events: entries in order", |r| r.to(sse::follow))
            .scope(s)
            .param(query("from", u64_schema, "First seq (default 0)"))
            .param(super::Param {
                name: "Last-Event-ID",
                place: super::In::Header,
                required: false,
                schema: || json!({"type": "string", "pattern": "^[0-9]{1,19}$"}),
                description: "Resume after this seq",
            })
            .reply(200, "One event per entry", Content::Events(|| json!({"type": "object", "required": ["id", "event", "data"],
                "properties": {"id": {"type": "string", "pattern": "^[0-9]+$"}, "event": {"const": "entry"},
                    "data": {"type": "string", "description": "The entry's exact canonical bytes"}}}))),
        RouteSpec::new(Method::Get, "/checkpoint", Access::Public, "log", "The latest checkpoint note, text/plain", |r| r.to(checkpoint_text))
            .reply(200, "The C2SP checkpoint note", Content::Text("text/plain; charset=utf-8")),
    ]
}

async fn log_checkpoint(state: Data<AppState>) -> Result<HttpResponse, ApiError> {
    let cp =
        state.node.reader().latest_checkpoint().ok_or_else(|| {
            ApiError::new(503, "ledger.unavailable", "the log has no checkpoint yet")
        })?;
    let note = String::from_utf8(served_note(&state, &cp)).map_err(|e| ApiError::internal(&e))?;
    let mut answer = json!({"origin": state.node.origin(), "size": cp.size, "note": note, "log_key": state.node.log_vkey()});
    if let Some(policy) = &state.config.witness_policy {
        answer["policy"] = json!(policy);
    }
    Ok(body_json(StatusCode::OK, &answer))
}

/// The note served for the latest checkpoint: its cosigned copy once the witnesses answered
/// (see `ApiConfig::cosigned_checkpoint`); until then, or without witnesses, the log's own.
fn served_note(state: &AppState, cp: &deedlog_store::StoredCheckpoint) -> Vec<u8> {
    super::cosigned(state)
        .filter(|(size, _)| *size == cp.size)
        .map_or_else(|| cp.note.clone(), |(_, note)| note.into_bytes())
}

async fn checkpoint_text(state: Data<AppState>) -> Result<HttpResponse, ApiError> {
    let cp =
        state.node.reader().latest_checkpoint().ok_or_else(|| {
            ApiError::new(503, "ledger.unavailable", "the log has no checkpoint yet")
        })?;
    let body = served_note(&state, &cp);
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .insert_header(("cache-control", "no-cache"))
        .body(body))
}

/// `?start=&end=`.
#[derive(Debug, Deserialize)]
pub struct RangeQuery {
    start: u64,
    end: Option<u64>,
}

async fn log_entries(
    req: HttpRequest,
    state: Data<AppState>,
    q: Query<RangeQuery>,
) -> Result<HttpResponse, ApiError> {
    let who = Reader::of(&req, &state)?;
    let reader = state.node.reader();
    let size = reader.size();
    let end = q.end.unwrap_or(q.start.saturating_add(100));
    if end < q.start {
        return Err(ApiError::bad_request(
            "request.bad_query",
            "need start <= end",
        ));
    }
    // A wider range is answered in part, like one cut by the byte budget: fewer lines than
    // asked means "continue from start + lines".
    let end = end.min(q.start.saturating_add(ENTRIES_MAX));
    if end > size {
        return Err(ApiError::new(
            404,
            "log.out_of_range",
            format!("the log has {size} entries"),
        )
        .with_details(json!({"size": size})));
    }
    let mut body = Vec::new();
    let mut count = 0u64;
    for seq in q.start..end {
        if count > 0 && body.len() >= ENTRIES_BYTES_MAX {
            break;
        }
        let (bytes, opening) = disclose::served(&state, &who, seq)?;
        body.extend_from_slice(&bytes);
        body.push(b'\n');
        if let Some(o) = opening {
            body.extend_from_slice(&OpeningLine::line(seq, &o));
            body.push(b'\n');
        }
        count += 1;
    }
    Ok(HttpResponse::Ok()
        .content_type("application/x-ndjson")
        .insert_header(("x-deedlog-start", q.start.to_string()))
        .insert_header(("x-deedlog-count", count.to_string()))
        .body(body))
}

/// `?proof_size=`.
#[derive(Debug, Deserialize)]
pub struct ProofSizeQuery {
    proof_size: Option<u64>,
}

async fn log_entry(
    req: HttpRequest,
    state: Data<AppState>,
    seq: Path<u64>,
    q: Query<ProofSizeQuery>,
) -> Result<HttpResponse, ApiError> {
    let who = Reader::of(&req, &state)?;
    let seq = seq.into_inner();
    let reader = state.node.reader();
    if seq >= reader.size() {
        return Err(ApiError::new(
            404,
            "log.out_of_range",
            format!("entry {seq} is not on the log"),
        ));
    }
    let cp = match q.proof_size {
        Some(size) => reader
            .checkpoint_at_or_after(size.max(seq.saturating_add(1)))?
            .ok_or_else(|| {
                ApiError::new(
                    404,
                    "log.out_of_range",
                    format!("no checkpoint of size {size} or more"),
                )
            })?,
        None => {
            let cp = reader
                .latest_checkpoint()
                .ok_or_else(|| ApiError::new(404, "log.out_of_range", "the log is empty"))?;
            deedlog_store::StoredCheckpoint {
                size: cp.size,
                note: cp.note.clone(),
            }
        }
    };
    let b = super::bundle_for(&state, &who, seq, cp.size, &cp.note)?;
    Ok(body_json(StatusCode::OK, &to_value(&b)?))
}

/// The entry's proof in the C2SP `tlog-proof` text, for tools that speak the C2SP formats rather
/// than this project's bundle. Against the newest checkpoint the witnesses cosigned when it
/// covers the entry, so the file carries their cosignatures; else against the latest.
async fn log_entry_tlog_proof(
    state: Data<AppState>,
    seq: Path<u64>,
) -> Result<HttpResponse, ApiError> {
    let seq = seq.into_inner();
    if seq >= state.node.reader().size() {
        return Err(ApiError::new(
            404,
            "log.out_of_range",
            format!("entry {seq} is not on the log"),
        ));
    }
    let cosigned = super::cosigned(&state).filter(|(size, _)| seq < *size);
    let bundle = match cosigned {
        Some((size, note)) => super::bundle_at(&state, seq, size, note.as_bytes())?,
        None => super::bundle(&state, seq)?,
    };
    let proof = deedlog_core::tlog_proof::TlogProof::from_bundle(&bundle)
        .map_err(|e| ApiError::internal(&e))?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body(proof.encode()))
}

/// `?from=&to=`.
#[derive(Debug, Deserialize)]
pub struct FromToQuery {
    from: u64,
    to: Option<u64>,
}

async fn log_consistency(
    state: Data<AppState>,
    q: Query<FromToQuery>,
) -> Result<HttpResponse, ApiError> {
    let reader = state.node.reader();
    let size = reader.size();
    let to = q.to.unwrap_or(size);
    if q.from > to {
        return Err(ApiError::bad_request(
            "request.bad_query",
            "need from <= to",
        ));
    }
    if to > size {
        return Err(ApiError::new(
            404,
            "log.out_of_range",
            format!("the log has {size} entries"),
        )
        .with_details(json!({"size": size})));
    }
    let proof = if q.from == 0 || q.from == to {
        Vec::new()
    } else {
        reader.consistency_proof(q.from, to)?
    };
    let proof: Vec<String> = proof.iter().map(deedlog_core::hash::to_hex).collect();
    Ok(body_json(
        StatusCode::OK,
        &json!({"from": q.from, "to": to, "proof": proof}),
    ))
}

async fn log_checkpoints(
    state: Data<AppState>,
    q: Query<FromToQuery>,
) -> Result<HttpResponse, ApiError> {
    let reader = state.node.reader();
    let size = reader.size();
    let to =
        q.to.unwrap_or(size)
            .min(size)
            .min(q.from.saturating_add(CHECKPOINT_RANGE_MAX));
    if q.from > to {
        return Ok(body_json(
            StatusCode::OK,
            &json!({"checkpoints": [], "next_from": null}),
        ));
    }
    let cps = reader.checkpoints(q.from, to)?;
    let mut out = Vec::new();
    let mut next_from = if to < q.to.unwrap_or(size).min(size) {
        Some(to.saturating_add(1))
    } else {
        None
    };
    for cp in cps {
        if out.len() == CHECKPOINTS_MAX {
            next_from = Some(cp.size);
            break;
        }
        let note = String::from_utf8(cp.note).map_err(|e| ApiError::internal(&e))?;
        out.push(json!({"size": cp.size, "note": note}));
    }
    Ok(body_json(
        StatusCode::OK,
        &json!({"checkpoints": out, "next_from": next_from}),
    ))
}
