//! The routes: one list ([`all`]) that registers the handlers ([`configure`]), builds the
//! OpenAPI document ([`crate::openapi`]) and is checked against `docs/API.md`. Each resource's
//! module contributes its own entries, so a module can be swapped without touching the others.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use actix_web::dev::ResourceDef;
use actix_web::http::StatusCode;
use actix_web::web::{self, Data};
use actix_web::{HttpRequest, HttpResponse};
use futures_util::StreamExt as _;
use serde::Deserialize;
use serde_json::{Value, json};

use deedlog_core::bundle::ProofBundle;
use deedlog_domain::ids::IdKind;

use crate::AppState;
use crate::error::ApiError;

pub mod commands;
pub mod contract_pdf;
pub mod demo;
pub mod directory;
pub mod identity;
pub mod listings;
pub mod log;
pub mod messages;
pub mod ops;
pub mod pages;
pub mod photos;
pub mod private;
pub mod tiles;
pub mod verify;

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

/// The HTTP method of a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Method {
    /// `GET`.
    Get,
    /// `POST`.
    Post,
}

impl Method {
    /// The method's name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
        }
    }

    fn actix(self) -> actix_web::http::Method {
        match self {
            Self::Get => actix_web::http::Method::GET,
            Self::Post => actix_web::http::Method::POST,
        }
    }
}

/// Where a parameter goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum In {
    /// A `{placeholder}` of the path.
    Path,
    /// The query string.
    Query,
    /// A header.
    Header,
}

/// A JSON Schema, built when the OpenAPI document is.
pub type SchemaFn = fn() -> Value;

/// One parameter of a route.
#[derive(Debug, Clone)]
pub struct Param {
    /// The name.
    pub name: &'static str,
    /// Where it goes.
    pub place: In,
    /// Whether the route refuses a request without it.
    pub required: bool,
    /// Its schema.
    pub schema: SchemaFn,
    /// One line.
    pub description: &'static str,
}

/// The body a route takes.
#[derive(Debug, Clone)]
pub enum Body {
    /// None.
    None,
    /// A JSON body of this schema.
    Json(SchemaFn),
    /// A `SignedCommand` of the kind the path names (the OpenAPI document lists one operation
    /// per kind, each with that kind's payload schema).
    Command,
    /// Any bytes (`application/octet-stream` or any other type).
    Raw,
}

/// What a successful (or documented non-error) answer carries.
#[derive(Debug, Clone)]
pub enum Content {
    /// `application/json` of this schema.
    Json(SchemaFn),
    /// Text of this media type (`text/plain`, Prometheus text, NDJSON, HTML).
    Text(&'static str),
    /// `text/event-stream`, each event (`{id, event, data}`) of this schema.
    Events(SchemaFn),
    /// Bytes of one of these media types (photos).
    Binary(&'static [&'static str]),
}

/// One documented answer.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The status.
    pub status: u16,
    /// One line.
    pub description: &'static str,
    /// The body.
    pub content: Content,
}

/// How a route is served.
#[derive(Clone, Copy)]
pub enum Handler {
    /// An actix route (the method is set from [`RouteSpec::method`]).
    Route(fn(actix_web::Route) -> actix_web::Route),
    /// A whole service registered on its own (the Swagger UI), with the actix pattern it serves.
    Service(fn(&mut web::ServiceConfig), &'static str),
}

impl std::fmt::Debug for Handler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Route(_) => f.write_str("Route"),
            Self::Service(_, p) => write!(f, "Service({p})"),
        }
    }
}

/// One route: what registers it, documents it and checks it.
#[derive(Debug, Clone)]
pub struct RouteSpec {
    /// The method.
    pub method: Method,
    /// The path, with `{placeholders}` (as in `docs/API.md` and the OpenAPI document).
    pub path: &'static str,
    /// The static prefix the route is registered under (`""`: none). Actix tries resources in
    /// order and matches each dynamic one with a regex; grouping them under static scopes keeps
    /// a request from being matched against every route (see PERFORMANCE.md).
    pub scope: &'static str,
    /// Who may call it.
    pub access: Access,
    /// The OpenAPI tag.
    pub tag: &'static str,
    /// One line.
    pub summary: &'static str,
    /// Path, query and header parameters (the signature headers of signed routes are added by
    /// the OpenAPI document itself).
    pub params: Vec<Param>,
    /// The body.
    pub body: Body,
    /// The documented answers besides the error object.
    pub replies: Vec<Reply>,
    /// The handler.
    pub handler: Handler,
}

