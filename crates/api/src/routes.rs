//! The routes: the documented table ([`ROUTES`], mirrored in `docs/API.md` and the OpenAPI
//! document) and the handlers.

use actix_web::http::StatusCode;
use actix_web::web::{self, Data, Json, Path, Query};
use actix_web::{HttpRequest, HttpResponse};
use futures_util::StreamExt as _;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use deedlog_core::SignedCommand;
use deedlog_core::bundle::ProofBundle;
use deedlog_domain::ids::{self, IdKind};
use deedlog_views::keys::Relation;
use deedlog_views::{
    Doc, ListingQuery, ListingSort, PAGE_LIMIT_MAX, PAGE_OFFSET_MAX, Paging, docs,
};

#[path = "identity.rs"]
pub mod identity;

use crate::auth::{authenticate, forbidden};
use crate::error::ApiError;
use crate::{AppState, sse};

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone.
    Public,
    /// A signed request (see [`crate::auth`]).
    Signed,
    /// A signed command in the body.
    Command,
}

/// One documented route.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    /// `GET` or `POST`.
    pub method: &'static str,
    /// The path, with `{placeholders}`.
    pub path: &'static str,
    /// Who may call it.
    pub access: Access,
    /// The OpenAPI tag.
    pub tag: &'static str,
    /// One line.
    pub summary: &'static str,
}

const fn r(
    method: &'static str,
    path: &'static str,
    access: Access,
    tag: &'static str,
    summary: &'static str,
) -> Route {
    Route {
        method,
        path,
        access,
        tag,
        summary,
    }
}

use Access::{Command as C, Public as P, Signed as S};

