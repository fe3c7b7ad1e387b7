//! The filed contract as PDF: the party's download, and the public check of a PDF by the hash
//! the caller computed.
//!
//! The PDF is rendered on demand, never stored (PRIVACY.md): it is a pure function of the log
//! (every bundle is against the first checkpoint that covers the filing, so later growth of the
//! log does not change it) and, in a party's copy, of the parties' names in the vault. The check
//! by hash therefore renders the copies again and compares their SHA-256.
//!
//! A render takes a core for a while (the font subset, compression, the vault's names), so it
//! runs on the blocking pool (`web::block`), never on an HTTP worker; at most [`RENDERS_MAX`]
//! run at once in the process (beyond that, `503 pdf.busy` with `Retry-After`); and the check
//! remembers the SHA-256 of each document it rendered, keyed by the data folder and the digest
//! of the render's whole input ([`HASHES_MAX`] of them, oldest out first): the same input gives
//! the same bytes, so checking any number of hashes, genuine or not, against one filed contract
//! renders it once, and a change of anything the PDF shows (a name erased from the vault, say)
//! is a new input, rendered afresh. Requests for a document being rendered wait for that render.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use actix_web::HttpRequest;
use actix_web::HttpResponse;
use actix_web::web::{self, Data, Path, Query};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use deedlog_domain::ids::{self, CodeTag, IdKind};
use deedlog_pdf::{Names, PdfInput};
use deedlog_views::Doc;
use deedlog_views::docs::ContractDoc;

use super::{
    Access, AfterSeq, Content, Method, RouteSpec, after_seq_param, bundle, bundle_for, full_id,
    id_schema, path_param, to_value, view_json,
};
use crate::AppState;
use crate::auth::{check_key, forbidden, verify_signature};
use crate::disclose::Reader;
use crate::error::ApiError;

/// The routes of this module.
pub(crate) fn routes() -> Vec<RouteSpec> {
    vec![
        RouteSpec::new(Method::Get, "/v1/contracts/{CT}/pdf", Access::Signed, "private",
            "The filed contract as PDF/A-3, its proof attached (the seller's or buyer's copy, with the parties' names)",
            |r| r.to(contract_pdf))
            .param(path_param("CT", || id_schema(IdKind::Contract), "The id after the slash"))
            .param(after_seq_param())
            .reply(200, "The PDF", Content::Text("application/pdf")),
    ]
}

/// The public check, registered with the other verification routes (before
/// `/v1/verify/contract/{filing_code}`, whose scope it shares).
pub(crate) fn verify_routes() -> Vec<RouteSpec> {
    vec![
        RouteSpec::new(Method::Get, "/v1/verify/contract/{filing_code}/pdf/{sha256}", Access::Public, "verify",
            "Whether a PDF, by the SHA-256 the caller computed, is the filed contract's PDF",
            |r| r.to(verify_pdf))
            .scope("/v1/verify")
            .param(path_param("filing_code", || json!({"type": "string", "maxLength": ids::CODE_TEXT_MAX}),
                "The filing code (either form)"))
            .param(path_param("sha256", || json!({"type": "string", "pattern": "^[0-9a-f]{64}$"}),
                "The PDF's SHA-256, 64 lower-case hex digits (the file itself is never sent)"))
            .param(after_seq_param())
            .reply(200, "Whether the hash is that of the filed contract's PDF, with the filing's proof and the latest entry's",
                Content::Json(|| json!({"type": "object", "required": ["filing_code", "sha256", "genuine", "status", "current", "proof", "latest"],
                    "properties": {"filing_code": {"type": "string"}, "sha256": {"type": "string"},
                        "genuine": {"type": "boolean", "description": "The hash is that of a copy the node renders for this filing"},
                        "status": {"type": "string"}, "contract": super::verify::filed_contract_schema(), "current": {"type": "boolean", "description": "The contract is still filed (not cancelled)"},
                        "proof": super::verify::bundle_schema(), "latest": super::verify::bundle_schema()}}))),
    ]
}

/// The check URL printed in the PDF: the log's origin names the platform, so the URL is a
/// function of the log too.
fn check_url(state: &AppState, spoken: &str) -> String {
    format!("https://{}/#/contract/{spoken}", state.node.origin())
}

