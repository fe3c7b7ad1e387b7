//! Private reads: each needs a signed request (see [`crate::auth`]) by an actor allowed to read.
//!
//! Order in every handler: the signature is checked under the header's key first (no view
//! needed), then `?after_seq` is waited for (the actor's key may be in that very entry), then
//! the key is checked to be the actor's current one, then access. An unsigned or badly signed
//! request is refused before any wait.

use actix_web::web::{Data, Path, Query};
use actix_web::{HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use deedlog_domain::ids::{self, IdKind};
use deedlog_views::keys::Relation;
use deedlog_views::{Doc, docs};

use super::{
    Access, AfterSeq, Content, Method, PageQuery, RouteSpec, after_seq_param, doc_ref, full_id,
    id_schema, page_of, page_params, path_param, query, to_value, view_json,
};
use crate::AppState;
use crate::auth::{check_key, forbidden, verify_signature};
use crate::error::ApiError;

type ListFn = fn(actix_web::Route) -> actix_web::Route;

fn list(
    path: &'static str,
    scope: &'static str,
    summary: &'static str,
    owner: (&'static str, IdKind),
    reply: super::SchemaFn,
    to: ListFn,
) -> RouteSpec {
    let (name, kind) = owner;
    RouteSpec::new(Method::Get, path, Access::Signed, "private", summary, to)
        .scope(scope)
        .param(path_param(
            name,
            match kind {
                IdKind::Party => || id_schema(IdKind::Party),
                IdKind::Agent => || id_schema(IdKind::Agent),
                _ => || id_schema(IdKind::Bank),
            },
            "The owner's id after the slash",
        ))
        .params(page_params())
        .param(after_seq_param())
        .reply(200, "A page, newest first", Content::Json(reply))
}

fn doc(
    path: &'static str,
    scope: &'static str,
    summary: &'static str,
    name: &'static str,
    schema: super::SchemaFn,
    reply: super::SchemaFn,
    to: ListFn,
) -> RouteSpec {
    RouteSpec::new(Method::Get, path, Access::Signed, "private", summary, to)
        .scope(scope)
        .param(path_param(name, schema, "The id after the slash"))
        .param(after_seq_param())
        .reply(200, "The document", Content::Json(reply))
}

const PA: (&str, IdKind) = ("PA", IdKind::Party);
const AT: (&str, IdKind) = ("AT", IdKind::Agent);
const BK: (&str, IdKind) = ("BK", IdKind::Bank);

macro_rules! owned {
    ($kind:expr, $rel:expr) => {
        |r| r.to(|req, s, p, pg, a| owned_list(req, s, p, pg, a, $kind, $rel))
    };
}

macro_rules! private_doc {
    ($kind:expr) => {
        |r| r.to(|req, s, p, a| private_doc($kind, req, s, p, a))
    };
}

/// The routes of this module.
pub(crate) fn routes() -> Vec<RouteSpec> {
    let p = "/v1/parties";
    let a = "/v1/agents";
    vec![
        RouteSpec::new(
            Method::Get,
            "/v1/parties/{PA}",
            Access::Signed,
            "private",
            "The party itself",
            |r| r.to(party),
        )
        .scope(p)
        .param(path_param(
            "PA",
            || id_schema(IdKind::Party),
            "The party id after `party/`",
        ))
        .param(after_seq_param())
        .reply(200, "The party", Content::Json(|| doc_ref("PartyDoc"))),
        list(
            "/v1/parties/{PA}/verifications",
            p,
            "The party's property verifications",
            PA,
            || page_of(doc_ref("VerificationDoc")),
            owned!(IdKind::Party, Relation::Verifications),
        ),
        list(
            "/v1/parties/{PA}/entrustments",
            p,
            "The party's entrustments",
            PA,
            || page_of(doc_ref("EntrustmentDoc")),
            owned!(IdKind::Party, Relation::Entrustments),
        ),
        list(
            "/v1/parties/{PA}/listings",
            p,
            "The party's listings as seller",
            PA,
            || page_of(doc_ref("ListingDoc")),
            owned!(IdKind::Party, Relation::Listings),
        ),
        list(
            "/v1/parties/{PA}/viewings",
            p,
            "Viewings the party booked",
            PA,
            || page_of(doc_ref("ViewingDoc")),
            owned!(IdKind::Party, Relation::ViewingsBooked),
        ),
        list(
            "/v1/parties/{PA}/viewing-records",
            p,
            "Viewing records of the party's listings",
            PA,
            || page_of(doc_ref("ViewingDoc")),
            owned!(IdKind::Party, Relation::ViewingRecords),
        ),
        list(
            "/v1/parties/{PA}/prechecks",
            p,
            "The party's loan pre-checks",
            PA,
            || page_of(doc_ref("PrecheckDoc")),
            owned!(IdKind::Party, Relation::Prechecks),
        ),
        list(
            "/v1/parties/{PA}/contracts",
            p,
            "The party's contracts",
            PA,
            || page_of(doc_ref("ContractDoc")),
            owned!(IdKind::Party, Relation::Contracts),
        ),
        list(
            "/v1/parties/{PA}/proxies",
            p,
            "Proxy filings of the party",
            PA,
            || page_of(doc_ref("ProxyDoc")),
            owned!(IdKind::Party, Relation::Proxies),
        ),
        list(
            "/v1/agents/{AT}/entrustments",
            a,
            "The agent's entrustments",
            AT,
            || page_of(doc_ref("EntrustmentDoc")),
            owned!(IdKind::Agent, Relation::Entrustments),
        ),
        list(
            "/v1/agents/{AT}/listings",
            a,
            "The agent's listings",
            AT,
            || page_of(doc_ref("ListingDoc")),
            owned!(IdKind::Agent, Relation::Listings),
        ),
        list(
            "/v1/agents/{AT}/viewings",
            a,
            "Viewings of the agent's listings",
            AT,
            || page_of(doc_ref("ViewingDoc")),
            owned!(IdKind::Agent, Relation::ViewingRecords),
        ),
        list(
            "/v1/agents/{AT}/contracts",
            a,
            "The agent's contracts",
            AT,
            || page_of(doc_ref("ContractDoc")),
            owned!(IdKind::Agent, Relation::Contracts),
        ),
        list(
            "/v1/banks/{BK}/prechecks",
            "/v1/banks",
            "Pre-checks sent to the bank",
            BK,
            || page_of(doc_ref("PrecheckDoc")),
            |r| r.to(bank_prechecks),
        )
        .param(query(
            "pending",
            || json!({"type": "boolean"}),
            "Only those not yet assessed (the bank's queue)",
        )),
        queue_route(
            "/v1/queues/contracts-to-file",
            "Contracts waiting for filing",
            || page_of(doc_ref("ContractDoc")),
            |r| r.to(|req, s, pg, a| queue(req, s, pg, a, docs::QUEUE_TO_FILE)),
        ),
        queue_route(
            "/v1/queues/offline-contracts",
            "Contracts waiting for an office",
            || page_of(doc_ref("ContractDoc")),
            |r| r.to(|req, s, pg, a| queue(req, s, pg, a, docs::QUEUE_OFFLINE)),
        ),
        queue_route(
            "/v1/queues/proxies-to-verify",
            "Proxy filings waiting for an office",
            || page_of(doc_ref("ProxyDoc")),
            |r| r.to(|req, s, pg, a| queue(req, s, pg, a, docs::QUEUE_PROXIES)),
        ),
        scoped(
            "/v1/proxies/{PX}/contracts",
            "",
            "The principal's contracts a proxy may act on",
            "PX",
            || id_schema(IdKind::Proxy),
            |r| r.to(proxy_contracts),
        ),
        scoped(
            "/v1/entrustments/{EN}/contracts",
            "",
            "The buyer's contracts its purchase agent may confirm",
            "EN",
            || id_schema(IdKind::Entrustment),
            |r| r.to(entrustment_contracts),
        ),
        doc(
            "/v1/verifications/{PV}",
            "",
            "One property verification",
            "PV",
            || id_schema(IdKind::Verification),
            || doc_ref("VerificationDoc"),
            private_doc!(IdKind::Verification),
        ),
        doc(
            "/v1/entrustments/{EN}",
            "",
            "One entrustment",
            "EN",
            || id_schema(IdKind::Entrustment),
            || doc_ref("EntrustmentDoc"),
            private_doc!(IdKind::Entrustment),
        ),
        doc(
            "/v1/viewings/{VW}",
            "",
            "One viewing",
            "VW",
            || id_schema(IdKind::Viewing),
            || doc_ref("ViewingDoc"),
            private_doc!(IdKind::Viewing),
        ),
        doc(
            "/v1/prechecks/{LP}",
            "",
            "One loan pre-check",
            "LP",
            || id_schema(IdKind::Precheck),
            || doc_ref("PrecheckDoc"),
            private_doc!(IdKind::Precheck),
        ),
        doc(
            "/v1/contracts/{CT}",
            "",
            "One contract",
            "CT",
            || id_schema(IdKind::Contract),
            || doc_ref("ContractDoc"),
            private_doc!(IdKind::Contract),
        ),
        doc(
            "/v1/proxies/{PX}",
            "",
            "One proxy filing",
            "PX",
            || id_schema(IdKind::Proxy),
            || doc_ref("ProxyDoc"),
            private_doc!(IdKind::Proxy),
        ),
    ]
}

fn scoped(
    path: &'static str,
    scope: &'static str,
    summary: &'static str,
    name: &'static str,
    schema: super::SchemaFn,
    to: ListFn,
) -> RouteSpec {
    RouteSpec::new(Method::Get, path, Access::Signed, "private", summary, to)
        .scope(scope)
        .param(path_param(name, schema, "The id after the slash"))
        .params(page_params())
        .param(after_seq_param())
        .reply(
            200,
            "A page, newest first",
            Content::Json(|| page_of(doc_ref("ContractDoc"))),
        )
}

fn queue_route(
    path: &'static str,
    summary: &'static str,
    reply: super::SchemaFn,
    to: ListFn,
) -> RouteSpec {
    RouteSpec::new(Method::Get, path, Access::Signed, "private", summary, to)
        .scope("/v1/queues")
        .params(page_params())
        .param(after_seq_param())
        .reply(200, "A page, newest first", Content::Json(reply))
}

/// Verifies the signature, waits for `after_seq`, then checks the key (see the module's doc).
async fn signed_at(
    req: &HttpRequest,
    state: &AppState,
    after: &AfterSeq,
) -> Result<(String, u64), ApiError> {
    let signed = verify_signature(req, b"", state)?;
    let applied = super::views_at(state, after).await?;
    let actor = check_key(signed, state)?;
    Ok((actor, applied))
}

async fn party(
    req: HttpRequest,
    state: Data<AppState>,
    id: Path<String>,
    after: Query<AfterSeq>,
) -> Result<HttpResponse, ApiError> {
    let id = full_id(IdKind::Party, &id)?;
    let (actor, applied) = signed_at(&req, &state, &after).await?;
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
    req: HttpRequest,
    state: Data<AppState>,
    id: Path<String>,
    page: Query<PageQuery>,
    after: Query<AfterSeq>,
    kind: IdKind,
    relation: Relation,
) -> Result<HttpResponse, ApiError> {
    let owner = full_id(kind, &id)?;
    owned(&req, &state, owner, relation, &page, &after).await
}

async fn owned(
    req: &HttpRequest,
    state: &AppState,
    owner: String,
    relation: Relation,
    page: &PageQuery,
    after: &AfterSeq,
) -> Result<HttpResponse, ApiError> {
    let paging = page.paging()?;
    let (actor, applied) = signed_at(req, state, after).await?;
    if actor != owner {
        return Err(forbidden(&actor));
    }
    let result = state.node.views().owned(&owner, relation, paging)?;
    Ok(view_json(
        applied,
        &result.to_value(paging.limit, paging.offset),
    ))
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
    let owner = full_id(IdKind::Bank, &id)?;
    owned(&req, &state, owner, relation, &page, &after).await
}

async fn queue(
    req: HttpRequest,
    state: Data<AppState>,
    page: Query<PageQuery>,
    after: Query<AfterSeq>,
    queue: &'static str,
) -> Result<HttpResponse, ApiError> {
    let paging = page.paging()?;
    let (actor, applied) = signed_at(&req, &state, &after).await?;
    let allowed =
        actor == ids::HOUSING || (queue != docs::QUEUE_TO_FILE && IdKind::Office.matches(&actor));
    if !allowed {
        return Err(forbidden(&actor));
    }
    let result = state.node.views().queue(queue, paging)?;
    Ok(view_json(
        applied,
        &result.to_value(paging.limit, paging.offset),
    ))
}

/// Who may read a private document.
pub(crate) fn may_read(actor: &str, doc: &Doc) -> bool {
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
    let (actor, applied) = signed_at(&req, &state, &after).await?;
    let doc = state
        .node
        .views()
        .doc(&id)?
        .ok_or_else(|| ApiError::not_found(&id))?;
    if !may_read(&actor, &doc) {
        return Err(forbidden(&actor));
    }
    Ok(view_json(applied, &to_value(&doc)?))
}

/// How many of a principal's newest contracts the scoped reads below look through: a person
/// has a handful of contracts, and the bound keeps one request's work fixed.
const SCOPED_SCAN: usize = deedlog_views::PAGE_LIMIT_MAX;

/// The contracts of `party` (newest first, the newest [`SCOPED_SCAN`]) that `keep` admits,
/// paged as the other lists are.
fn scoped_contracts(
    state: &AppState,
    party: &str,
    paging: deedlog_views::Paging,
    keep: impl Fn(&deedlog_views::docs::ContractDoc) -> Result<bool, ApiError>,
) -> Result<serde_json::Value, ApiError> {
    let views = state.node.views();
    let all = views.owned(
        party,
        Relation::Contracts,
        deedlog_views::Paging {
            offset: 0,
            limit: SCOPED_SCAN,
        },
    )?;
    let mut kept = Vec::new();
    for item in all.items {
        let Some(id) = item.get("id").and_then(|v| v.as_str()) else {
            continue;
        };
        if let Some(Doc::Contract(c)) = views.doc(id)?
            && keep(&c)?
        {
            kept.push(item);
        }
    }
    let next = (paging.offset + paging.limit < kept.len()).then_some(paging.offset + paging.limit);
    let items: Vec<_> = kept
        .into_iter()
        .skip(paging.offset)
        .take(paging.limit)
        .collect();
    Ok(deedlog_views::Page {
        items,
        next_offset: next,
    }
    .to_value(paging.limit, paging.offset))
}

/// `GET /v1/proxies/{PX}/contracts`: what a proxy needs to act for its principal. Only the
/// filing's proxy reads it, only while the filing is verified, unrevoked, unexpired and
/// includes `contract`, and only the principal's contracts on the filing's property: the same
/// bounds the domain holds a `via_proxy` step to, so a proxy sees nothing it could not act on.
async fn proxy_contracts(
    req: HttpRequest,
    state: Data<AppState>,
    id: Path<String>,
    page: Query<PageQuery>,
    after: Query<AfterSeq>,
) -> Result<HttpResponse, ApiError> {
    let id = full_id(IdKind::Proxy, &id)?;
    let paging = page.paging()?;
    let (actor, applied) = signed_at(&req, &state, &after).await?;
    let Some(Doc::Proxy(p)) = state.node.views().doc(&id)? else {
        return Err(ApiError::not_found(&id));
    };
    let covers = p
        .scope
        .as_array()
        .is_some_and(|s| s.iter().any(|a| a == "contract"));
    if p.proxy != actor
        || p.status != "verified"
        || state.node.now_ms() >= p.expires_at_ms
        || !covers
    {
        return Err(forbidden(&actor));
    }
    let answer = scoped_contracts(&state, &p.principal, paging, |c| {
        Ok(c.property == p.property && (c.seller == p.principal || c.buyer == p.principal))
    })?;
    Ok(view_json(applied, &answer))
}

/// `GET /v1/entrustments/{EN}/contracts`: the buyer's contracts its purchase agent may confirm
/// for the buyer. Only the entrustment's agent reads it, only while the purchase entrustment is
/// accepted and unexpired, and only contracts where the principal is the buyer on a listing
/// within the entrustment's districts and budget (the domain's rule for `contract.confirm`
/// with `entrustment`).
async fn entrustment_contracts(
    req: HttpRequest,
    state: Data<AppState>,
    id: Path<String>,
    page: Query<PageQuery>,
    after: Query<AfterSeq>,
) -> Result<HttpResponse, ApiError> {
    let id = full_id(IdKind::Entrustment, &id)?;
    let paging = page.paging()?;
    let (actor, applied) = signed_at(&req, &state, &after).await?;
    let Some(Doc::Entrustment(e)) = state.node.views().doc(&id)? else {
        return Err(ApiError::not_found(&id));
    };
    let purchase = e.terms.get("type").and_then(|t| t.as_str()) == Some("purchase");
    if e.agent != actor
        || !purchase
        || e.status != "accepted"
        || state.node.now_ms() >= e.expires_at_ms
    {
        return Err(forbidden(&actor));
    }
    let budget = e
        .terms
        .get("budget_max_fen")
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(0);
    let districts: Vec<&str> = e
        .terms
        .get("districts")
        .and_then(|d| d.as_array())
        .map(|d| d.iter().filter_map(|x| x.as_str()).collect())
        .unwrap_or_default();
    let views = state.node.views();
    let answer = scoped_contracts(&state, &e.principal, paging, |c| {
        if c.buyer != e.principal {
            return Ok(false);
        }
        let Some(Doc::Listing(l)) = views.doc(&c.listing)? else {
            return Ok(false);
        };
        Ok(l.price_fen <= budget
            && (districts.is_empty() || districts.contains(&l.district.as_str())))
    })?;
    Ok(view_json(applied, &answer))
}