/// Every route, as documented in `docs/API.md`.
pub const ROUTES: &[Route] = &[
    r(
        "POST",
        "/v1/commands/{kind}",
        C,
        "commands",
        "Append a signed command (201 receipt; 200 for a retry)",
    ),
    r(
        "GET",
        "/v1/listings",
        P,
        "listings",
        "Search active listings",
    ),
    r(
        "GET",
        "/v1/listings/{LS}",
        P,
        "listings",
        "A listing's current approved version",
    ),
    r("GET", "/v1/agencies", P, "directory", "Certified agencies"),
    r("GET", "/v1/agencies/{AG}", P, "directory", "One agency"),
    r(
        "GET",
        "/v1/agents",
        P,
        "directory",
        "Agents by rating, best first",
    ),
    r("GET", "/v1/agents/{AT}", P, "directory", "One agent"),
    r("GET", "/v1/offices", P, "directory", "Filing offices"),
    r("GET", "/v1/banks", P, "directory", "Banks"),
    r(
        "GET",
        "/v1/actors/key",
        P,
        "directory",
        "An actor's current public key",
    ),
    r("GET", "/v1/parties/{PA}", S, "private", "The party itself"),
    r(
        "GET",
        "/v1/parties/{PA}/verifications",
        S,
        "private",
        "The party's property verifications",
    ),
    r(
        "GET",
        "/v1/parties/{PA}/entrustments",
        S,
        "private",
        "The party's entrustments",
    ),
    r(
        "GET",
        "/v1/parties/{PA}/listings",
        S,
        "private",
        "The party's listings as seller",
    ),
    r(
        "GET",
        "/v1/parties/{PA}/viewings",
        S,
        "private",
        "Viewings the party booked",
    ),
    r(
        "GET",
        "/v1/parties/{PA}/viewing-records",
        S,
        "private",
        "Viewing records of the party's listings",
    ),
    r(
        "GET",
        "/v1/parties/{PA}/prechecks",
        S,
        "private",
        "The party's loan pre-checks",
    ),
    r(
        "GET",
        "/v1/parties/{PA}/contracts",
        S,
        "private",
        "The party's contracts",
    ),
    r(
        "GET",
        "/v1/parties/{PA}/proxies",
        S,
        "private",
        "Proxy filings of the party",
    ),
    r(
        "GET",
        "/v1/agents/{AT}/entrustments",
        S,
        "private",
        "The agent's entrustments",
    ),
    r(
        "GET",
        "/v1/agents/{AT}/listings",
        S,
        "private",
        "The agent's listings",
    ),
    r(
        "GET",
        "/v1/agents/{AT}/viewings",
        S,
        "private",
        "Viewings of the agent's listings",
    ),
    r(
        "GET",
        "/v1/agents/{AT}/contracts",
        S,
        "private",
        "The agent's contracts",
    ),
    r(
        "GET",
        "/v1/banks/{BK}/prechecks",
        S,
        "private",
        "Pre-checks sent to the bank",
    ),
    r(
        "GET",
        "/v1/queues/contracts-to-file",
        S,
        "private",
        "Contracts waiting for filing",
    ),
    r(
        "GET",
        "/v1/queues/offline-contracts",
        S,
        "private",
        "Contracts waiting for an office",
    ),
    r(
        "GET",
        "/v1/queues/proxies-to-verify",
        S,
        "private",
        "Proxy filings waiting for an office",
    ),
    r(
        "GET",
        "/v1/verifications/{PV}",
        S,
        "private",
        "One property verification",
    ),
    r(
        "GET",
        "/v1/entrustments/{EN}",
        S,
        "private",
        "One entrustment",
    ),
    r("GET", "/v1/viewings/{VW}", S, "private", "One viewing"),
    r(
        "GET",
        "/v1/prechecks/{LP}",
        S,
        "private",
        "One loan pre-check",
    ),
    r("GET", "/v1/contracts/{CT}", S, "private", "One contract"),
    r("GET", "/v1/proxies/{PX}", S, "private", "One proxy filing"),
    r(
        "GET",
        "/v1/verify/listing/{code}",
        P,
        "verify",
        "Authenticity of a listing, with proof bundles",
    ),
    r(
        "GET",
        "/v1/verify/contract/{filing_code}",
        P,
        "verify",
        "Authenticity of a filed contract, with proof bundles",
    ),
    r(
        "POST",
        "/v1/verify/document",
        P,
        "verify",
        "Find a file's SHA-256 on the log, with proof bundles",
    ),
    r(
        "GET",
        "/v1/log/checkpoint",
        P,
        "log",
        "The latest signed checkpoint",
    ),
    r(
        "GET",
        "/checkpoint",
        P,
        "log",
        "The latest checkpoint note, text/plain",
    ),
    r(
        "GET",
        "/v1/log/entries",
        P,
        "log",
        "Exact entry bytes, one per line",
    ),
    r(
        "GET",
        "/v1/log/entries/{seq}",
        P,
        "log",
        "One entry with its inclusion proof bundle",
    ),
    r(
        "GET",
        "/v1/log/proof/consistency",
        P,
        "log",
        "A consistency proof between two tree sizes",
    ),
    r(
        "GET",
        "/v1/log/checkpoints",
        P,
        "log",
        "Stored checkpoints in a size range",
    ),
    r(
        "GET",
        "/v1/log/follow",
        P,
        "log",
        "Server-sent events: entries in order",
    ),
    identity::PHONE_CHALLENGE,
    identity::PHONE_VOUCHER,
    identity::REALNAME_CHALLENGE,
    identity::REALNAME_ATTEST,
    identity::OFFICE_COMMITMENTS,
    identity::OFFICE_ATTEST,
    r("GET", "/healthz", P, "operations", "Liveness"),
    r(
        "GET",
        "/v1/ping",
        P,
        "operations",
        "A static 300-byte JSON answer: the raw HTTP ceiling for benchmarks",
    ),
    r("GET", "/readyz", P, "operations", "Readiness"),
    r("GET", "/metrics", P, "operations", "Prometheus metrics"),
    r(
        "GET",
        "/openapi.json",
        P,
        "operations",
        "This API's OpenAPI document",
    ),
    r("GET", "/swagger-ui/", P, "operations", "Swagger UI"),
];

/// Header with the views' cursor on view answers.
pub const HEADER_VIEWS_APPLIED: &str = "x-deedlog-views-applied";
/// Most entries in one `/v1/log/entries` answer.
pub const ENTRIES_MAX: u64 = 1000;
/// About the most bytes of one `/v1/log/entries` answer.
pub const ENTRIES_BYTES_MAX: usize = 4 << 20;
/// Most checkpoints in one answer.
pub const CHECKPOINTS_MAX: usize = 1000;
/// Widest size range scanned for checkpoints in one answer.
pub const CHECKPOINT_RANGE_MAX: u64 = 10_000;
/// Most document matches returned.
pub const MATCHES_MAX: usize = 20;

fn body_json(status: StatusCode, value: &Value) -> HttpResponse {
    let bytes = deedlog_core::canonical::encode(value)
        .unwrap_or_else(|_| serde_json::to_vec(value).unwrap_or_default());
    HttpResponse::build(status)
        .content_type("application/json")
        .body(bytes)
}

fn view_json(applied: u64, value: &Value) -> HttpResponse {
    let mut res = body_json(StatusCode::OK, value);
    if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&applied.to_string()) {
        res.headers_mut().insert(
            actix_web::http::header::HeaderName::from_static(HEADER_VIEWS_APPLIED),
            v,
        );
    }
    res
}

/// `?after_seq=N`.
#[derive(Debug, Deserialize)]
pub struct AfterSeq {
    after_seq: Option<u64>,
}