impl RouteSpec {
    /// A route with no parameters, no body and no documented answer yet.
    #[must_use]
    pub fn new(
        method: Method,
        path: &'static str,
        access: Access,
        tag: &'static str,
        summary: &'static str,
        handler: fn(actix_web::Route) -> actix_web::Route,
    ) -> Self {
        Self {
            method,
            path,
            scope: "",
            access,
            tag,
            summary,
            params: Vec::new(),
            body: Body::None,
            replies: Vec::new(),
            handler: Handler::Route(handler),
        }
    }

    /// Registered under `scope`.
    #[must_use]
    pub fn scope(mut self, scope: &'static str) -> Self {
        self.scope = scope;
        self
    }

    /// With a parameter.
    #[must_use]
    pub fn param(mut self, p: Param) -> Self {
        self.params.push(p);
        self
    }

    /// With parameters.
    #[must_use]
    pub fn params(mut self, ps: impl IntoIterator<Item = Param>) -> Self {
        self.params.extend(ps);
        self
    }

    /// With a body.
    #[must_use]
    pub fn body(mut self, body: Body) -> Self {
        self.body = body;
        self
    }

    /// With a documented answer.
    #[must_use]
    pub fn reply(mut self, status: u16, description: &'static str, content: Content) -> Self {
        self.replies.push(Reply {
            status,
            description,
            content,
        });
        self
    }

    /// The actix pattern the route is served at.
    #[must_use]
    pub fn pattern(&self) -> &'static str {
        match self.handler {
            Handler::Service(_, pattern) => pattern,
            Handler::Route(_) => self.path,
        }
    }
}

/// A path parameter (always required).
#[must_use]
pub fn path_param(name: &'static str, schema: SchemaFn, description: &'static str) -> Param {
    Param {
        name,
        place: In::Path,
        required: true,
        schema,
        description,
    }
}

/// An optional query parameter.
#[must_use]
pub fn query(name: &'static str, schema: SchemaFn, description: &'static str) -> Param {
    Param {
        name,
        place: In::Query,
        required: false,
        schema,
        description,
    }
}

/// A required query parameter.
#[must_use]
pub fn query_required(name: &'static str, schema: SchemaFn, description: &'static str) -> Param {
    Param {
        required: true,
        ..query(name, schema, description)
    }
}

/// The schema of a `u64` request number.
#[must_use]
pub fn u64_schema() -> Value {
    json!({"type": "integer", "minimum": 0, "maximum": u64::MAX})
}

/// `?after_seq=`.
#[must_use]
pub fn after_seq_param() -> Param {
    query(
        "after_seq",
        || json!({"type": "integer", "minimum": 0, "maximum": u64::MAX}),
        "Wait (bounded) until the views have applied this entry; refused at once beyond the log",
    )
}

/// `?limit=&offset=`.
#[must_use]
pub fn page_params() -> [Param; 2] {
    [
        query(
            "limit",
            || json!({"type": "integer", "minimum": 1, "maximum": deedlog_views::PAGE_LIMIT_MAX}),
            "Page size (default 20)",
        ),
        query(
            "offset",
            || json!({"type": "integer", "minimum": 0, "maximum": deedlog_views::PAGE_OFFSET_MAX}),
            "Items to skip (default 0)",
        ),
    ]
}

/// The schema of an id suffix in a path (`LS-0001` for `listing/LS-0001`): the same rule as
/// [`IdKind::matches`].
#[must_use]
pub fn id_schema(kind: IdKind) -> Value {
    let prefix = kind.shape().map_or("", |(_, p)| p);
    json!({"type": "string", "pattern": format!("^{prefix}-[A-Za-z0-9-]{{1,64}}$")})
}