/// The input of the PDF of a filed contract, its bundles opened as `reader` may see them, against
/// the first checkpoint that covers the filing.
fn pdf_input(
    state: &AppState,
    reader: &Reader,
    doc: &ContractDoc,
    names: Option<Names>,
) -> Result<PdfInput, ApiError> {
    let not_filed = || ApiError::not_found(&format!("a filed contract {}", doc.id));
    let filed = doc.filed_seq.ok_or_else(not_filed)?;
    let code = doc.filing_code.clone().ok_or_else(not_filed)?;
    let log = state.node.reader();
    let cp = log.checkpoint_at_or_after(filed + 1)?.ok_or_else(|| {
        ApiError::new(
            503,
            "ledger.unavailable",
            "the filing is not checkpointed yet",
        )
    })?;
    let at = |who: &Reader, seq: u64| bundle_for(state, who, seq, cp.size, &cp.note);
    let document_seq = doc
        .documents
        .iter()
        .rev()
        .find(|d| d.hash == doc.document_hash)
        .map(|d| d.seq)
        .ok_or_else(|| ApiError::internal(&"a contract without its document's entry"))?;
    let registration_seq = log
        .stream_seqs(&doc.property, 0, 1)?
        .first()
        .copied()
        .ok_or_else(|| ApiError::internal(&"a contract's property without its registration"))?;
    // The registration is confidential to the registry; the PDF shows its address, which the
    // node proves with the registration's payload (commitments and public facts, no personal
    // data in clear), opened as the housing authority that files the contract reads it.
    let registration = at(&Reader::Actor(ids::HOUSING.to_owned()), registration_seq)?;
    // Whole either way: a version-1 entry carries its payload, a version-2 one its opening.
    let payload = registration
        .verify(state.node.log_vkey())
        .ok()
        .and_then(|v| v.whole)
        .map(|e| e.signed.payload)
        .unwrap_or(Value::Null);
    let mut property = serde_json::Map::new();
    property.insert("id".into(), json!(doc.property));
    for key in ["address", "district", "community", "certificate_no"] {
        if let Some(v) = payload.get(key) {
            property.insert(key.into(), v.clone());
        }
    }
    let mut signature_seqs: Vec<u64> = doc
        .signatures
        .as_object()
        .map(|m| m.values().filter_map(Value::as_u64).collect())
        .unwrap_or_default();
    signature_seqs.sort_unstable();
    let signatures = signature_seqs
        .into_iter()
        .map(|s| at(reader, s))
        .collect::<Result<Vec<_>, _>>()?;
    let spoken = ids::spoken_code(&code).unwrap_or_else(|| code.clone());
    Ok(PdfInput {
        format: deedlog_pdf::INPUT_FORMAT.to_owned(),
        filing_code: code,
        check_url: check_url(state, &spoken),
        contract: json!({"id": doc.id, "seller": doc.seller, "buyer": doc.buyer, "agent": doc.agent,
            "terms": doc.terms, "document_hash": doc.document_hash}),
        property: Value::Object(property),
        names,
        filing: at(reader, filed)?,
        document: at(reader, document_seq)?,
        registration,
        signatures,
    })
}

/// The parties' names from the vault, when the vault has both.
fn names(state: &AppState, doc: &ContractDoc) -> Result<Option<Names>, ApiError> {
    let name = |p: &str| state.node.party_name(p).map_err(|e| ApiError::internal(&e));
    Ok(match (name(&doc.seller)?, name(&doc.buyer)?) {
        (Some(seller), Some(buyer)) => Some(Names { seller, buyer }),
        _ => None,
    })
}

/// Renders at once in the process, at most: each is CPU-bound on the blocking pool.
pub const RENDERS_MAX: usize = 2;

/// Rendered documents whose SHA-256 the process remembers, at most (about 200 bytes each).
pub const HASHES_MAX: usize = 4096;

/// Seconds a client is told to wait after `503 pdf.busy`.
const BUSY_RETRY_AFTER_S: u64 = 1;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // What these locks guard is whole at every step: a panic leaves nothing half done.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One of the [`RENDERS_MAX`] render slots, given back when dropped.
#[derive(Debug)]
struct RenderSlot;

static RENDERING: AtomicUsize = AtomicUsize::new(0);

impl RenderSlot {
    /// A slot, if one is free (never waits).
    fn take() -> Option<Self> {
        RENDERING
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < RENDERS_MAX).then_some(n + 1)
            })
            .ok()
            .map(|_| Self)
    }
}