/// Waits for `after_seq` (bounded); returns the views' cursor to report.
async fn views_at(state: &AppState, after: &AfterSeq) -> Result<u64, ApiError> {
    if let Some(n) = after.after_seq {
        let want = n.saturating_add(1);
        if !state
            .node
            .views()
            .wait_applied(want, state.config.after_seq_wait)
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
    Ok(state.node.views().applied())
}

/// `?limit=&offset=`.
#[derive(Debug, Deserialize)]
pub struct PageQuery {
    limit: Option<usize>,
    offset: Option<usize>,
}

impl PageQuery {
    fn paging(&self) -> Result<Paging, ApiError> {
        let limit = self.limit.unwrap_or(20);
        let offset = self.offset.unwrap_or(0);
        if limit == 0 || limit > PAGE_LIMIT_MAX || offset > PAGE_OFFSET_MAX {
            return Err(ApiError::bad_request(
                "request.bad_query",
                format!("limit must be 1 to {PAGE_LIMIT_MAX} and offset at most {PAGE_OFFSET_MAX}"),
            ));
        }
        Ok(Paging { offset, limit })
    }
}

fn full_id(kind: IdKind, suffix: &str) -> Result<String, ApiError> {
    let (k, _) = kind
        .shape()
        .ok_or_else(|| ApiError::bad_request("request.bad_path", "bad id"))?;
    let id = format!("{k}/{suffix}");
    if kind.matches(&id) {
        Ok(id)
    } else {
        Err(ApiError::bad_request(
            "request.bad_path",
            format!("`{suffix}` is not an id of the form {}", kind.pattern()),
        ))
    }
}

/// Registers the routes and the extractor error handlers.
pub fn configure(cfg: &mut web::ServiceConfig, state: AppState) {
    let json_max = state.config.json_bytes_max;
    let openapi = crate::openapi::document();
    cfg.app_data(Data::new(state))
        .app_data(
            web::JsonConfig::default()
                .limit(json_max)
                .error_handler(|err, _| {
                    let e = match &err {
                        actix_web::error::JsonPayloadError::Overflow { .. }
                        | actix_web::error::JsonPayloadError::OverflowKnownLength { .. } => {
                            ApiError::new(413, "request.too_large", err.to_string())
                        }
                        actix_web::error::JsonPayloadError::ContentType => ApiError::bad_request(
                            "request.bad_json",
                            "the body must be application/json",
                        ),
                        _ => ApiError::bad_request("request.bad_json", err.to_string()),
                    };
                    e.into()
                }),
        )
        .app_data(web::PayloadConfig::default().limit(json_max))
        .app_data(web::PathConfig::default().error_handler(|err, _| {
            ApiError::bad_request("request.bad_path", err.to_string()).into()
        }))
        .app_data(web::QueryConfig::default().error_handler(|err, _| {
            ApiError::bad_request("request.bad_query", err.to_string()).into()
        }))
        // Hot routes first, and dynamic routes grouped under static scope prefixes: actix tries
        // resources in order and matches each dynamic one with a regex, which at ~30 routes was
        // a fifth of a worker's time (perf, `bench http`).
        .route("/v1/ping", web::get().to(ping))
        .route("/healthz", web::get().to(healthz))
        .service(web::scope("/v1/commands").route("/{kind}", web::post().to(post_command)))
        .service(
            web::scope("/v1/verify")
                .route("/listing/{code}", web::get().to(verify_listing))
                .route("/contract/{code}", web::get().to(verify_contract))
                .route("/document", web::post().to(verify_document)),
        )
        .service(
            web::scope("/v1/log")
                .route("/checkpoint", web::get().to(log_checkpoint))
                .route("/entries", web::get().to(log_entries))
                .route("/entries/{seq}", web::get().to(log_entry))
                .route("/proof/consistency", web::get().to(log_consistency))
                .route("/checkpoints", web::get().to(log_checkpoints))
                .route("/follow", web::get().to(sse::follow)),
        )
        .route("/v1/listings", web::get().to(listings))
        .route("/v1/listings/{id}", web::get().to(listing))
        .route("/v1/agencies", web::get().to(agencies))
        .route("/v1/agencies/{id}", web::get().to(agency))
        .route("/v1/agents", web::get().to(agents))
        .route("/v1/agents/{id}", web::get().to(agent))
        .route("/v1/offices", web::get().to(offices))
        .route("/v1/banks", web::get().to(banks))
        .route("/v1/actors/key", web::get().to(actor_key))
        .route("/v1/parties/{id}", web::get().to(party))
        .route("/v1/parties/{id}/{list}", web::get().to(party_list))
        .route("/v1/agents/{id}/{list}", web::get().to(agent_list))
        .route("/v1/banks/{id}/prechecks", web::get().to(bank_prechecks))
        .route("/v1/queues/{queue}", web::get().to(queue))
        .route(
            "/v1/verifications/{id}",
            web::get().to(|r, s, p, a| private_doc(IdKind::Verification, r, s, p, a)),
        )
        .route(
            "/v1/entrustments/{id}",
            web::get().to(|r, s, p, a| private_doc(IdKind::Entrustment, r, s, p, a)),
        )
        .route(
            "/v1/viewings/{id}",
            web::get().to(|r, s, p, a| private_doc(IdKind::Viewing, r, s, p, a)),
        )
        .route(
            "/v1/prechecks/{id}",
            web::get().to(|r, s, p, a| private_doc(IdKind::Precheck, r, s, p, a)),
        )
        .route(
            "/v1/contracts/{id}",
            web::get().to(|r, s, p, a| private_doc(IdKind::Contract, r, s, p, a)),
        )
        .route(
            "/v1/proxies/{id}",
            web::get().to(|r, s, p, a| private_doc(IdKind::Proxy, r, s, p, a)),
        )
        .route("/checkpoint", web::get().to(checkpoint_text))
        .configure(identity::configure)
        .route("/readyz", web::get().to(readyz))
        .route("/metrics", web::get().to(metrics))
        .service(
            utoipa_swagger_ui::SwaggerUi::new("/swagger-ui/{_:.*}").url("/openapi.json", openapi),
        )
        .default_service(web::to(not_found));
}

async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::new(
        404,
        "route.not_found",
        format!("no route {} {}", req.method(), req.path()),
    ))
}