/// A list page: `{"items", "limit", "offset", "next_offset"}`.
#[must_use]
pub fn page_schema() -> Value {
    json!({"type": "object", "required": ["items", "limit", "offset", "next_offset"], "properties": {
        "items": {"type": "array", "items": {"type": "object"}},
        "limit": {"type": "integer"}, "offset": {"type": "integer"},
        "next_offset": {"type": ["integer", "null"]}}})
}

/// `{"items": [...]}`.
#[must_use]
pub fn items_schema() -> Value {
    json!({"type": "object", "required": ["items"], "properties": {
        "items": {"type": "array", "items": {"type": "object"}}}})
}

/// A reference to a named component schema (a view document, e.g. `ListingDoc`).
#[must_use]
pub fn doc_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

/// A list page whose items are of the schema `item`.
#[must_use]
pub fn page_of(item: Value) -> Value {
    let mut s = page_schema();
    s["properties"]["items"]["items"] = item;
    s
}

/// `{"items": [...]}` whose items are of the schema `item`.
#[must_use]
pub fn items_of(item: Value) -> Value {
    let mut s = items_schema();
    s["properties"]["items"]["items"] = item;
    s
}

/// Any JSON object.
#[must_use]
pub fn object_schema() -> Value {
    json!({"type": "object"})
}

/// Every route, in registration order: hot routes first (see [`RouteSpec::scope`]).
pub fn all() -> &'static [RouteSpec] {
    static ALL: LazyLock<Vec<RouteSpec>> = LazyLock::new(|| {
        let mut v = Vec::new();
        v.extend(ops::hot_routes());
        v.extend(commands::routes());
        v.extend(contract_pdf::verify_routes());
        v.extend(verify::routes());
        v.extend(log::routes());
        v.extend(tiles::routes());
        v.extend(listings::routes());
        v.extend(photos::routes());
        v.extend(directory::routes());
        v.extend(contract_pdf::routes());
        v.extend(private::routes());
        v.extend(messages::routes());
        v.extend(identity::routes());
        v.extend(demo::routes());
        v.extend(ops::routes());
        v.extend(pages::routes());
        v
    });
    &ALL
}

/// Registers the routes of [`all`], the extractor limits and error handlers.
pub fn configure(cfg: &mut web::ServiceConfig, state: AppState) {
    let json_max = state.config.json_bytes_max;
    // The handlers here read JSON bodies with `read_json` (size and time limits); the
    // extractor configuration stays for a module that uses actix's `Json` extractor, so that
    // its errors have the same codes.
    cfg.app_data(Data::new(state))
        .app_data(
            web::JsonConfig::default()
                .limit(json_max)
                .error_handler(|err, _| json_error(&err).into()),
        )
        .app_data(web::PayloadConfig::default().limit(json_max))
        .app_data(web::PathConfig::default().error_handler(|err, _| {
            ApiError::bad_request("request.bad_path", err.to_string()).into()
        }))
        .app_data(web::QueryConfig::default().error_handler(|err, _| {
            ApiError::bad_request("request.bad_query", err.to_string()).into()
        }));
    // Routes grouped by scope (a scope's place is its first route's), then by path; the order
    // of the list is kept otherwise.
    let mut scopes: Vec<(&'static str, Vec<&'static RouteSpec>)> = Vec::new();
    for spec in all() {
        match scopes.iter_mut().find(|(s, _)| *s == spec.scope) {
            Some((_, v)) if !spec.scope.is_empty() => v.push(spec),
            _ => scopes.push((spec.scope, vec![spec])),
        }
    }
    for (scope, specs) in scopes {
        if scope.is_empty() {
            for spec in specs {
                match spec.handler {
                    Handler::Route(_) => {
                        cfg.service(resource(spec.path, &[spec]));
                    }
                    Handler::Service(register, _) => register(cfg),
                }
            }
        } else {
            let mut s = web::scope(scope);
            let mut paths: Vec<&'static str> = Vec::new();
            for spec in &specs {
                if !paths.contains(&spec.path) {
                    paths.push(spec.path);
                }
            }
            for path in paths {
                let same: Vec<&RouteSpec> =
                    specs.iter().copied().filter(|r| r.path == path).collect();
                s = s.service(resource(&path[scope.len()..], &same));
            }
            cfg.service(s);
        }
    }
    cfg.default_service(web::to(fallback));
}