impl Drop for RenderSlot {
    fn drop(&mut self) {
        RENDERING.fetch_sub(1, Ordering::AcqRel);
    }
}

/// `503 pdf.busy` with `Retry-After`.
fn busy() -> ApiError {
    let mut e = ApiError::new(
        503,
        "pdf.busy",
        "the server is already making as many contract PDFs as it can at once; try again in a \
         moment",
    );
    e.retry_after_s = Some(BUSY_RETRY_AFTER_S);
    e
}

/// PDFs rendered, per data folder (a test hook and a diagnostic).
fn rendered() -> &'static Mutex<HashMap<PathBuf, u64>> {
    static RENDERED: OnceLock<Mutex<HashMap<PathBuf, u64>>> = OnceLock::new();
    RENDERED.get_or_init(Mutex::default)
}

/// How many contract PDFs this process rendered for the node on `data_dir` (the party's
/// download and the public check together).
#[must_use]
pub fn renders(data_dir: &std::path::Path) -> u64 {
    lock(rendered()).get(data_dir).copied().unwrap_or(0)
}

/// Renders `input` in one of the render slots (`503 pdf.busy` when none is free). Blocking:
/// call it on the blocking pool.
fn render(state: &AppState, input: &PdfInput) -> Result<Vec<u8>, ApiError> {
    let _slot = RenderSlot::take().ok_or_else(busy)?;
    *lock(rendered())
        .entry(state.node.data_dir().to_path_buf())
        .or_default() += 1;
    deedlog_pdf::render(input).map_err(|e| ApiError::internal(&e))
}

/// A rendered document's hash, by (data folder, SHA-256 of the render's input): `None` until
/// rendered. One slot per input, so that requests for one document wait for one render.
type HashSlot = Arc<Mutex<Option<String>>>;
type HashKey = (PathBuf, [u8; 32]);

#[derive(Debug, Default)]
struct HashCache {
    slots: HashMap<HashKey, HashSlot>,
    /// Insertion order, for eviction (oldest first).
    order: VecDeque<HashKey>,
}

/// The slot of `input`'s hash for the node of `state`. Evicting a slot another request is
/// filling is harmless: that request still answers; the next renders again.
fn hash_slot(state: &AppState, input: &PdfInput) -> Result<HashSlot, ApiError> {
    static HASHES: OnceLock<Mutex<HashCache>> = OnceLock::new();
    let digest: [u8; 32] =
        Sha256::digest(serde_json::to_vec(input).map_err(|e| ApiError::internal(&e))?).into();
    let key = (state.node.data_dir().to_path_buf(), digest);
    let mut cache = lock(HASHES.get_or_init(Mutex::default));
    if let Some(slot) = cache.slots.get(&key) {
        return Ok(slot.clone());
    }
    while cache.slots.len() >= HASHES_MAX {
        let Some(oldest) = cache.order.pop_front() else {
            break;
        };
        cache.slots.remove(&oldest);
    }
    let slot = HashSlot::default();
    cache.slots.insert(key.clone(), slot.clone());
    cache.order.push_back(key);
    Ok(slot)
}

/// The SHA-256 of the PDF of `input`: remembered, or rendered once (blocking: call it on the
/// blocking pool).
fn pdf_sha256(state: &AppState, input: &PdfInput) -> Result<String, ApiError> {
    let slot = hash_slot(state, input)?;
    let mut held = lock(&slot);
    if let Some(hash) = held.as_ref() {
        return Ok(hash.clone());
    }
    let hash = hex::encode(Sha256::digest(render(state, input)?));
    *held = Some(hash.clone());
    Ok(hash)
}

/// Renders `input` for a download and remembers its hash for the check.
fn render_remembered(state: &AppState, input: &PdfInput) -> Result<Vec<u8>, ApiError> {
    let pdf = render(state, input)?;
    let slot = hash_slot(state, input)?;
    lock(&slot).get_or_insert_with(|| hex::encode(Sha256::digest(&pdf)));
    Ok(pdf)
}

fn contract_of(state: &AppState, id: &str) -> Result<ContractDoc, ApiError> {
    match state.node.views().doc(id)? {
        Some(Doc::Contract(c)) => Ok(*c),
        _ => Err(ApiError::not_found(id)),
    }
}