async fn post_command(
    state: Data<AppState>,
    kind: Path<String>,
    command: Json<SignedCommand>,
) -> Result<HttpResponse, ApiError> {
    let kind = kind.into_inner();
    if !deedlog_domain::KINDS.contains(&kind.as_str()) {
        return Err(ApiError::new(
            404,
            "route.not_found",
            format!("no command kind `{kind}`"),
        ));
    }
    let command = command.into_inner();
    if command.kind != kind {
        return Err(ApiError::bad_request(
            "command.kind_mismatch",
            format!("the path says `{kind}`, the command `{}`", command.kind),
        ));
    }
    let outcome = match state.node.handle().try_enqueue(command) {
        Ok(rx) => rx.await.unwrap_or_else(|_| {
            Err(deedlog_store::Rejection::new(
                "ledger.unavailable",
                deedlog_store::RejectionClass::Unavailable,
                "the sequencer stopped",
            ))
        }),
        Err(r) => Err(r),
    };
    match outcome {
        Ok(receipt) => {
            let status = if receipt.duplicate {
                state.metrics.command("duplicate", "");
                StatusCode::OK
            } else {
                state.metrics.command("accepted", "");
                StatusCode::CREATED
            };
            Ok(body_json(
                status,
                &serde_json::to_value(&receipt).map_err(|e| ApiError::internal(&e))?,
            ))
        }
        Err(rejection) => {
            state.metrics.command("rejected", &rejection.code);
            Err(rejection.into())
        }
    }
}

/// Listing search parameters.
#[derive(Debug, Deserialize)]
pub struct SearchQuery {
    district: Option<String>,
    price_min_fen: Option<u64>,
    price_max_fen: Option<u64>,
    area_min_centi_m2: Option<u64>,
    area_max_centi_m2: Option<u64>,
    rooms: Option<u8>,
    sort: Option<String>,
}

async fn listings(
    state: Data<AppState>,
    q: Query<SearchQuery>,
    page: Query<PageQuery>,
    after: Query<AfterSeq>,
) -> Result<HttpResponse, ApiError> {
    let applied = views_at(&state, &after).await?;
    let paging = page.paging()?;
    let sort = match &q.sort {
        Some(s) => ListingSort::parse(s).ok_or_else(|| {
            ApiError::bad_request(
                "request.bad_query",
                "sort must be newest, oldest, price_asc, price_desc, area_asc or area_desc",
            )
        })?,
        None => ListingSort::default(),
    };
    if q.district.as_ref().is_some_and(|d| d.len() > 64) {
        return Err(ApiError::bad_request(
            "request.bad_query",
            "district is too long",
        ));
    }
    let query = ListingQuery {
        district: q.district.clone(),
        price_min_fen: q.price_min_fen,
        price_max_fen: q.price_max_fen,
        area_min_centi_m2: q.area_min_centi_m2,
        area_max_centi_m2: q.area_max_centi_m2,
        rooms: q.rooms,
        sort,
    };
    let result = state.node.views().search_listings(&query, paging)?;
    Ok(view_json(
        applied,
        &result.to_value(paging.limit, paging.offset),
    ))
}