fn resource(pattern: &str, specs: &[&RouteSpec]) -> actix_web::Resource {
    let mut r = web::resource(pattern);
    for spec in specs {
        if let Handler::Route(to) = spec.handler {
            r = r.route(to(web::route().method(spec.method.actix())));
        }
    }
    r.default_service(web::to(fallback))
}

fn json_error(err: &actix_web::error::JsonPayloadError) -> ApiError {
    match err {
        actix_web::error::JsonPayloadError::Overflow { .. }
        | actix_web::error::JsonPayloadError::OverflowKnownLength { .. } => {
            ApiError::new(413, "request.too_large", err.to_string())
        }
        actix_web::error::JsonPayloadError::ContentType => {
            ApiError::bad_request("request.bad_json", "the body must be application/json")
        }
        _ => ApiError::bad_request("request.bad_json", err.to_string()),
    }
}

/// The methods each actix pattern answers, to tell a wrong method (405) from an unknown path.
fn known_patterns() -> &'static [(ResourceDef, BTreeSet<Method>)] {
    static KNOWN: LazyLock<Vec<(ResourceDef, BTreeSet<Method>)>> = LazyLock::new(|| {
        let mut v: Vec<(&'static str, BTreeSet<Method>)> = Vec::new();
        for spec in all() {
            match v.iter_mut().find(|(p, _)| *p == spec.pattern()) {
                Some((_, m)) => {
                    m.insert(spec.method);
                }
                None => v.push((spec.pattern(), BTreeSet::from([spec.method]))),
            }
        }
        v.into_iter()
            .map(|(p, m)| (ResourceDef::new(p), m))
            .collect()
    });
    &KNOWN
}

/// The methods a path answers, if it is a known path.
#[must_use]
pub fn allowed_methods(path: &str) -> Option<Vec<&'static str>> {
    let mut methods = BTreeSet::new();
    for (def, m) in known_patterns() {
        if def.is_match(path) {
            methods.extend(m.iter().copied());
        }
    }
    (!methods.is_empty()).then(|| methods.into_iter().map(Method::as_str).collect())
}

/// Unknown paths: `404 route.not_found`; a known path with another method: `405
/// request.method_not_allowed` with `Allow`.
async fn fallback(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    match allowed_methods(req.path()) {
        Some(methods) => {
            let allow = methods.join(", ");
            let mut res = actix_web::ResponseError::error_response(
                &ApiError::new(
                    405,
                    "request.method_not_allowed",
                    format!("{} is not served at this path; use {allow}", req.method()),
                )
                .with_details(json!({ "allow": methods })),
            );
            if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&allow) {
                res.headers_mut().insert(actix_web::http::header::ALLOW, v);
            }
            Ok(res)
        }
        None => Err(ApiError::new(
            404,
            "route.not_found",
            format!("no route {} {}", req.method(), req.path()),
        )),
    }
}

/// Header with the views' cursor on view answers.
pub const HEADER_VIEWS_APPLIED: &str = "x-deedlog-views-applied";

pub(crate) fn body_json(status: StatusCode, value: &Value) -> HttpResponse {
    let bytes = deedlog_core::canonical::encode(value)
        .unwrap_or_else(|_| serde_json::to_vec(value).unwrap_or_default());
    HttpResponse::build(status)
        .content_type("application/json")
        .body(bytes)
}

pub(crate) fn view_json(applied: u64, value: &Value) -> HttpResponse {
    let mut res = body_json(StatusCode::OK, value);
    set_applied(&mut res, applied);
    res
}