/// `GET /v1/contracts/{CT}/pdf`: only the seller and the buyer, by a signed request (`401`
/// unsigned or not verifying, `403` anyone else, even another reader of the contract: the copy
/// carries the parties' names).
async fn contract_pdf(
    req: HttpRequest,
    state: Data<AppState>,
    id: Path<String>,
    after: Query<AfterSeq>,
) -> Result<HttpResponse, ApiError> {
    let id = full_id(IdKind::Contract, &id)?;
    let signed = verify_signature(&req, b"", &state)?;
    super::views_at(&state, &after).await?;
    let actor = check_key(signed, &state)?;
    let doc = contract_of(&state, &id)?;
    if actor != doc.seller && actor != doc.buyer {
        return Err(forbidden(&actor));
    }
    let st = state.clone();
    let (input, pdf) = web::block(move || {
        let names = names(&st, &doc)?;
        let input = pdf_input(&st, &Reader::Actor(actor), &doc, names)?;
        let pdf = render_remembered(&st, &input)?;
        Ok::<_, ApiError>((input, pdf))
    })
    .await
    .map_err(|e| ApiError::internal(&e))??;
    Ok(HttpResponse::Ok()
        .content_type("application/pdf")
        .insert_header((
            "content-disposition",
            format!("attachment; filename=\"{}.pdf\"", input.spoken_code()),
        ))
        .body(pdf))
}

/// `GET /v1/verify/contract/{filing_code}/pdf/{sha256}`: renders the party's copy again (as the
/// seller reads it; the buyer's is the same) and compares hashes. Only a holder of the PDF knows
/// a hash that matches, and the public learns nothing but yes or no: the terms and names needed
/// to compute a matching hash are not public.
async fn verify_pdf(
    state: Data<AppState>,
    path: Path<(String, String)>,
    after: Query<AfterSeq>,
) -> Result<HttpResponse, ApiError> {
    let (code, sha) = path.into_inner();
    let code = super::verify::read_code(&code, CodeTag::Filing)?;
    if sha.len() != 64 || !sha.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(ApiError::bad_request(
            "request.bad_path",
            "the hash must be 64 lower-case hex digits",
        ));
    }
    let applied = super::views_at(&state, &after).await?;
    let views = state.node.views();
    let id = views
        .by_code(&code)?
        .filter(|id| IdKind::Contract.matches(id))
        .ok_or_else(|| ApiError::not_found(&format!("filing code {code}")))?;
    let doc = contract_of(&state, &id)?;
    let (st, d) = (state.clone(), doc.clone());
    let rendered = web::block(move || {
        let names = names(&st, &d)?;
        let input = pdf_input(&st, &Reader::Actor(d.seller.clone()), &d, names)?;
        pdf_sha256(&st, &input)
    })
    .await
    .map_err(|e| ApiError::internal(&e))??;
    let genuine = rendered == sha;
    let filed = doc.filed_seq.unwrap_or(0);
    let latest_seq = {
        let reader = state.node.reader();
        let version = reader.stream_version(&id)?;
        reader
            .stream_seqs(&id, version, 1)?
            .first()
            .copied()
            .unwrap_or(filed)
    };
    Ok(view_json(
        applied,
        &json!({"filing_code": code, "sha256": sha, "genuine": genuine, "status": doc.status,
            "contract": {"id": doc.id, "status": doc.status, "listing": doc.listing, "property": doc.property,
                         "document_hash": doc.document_hash, "filed_seq": doc.filed_seq, "signatures": doc.signatures},
            "current": doc.status == "filed",
            "proof": to_value(&bundle(&state, filed)?)?, "latest": to_value(&bundle(&state, latest_seq.max(filed))?)?}),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_beyond_the_bound_are_refused_with_retry_after() {
        let held: Vec<RenderSlot> = std::iter::from_fn(RenderSlot::take).take(10).collect();
        assert_eq!(held.len(), RENDERS_MAX);
        assert!(RenderSlot::take().is_none());
        let e = busy();
        assert_eq!((e.status, e.code.as_str()), (503, "pdf.busy"));
        assert_eq!(e.retry_after_s, Some(BUSY_RETRY_AFTER_S));
        drop(held);
        assert!(RenderSlot::take().is_some());
    }
}