async fn listing(
    state: Data<AppState>,
    id: Path<String>,
    after: Query<AfterSeq>,
) -> Result<HttpResponse, ApiError> {
    let applied = views_at(&state, &after).await?;
    let id = full_id(IdKind::Listing, &id)?;
    let doc = state
        .node
        .views()
        .public_listing(&id)?
        .ok_or_else(|| ApiError::not_found(&id))?;
    Ok(view_json(applied, &doc))
}

/// `?district=`.
#[derive(Debug, Deserialize)]
pub struct DistrictQuery {
    district: Option<String>,
}

async fn directory(
    state: &AppState,
    kind: &str,
    district: Option<&str>,
    after: &AfterSeq,
) -> Result<HttpResponse, ApiError> {
    let applied = views_at(state, after).await?;
    let items = state.node.views().all_of(kind, district)?;
    Ok(view_json(applied, &json!({ "items": items })))
}

async fn agencies(
    state: Data<AppState>,
    q: Query<DistrictQuery>,
    after: Query<AfterSeq>,
) -> Result<HttpResponse, ApiError> {
    directory(&state, "agency", q.district.as_deref(), &after).await
}

async fn offices(
    state: Data<AppState>,
    q: Query<DistrictQuery>,
    after: Query<AfterSeq>,
) -> Result<HttpResponse, ApiError> {
    directory(&state, "office", q.district.as_deref(), &after).await
}

async fn banks(state: Data<AppState>, after: Query<AfterSeq>) -> Result<HttpResponse, ApiError> {
    directory(&state, "bank", None, &after).await
}

async fn public_doc(
    state: &AppState,
    kind: IdKind,
    suffix: &str,
    after: &AfterSeq,
) -> Result<HttpResponse, ApiError> {
    let applied = views_at(state, after).await?;
    let id = full_id(kind, suffix)?;
    let doc = state
        .node
        .views()
        .doc_value(&id)?
        .ok_or_else(|| ApiError::not_found(&id))?;
    Ok(view_json(applied, &doc))
}

async fn agency(
    state: Data<AppState>,
    id: Path<String>,
    after: Query<AfterSeq>,
) -> Result<HttpResponse, ApiError> {
    public_doc(&state, IdKind::Agency, &id, &after).await
}

async fn agent(
    state: Data<AppState>,
    id: Path<String>,
    after: Query<AfterSeq>,
) -> Result<HttpResponse, ApiError> {
    public_doc(&state, IdKind::Agent, &id, &after).await
}

/// `?agency=`.
#[derive(Debug, Deserialize)]
pub struct AgencyQuery {
    agency: Option<String>,
}

async fn agents(
    state: Data<AppState>,
    q: Query<AgencyQuery>,
    page: Query<PageQuery>,
    after: Query<AfterSeq>,
) -> Result<HttpResponse, ApiError> {
    let applied = views_at(&state, &after).await?;
    let paging = page.paging()?;
    let agency = q
        .agency
        .as_deref()
        .map(|a| full_id(IdKind::Agency, a))
        .transpose()?;
    let result = state
        .node
        .views()
        .agents_by_rating(agency.as_deref(), paging)?;
    Ok(view_json(
        applied,
        &result.to_value(paging.limit, paging.offset),
    ))
}

/// `?actor=`.
#[derive(Debug, Deserialize)]
pub struct ActorQuery {
    actor: String,
}

async fn actor_key(
    state: Data<AppState>,
    q: Query<ActorQuery>,
    after: Query<AfterSeq>,
) -> Result<HttpResponse, ApiError> {
    let applied = views_at(&state, &after).await?;
    if ids::actor_kind(&q.actor).is_none() {
        return Err(ApiError::bad_request(
            "request.bad_query",
            "actor is not an actor id",
        ));
    }
    let key = state
        .node
        .views()
        .actor_key(&q.actor)?
        .ok_or_else(|| ApiError::not_found(&q.actor))?;
    Ok(view_json(
        applied,
        &serde_json::to_value(key).map_err(|e| ApiError::internal(&e))?,
    ))
}

async fn party(
    req: HttpRequest,
    state: Data<AppState>,
    id: Path<String>,
    after: Query<AfterSeq>,
) -> Result<HttpResponse, ApiError> {
    let id = full_id(IdKind::Party, &id)?;
    // Wait first: the actor's key may be in the very entry the client waits for.
    let applied = views_at(&state, &after).await?;
    let actor = authenticate(&req, b"", &state)?;
    if actor != id {
        return Err(forbidden(&actor));
    }
    let doc = state
        .node
        .views()
        .doc_value(&id)?
        .ok_or_else(|| ApiError::not_found(&id))?;
    Ok(view_json(applied, &doc))
}