pub(crate) fn set_applied(res: &mut HttpResponse, applied: u64) {
    if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&applied.to_string()) {
        res.headers_mut().insert(
            actix_web::http::header::HeaderName::from_static(HEADER_VIEWS_APPLIED),
            v,
        );
    }
}

/// `?after_seq=N`.
#[derive(Debug, Deserialize)]
pub struct AfterSeq {
    pub(crate) after_seq: Option<u64>,
}

/// Waits for `after_seq` (bounded); returns the views' cursor to report. A seq the log has not
/// reached is refused at once: nothing will make the views apply it within the wait, so
/// waiting would only hold a worker's connection for an attacker.
pub(crate) async fn views_at(state: &AppState, after: &AfterSeq) -> Result<u64, ApiError> {
    if let Some(n) = after.after_seq {
        let size = state.node.reader().size();
        if n >= size {
            return Err(ApiError::new(
                404,
                "log.out_of_range",
                format!("entry {n} is not on the log (it has {size} entries)"),
            )
            .with_details(json!({"size": size, "requested": n})));
        }
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
    pub(crate) fn paging(&self) -> Result<deedlog_views::Paging, ApiError> {
        use deedlog_views::{PAGE_LIMIT_MAX, PAGE_OFFSET_MAX};
        let limit = self.limit.unwrap_or(20);
        let offset = self.offset.unwrap_or(0);
        if limit == 0 || limit > PAGE_LIMIT_MAX || offset > PAGE_OFFSET_MAX {
            return Err(ApiError::bad_request(
                "request.bad_query",
                format!("limit must be 1 to {PAGE_LIMIT_MAX} and offset at most {PAGE_OFFSET_MAX}"),
            ));
        }
        Ok(deedlog_views::Paging { offset, limit })
    }
}

pub(crate) fn full_id(kind: IdKind, suffix: &str) -> Result<String, ApiError> {
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

/// Reads a raw body with a size limit and a time limit, as it streams in: a client that sends
/// its headers and then trickles the body is cut after `body_read_timeout`, so that slow bodies
/// cannot hold workers' memory and connections.
pub(crate) async fn read_body(
    state: &AppState,
    mut payload: web::Payload,
    max: usize,
    mut each: impl FnMut(&[u8]),
) -> Result<usize, ApiError> {
    let deadline = tokio::time::Instant::now() + state.config.body_read_timeout;
    let mut len = 0usize;
    loop {
        let next = tokio::time::timeout_at(deadline, payload.next())
            .await
            .map_err(|_| body_timeout(state))?;
        let Some(chunk) = next else { break };
        let chunk = chunk.map_err(|e| ApiError::bad_request("request.bad_body", e.to_string()))?;
        len = len.saturating_add(chunk.len());
        if len > max {
            return Err(ApiError::new(
                413,
                "request.too_large",
                format!("the body is larger than {max} bytes"),
            ));
        }
        each(&chunk);
    }
    Ok(len)
}

/// Reads a whole body into memory (see [`read_body`]).
pub(crate) async fn read_body_vec(
    state: &AppState,
    payload: web::Payload,
    max: usize,
) -> Result<Vec<u8>, ApiError> {
    let mut body = Vec::new();
    read_body(state, payload, max, |c| body.extend_from_slice(c)).await?;
    Ok(body)
}

/// Reads and parses a JSON body (size- and time-limited; see [`read_body`]).
pub(crate) async fn read_json<T: serde::de::DeserializeOwned>(
    req: &HttpRequest,
    state: &AppState,
    payload: web::Payload,
) -> Result<T, ApiError> {
    let is_json = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            let v = v.trim().to_ascii_lowercase();
            v == "application/json" || v.ends_with("+json")
        });
    if !is_json {
        return Err(ApiError::bad_request(
            "request.bad_json",
            "the body must be application/json",
        ));
    }
    let body = read_body_vec(state, payload, state.config.json_bytes_max).await?;
    serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request("request.bad_json", e.to_string()))
}

fn body_timeout(state: &AppState) -> ApiError {
    ApiError::new(
        408,
        "request.timeout",
        format!(
            "the body was not received within {} ms",
            state.config.body_read_timeout.as_millis()
        ),
    )
}