async fn owned_list(
    req: &HttpRequest,
    state: &AppState,
    owner: String,
    relation: Relation,
    page: &PageQuery,
    after: &AfterSeq,
) -> Result<HttpResponse, ApiError> {
    let applied = views_at(state, after).await?;
    let actor = authenticate(req, b"", state)?;
    if actor != owner {
        return Err(forbidden(&actor));
    }
    let paging = page.paging()?;
    let result = state.node.views().owned(&owner, relation, paging)?;
    Ok(view_json(
        applied,
        &result.to_value(paging.limit, paging.offset),
    ))
}

async fn party_list(
    req: HttpRequest,
    state: Data<AppState>,
    path: Path<(String, String)>,
    page: Query<PageQuery>,
    after: Query<AfterSeq>,
) -> Result<HttpResponse, ApiError> {
    let (id, list) = path.into_inner();
    let relation = match list.as_str() {
        "verifications" => Relation::Verifications,
        "entrustments" => Relation::Entrustments,
        "listings" => Relation::Listings,
        "viewings" => Relation::ViewingsBooked,
        "viewing-records" => Relation::ViewingRecords,
        "prechecks" => Relation::Prechecks,
        "contracts" => Relation::Contracts,
        "proxies" => Relation::Proxies,
        _ => {
            return Err(ApiError::new(
                404,
                "route.not_found",
                format!("no list `{list}`"),
            ));
        }
    };
    owned_list(
        &req,
        &state,
        full_id(IdKind::Party, &id)?,
        relation,
        &page,
        &after,
    )
    .await
}

async fn agent_list(
    req: HttpRequest,
    state: Data<AppState>,
    path: Path<(String, String)>,
    page: Query<PageQuery>,
    after: Query<AfterSeq>,
) -> Result<HttpResponse, ApiError> {
    let (id, list) = path.into_inner();
    let relation = match list.as_str() {
        "entrustments" => Relation::Entrustments,
        "listings" => Relation::Listings,
        "viewings" => Relation::ViewingRecords,
        "contracts" => Relation::Contracts,
        _ => {
            return Err(ApiError::new(
                404,
                "route.not_found",
                format!("no list `{list}`"),
            ));
        }
    };
    owned_list(
        &req,
        &state,
        full_id(IdKind::Agent, &id)?,
        relation,
        &page,
        &after,
    )
    .await
}

/// `?pending=true`.
#[derive(Debug, Deserialize)]
pub struct PendingQuery {
    pending: Option<bool>,
}

async fn bank_prechecks(
    req: HttpRequest,
    state: Data<AppState>,
    id: Path<String>,
    q: Query<PendingQuery>,
    page: Query<PageQuery>,
    after: Query<AfterSeq>,
) -> Result<HttpResponse, ApiError> {
    let relation = if q.pending.unwrap_or(false) {
        Relation::PrechecksPending
    } else {
        Relation::Prechecks
    };
    owned_list(
        &req,
        &state,
        full_id(IdKind::Bank, &id)?,
        relation,
        &page,
        &after,
    )
    .await
}

async fn queue(
    req: HttpRequest,
    state: Data<AppState>,
    name: Path<String>,
    page: Query<PageQuery>,
    after: Query<AfterSeq>,
) -> Result<HttpResponse, ApiError> {
    let queue = match name.as_str() {
        "contracts-to-file" => docs::QUEUE_TO_FILE,
        "offline-contracts" => docs::QUEUE_OFFLINE,
        "proxies-to-verify" => docs::QUEUE_PROXIES,
        other => {
            return Err(ApiError::new(
                404,
                "route.not_found",
                format!("no queue `{other}`"),
            ));
        }
    };
    let actor = authenticate(&req, b"", &state)?;
    let allowed =
        actor == ids::HOUSING || (queue != docs::QUEUE_TO_FILE && IdKind::Office.matches(&actor));
    if !allowed {
        return Err(forbidden(&actor));
    }
    let applied = views_at(&state, &after).await?;
    let paging = page.paging()?;
    let result = state.node.views().queue(queue, paging)?;
    Ok(view_json(
        applied,
        &result.to_value(paging.limit, paging.offset),
    ))
}

/// Who may read a private document.
fn may_read(actor: &str, doc: &Doc) -> bool {
    let office = IdKind::Office.matches(actor);
    let housing = actor == ids::HOUSING;
    match doc {
        Doc::Verification(v) => {
            v.seller == actor || v.consented_by.iter().any(|p| p == actor) || housing
        }
        Doc::Entrustment(e) => e.principal == actor || e.agent == actor || housing,
        Doc::Viewing(v) => {
            v.buyer == actor || v.seller == actor || v.agent.as_deref() == Some(actor)
        }
        Doc::Precheck(p) => p.buyer == actor || p.bank == actor,
        Doc::Contract(c) => {
            c.buyer == actor
                || c.seller == actor
                || c.agent.as_deref() == Some(actor)
                || housing
                || office
        }
        Doc::Proxy(p) => p.proxy == actor || p.principal == actor || housing || office,
        _ => false,
    }
}

async fn private_doc(
    kind: IdKind,
    req: HttpRequest,
    state: Data<AppState>,
    id: Path<String>,
    after: Query<AfterSeq>,
) -> Result<HttpResponse, ApiError> {
    let id = full_id(kind, &id)?;
    let actor = authenticate(&req, b"", &state)?;
    let applied = views_at(&state, &after).await?;
    let doc = state
        .node
        .views()
        .doc(&id)?
        .ok_or_else(|| ApiError::not_found(&id))?;
    if !may_read(&actor, &doc) {
        return Err(forbidden(&actor));
    }
    Ok(view_json(
        applied,
        &serde_json::to_value(&doc).map_err(|e| ApiError::internal(&e))?,
    ))
}

/// The proof bundle of entry `seq` against the latest checkpoint.
fn bundle(state: &AppState, seq: u64) -> Result<ProofBundle, ApiError> {
    let reader = state.node.reader();
    let cp = reader
        .latest_checkpoint()
        .ok_or_else(|| ApiError::new(503, "ledger.unavailable", "the log has no checkpoint yet"))?;
    bundle_at(state, seq, cp.size, &cp.note)
}

/// A bundle against the stored checkpoint of exactly `size` (the one an answer's state names).
fn bundle_at_size(state: &AppState, seq: u64, size: u64) -> Result<ProofBundle, ApiError> {
    match state.node.reader().checkpoint_at_or_after(size)? {
        Some(cp) if cp.size == size => bundle_at(state, seq, cp.size, &cp.note),
        _ => bundle(state, seq),
    }
}

fn bundle_at(state: &AppState, seq: u64, size: u64, note: &[u8]) -> Result<ProofBundle, ApiError> {
    let reader = state.node.reader();
    if seq >= size {
        return Err(ApiError::new(
            404,
            "log.out_of_range",
            format!("entry {seq} is not in the tree of size {size}"),
        ));
    }
    let bytes = reader.entry(seq)?;
    let proof = reader.inclusion_proof(seq, size)?;
    let note = std::str::from_utf8(note).map_err(|e| ApiError::internal(&e))?;
    Ok(ProofBundle::new(
        seq,
        &bytes,
        size,
        &proof,
        note,
        state.node.log_vkey(),
    ))
}

fn to_value<T: serde::Serialize>(v: &T) -> Result<Value, ApiError> {
    serde_json::to_value(v).map_err(|e| ApiError::internal(&e))
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

fn cached_view_json(applied: u64, bytes: actix_web::web::Bytes) -> HttpResponse {
    let mut res = HttpResponse::Ok()
        .content_type("application/json")
        .body(bytes);
    if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&applied.to_string()) {
        res.headers_mut().insert(
            actix_web::http::header::HeaderName::from_static(HEADER_VIEWS_APPLIED),
            v,
        );
    }
    res
}

async fn verify_listing(
    state: Data<AppState>,
    code: Path<String>,
    after: Query<AfterSeq>,
) -> Result<HttpResponse, ApiError> {
    let applied = views_at(&state, &after).await?;
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
    let Some(Doc::Listing(doc)) = views.doc(&id)? else {
        return Err(ApiError::not_found(&id));
    };
    let proof = bundle_at_size(&state, doc.created_seq, at.1)?;
    let current = bundle_at_size(&state, doc.updated_seq, at.1)?;
    let answer = json!({"code": code.as_str(), "listing": deedlog_views::public_listing_value(&doc), "proof": to_value(&proof)?, "current": to_value(&current)?});
    let bytes = actix_web::web::Bytes::from(
        deedlog_core::canonical::encode(&answer).map_err(|e| ApiError::internal(&e))?,
    );
    state.answers.put(at, key, bytes.clone());
    Ok(cached_view_json(applied, bytes))
}