pub(crate) fn to_value<T: serde::Serialize>(v: &T) -> Result<Value, ApiError> {
    serde_json::to_value(v).map_err(|e| ApiError::internal(&e))
}

/// The proof bundle of entry `seq` against the latest checkpoint.
pub(crate) fn bundle(state: &AppState, seq: u64) -> Result<ProofBundle, ApiError> {
    let reader = state.node.reader();
    let cp = reader
        .latest_checkpoint()
        .ok_or_else(|| ApiError::new(503, "ledger.unavailable", "the log has no checkpoint yet"))?;
    bundle_at(state, seq, cp.size, &cp.note)
}

/// A bundle against the stored checkpoint of exactly `size` (the one an answer's state names).
pub(crate) fn bundle_at_size(
    state: &AppState,
    seq: u64,
    size: u64,
) -> Result<ProofBundle, ApiError> {
    match state.node.reader().checkpoint_at_or_after(size)? {
        Some(cp) if cp.size == size => bundle_at(state, seq, cp.size, &cp.note),
        _ => bundle(state, seq),
    }
}

/// The bundle of entry `seq` in the tree of `size`, with its opening when the public may see it
/// (every public answer's bundles; see [`crate::disclose`]).
pub(crate) fn bundle_at(
    state: &AppState,
    seq: u64,
    size: u64,
    note: &[u8],
) -> Result<ProofBundle, ApiError> {
    bundle_for(state, &crate::disclose::Reader::Public, seq, size, note)
}

/// As [`bundle_at`], with the opening when `who` may see it.
pub(crate) fn bundle_for(
    state: &AppState,
    who: &crate::disclose::Reader,
    seq: u64,
    size: u64,
    note: &[u8],
) -> Result<ProofBundle, ApiError> {
    let reader = state.node.reader();
    if seq >= size {
        return Err(ApiError::new(
            404,
            "log.out_of_range",
            format!("entry {seq} is not in the tree of size {size}"),
        ));
    }
    let (bytes, opening) = crate::disclose::served(state, who, seq)?;
    let proof = reader.inclusion_proof(seq, size)?;
    let note = std::str::from_utf8(note).map_err(|e| ApiError::internal(&e))?;
    let bundle = ProofBundle::new(seq, &bytes, size, &proof, note, state.node.log_vkey());
    let bundle = with_witnessed(state, bundle)?;
    match opening {
        None => Ok(bundle),
        Some(o) => bundle.with_opening(&o).map_err(|e| ApiError::internal(&e)),
    }
}

/// The newest checkpoint the witnesses cosigned, `(size, note)`, when the node has witnesses and
/// they have answered (see `ApiConfig::cosigned_checkpoint`).
pub(crate) fn cosigned(state: &AppState) -> Option<(u64, String)> {
    state
        .config
        .cosigned_checkpoint
        .as_ref()
        .and_then(|slot| slot.read().ok().and_then(|s| s.clone()))
}

/// The bundle with the newest checkpoint the witnesses cosigned, when it covers the entry, so an
/// offline verifier can check the witnesses too. The cosigner lags the log by a round, so the
/// cosigned checkpoint is usually a little older than the bundle's; an entry newer than it gets
/// no witnessed checkpoint (the verifier's policy then says so) until the next round.
fn with_witnessed(state: &AppState, bundle: ProofBundle) -> Result<ProofBundle, ApiError> {
    let Some((cosigned_size, note)) = cosigned(state) else {
        return Ok(bundle);
    };
    if bundle.seq >= cosigned_size {
        return Ok(bundle);
    }
    let (small, large) = if cosigned_size <= bundle.tree_size {
        (cosigned_size, bundle.tree_size)
    } else {
        (bundle.tree_size, cosigned_size)
    };
    let proof = if small == large {
        Vec::new()
    } else {
        state.node.reader().consistency_proof(small, large)?
    };
    Ok(bundle.with_witnessed(&note, cosigned_size, &proof))
}