async fn verify_contract(
    state: Data<AppState>,
    code: Path<String>,
    after: Query<AfterSeq>,
) -> Result<HttpResponse, ApiError> {
    let applied = views_at(&state, &after).await?;
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
    Ok(view_json(
        applied,
        &json!({
            "filing_code": code.as_str(),
            "contract": {"id": doc.id, "status": doc.status, "listing": doc.listing, "property": doc.property,
                         "document_hash": doc.document_hash, "filed_seq": doc.filed_seq, "signatures": doc.signatures},
            "proof": to_value(&proof)?, "latest": to_value(&latest)?,
        }),
    ))
}

/// Reads a raw body with a limit, as it streams in.
async fn read_body(mut payload: web::Payload, max: usize) -> Result<Vec<u8>, ApiError> {
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::bad_request("request.bad_body", e.to_string()))?;
        if body.len() + chunk.len() > max {
            return Err(ApiError::new(
                413,
                "request.too_large",
                format!("the body is larger than {max} bytes"),
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

async fn verify_document(
    state: Data<AppState>,
    mut payload: web::Payload,
    after: Query<AfterSeq>,
) -> Result<HttpResponse, ApiError> {
    let max = state.config.document_bytes_max;
    let mut hasher = Sha256::new();
    let mut len = 0usize;
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::bad_request("request.bad_body", e.to_string()))?;
        len += chunk.len();
        if len > max {
            return Err(ApiError::new(
                413,
                "request.too_large",
                format!("the file is larger than {max} bytes"),
            ));
        }
        hasher.update(&chunk);
    }
    let hex = hex::encode(hasher.finalize());
    let applied = views_at(&state, &after).await?;
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
                            "code": code, "proof": to_value(&bundle(&state, m.seq)?)?}),
        );
    }
    Ok(view_json(
        applied,
        &json!({"sha256": hex, "matches": matches}),
    ))
}

async fn log_checkpoint(state: Data<AppState>) -> Result<HttpResponse, ApiError> {
    let cp =
        state.node.reader().latest_checkpoint().ok_or_else(|| {
            ApiError::new(503, "ledger.unavailable", "the log has no checkpoint yet")
        })?;
    let note = String::from_utf8(cp.note.clone()).map_err(|e| ApiError::internal(&e))?;
    Ok(body_json(
        StatusCode::OK,
        &json!({"origin": state.node.origin(), "size": cp.size, "note": note, "log_key": state.node.log_vkey()}),
    ))
}

async fn checkpoint_text(state: Data<AppState>) -> Result<HttpResponse, ApiError> {
    let cp =
        state.node.reader().latest_checkpoint().ok_or_else(|| {
            ApiError::new(503, "ledger.unavailable", "the log has no checkpoint yet")
        })?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body(cp.note.clone()))
}

/// `?start=&end=`.
#[derive(Debug, Deserialize)]
pub struct RangeQuery {
    start: u64,
    end: Option<u64>,
}

async fn log_entries(
    state: Data<AppState>,
    q: Query<RangeQuery>,
) -> Result<HttpResponse, ApiError> {
    let reader = state.node.reader();
    let size = reader.size();
    let end = q.end.unwrap_or(q.start.saturating_add(100));
    if end < q.start || end - q.start > ENTRIES_MAX {
        return Err(ApiError::bad_request(
            "request.bad_query",
            format!("need start <= end and at most {ENTRIES_MAX} entries"),
        ));
    }
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
        body.extend_from_slice(&reader.entry(seq)?);
        body.push(b'\n');
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
    state: Data<AppState>,
    seq: Path<u64>,
    q: Query<ProofSizeQuery>,
) -> Result<HttpResponse, ApiError> {
    let seq = seq.into_inner();
    let reader = state.node.reader();
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
    let b = bundle_at(&state, seq, cp.size, &cp.note)?;
    Ok(body_json(StatusCode::OK, &to_value(&b)?))
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
        Some(to + 1)
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

/// A fixed body of exactly 300 bytes, served without touching the node: what `deedlog bench http`
/// measures as the ceiling of the HTTP stack on this machine.
const PING_BODY: &str = concat!(
    r#"{"service":"deedlog","about":"static answer for load tests: the raw HTTP ceiling","#,
    r#""padding":"................................................................................"#,
    r#"................................................................................"#,
    r#"............................................."}"#
);

async fn ping() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(PING_BODY)
}

async fn healthz() -> HttpResponse {
    body_json(StatusCode::OK, &json!({"status": "ok"}))
}

async fn readyz(state: Data<AppState>) -> HttpResponse {
    let size = state.node.reader().size();
    let applied = state.node.views().applied();
    let ready = size > 0 && size - applied.min(size) <= state.config.ready_lag_max;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    body_json(
        status,
        &json!({"ready": ready, "log_size": size, "views_applied": applied}),
    )
}

async fn metrics(state: Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(
            state
                .metrics
                .render(state.node.reader().size(), state.node.views().applied()),
        )
}
