//! The public directory: agencies, agents by rating, filing offices, banks, actors' keys.

use actix_web::HttpResponse;
use actix_web::web::{Data, Path, Query};
use serde::Deserialize;
use serde_json::json;

use deedlog_domain::ids::{self, IdKind};

use super::{
    Access, AfterSeq, Content, Method, PageQuery, RouteSpec, after_seq_param, doc_ref, full_id,
    id_schema, items_of, page_of, page_params, path_param, query, query_required, to_value,
    view_json,
};
use crate::AppState;
use crate::error::ApiError;

fn district() -> super::Param {
    query(
        "district",
        || json!({"type": "string", "maxLength": super::listings::DISTRICT_MAX}),
        "District (区), exact",
    )
}

/// The routes of this module.
pub(crate) fn routes() -> Vec<RouteSpec> {
    vec![
        RouteSpec::new(Method::Get, "/v1/agencies", Access::Public, "directory", "Certified agencies", |r| r.to(agencies))
            .scope("/v1/agencies")
            .param(district())
            .param(after_seq_param())
            .reply(200, "Agencies by id", Content::Json(|| items_of(doc_ref("AgencyDoc")))),
        RouteSpec::new(Method::Get, "/v1/agencies/{AG}", Access::Public, "directory", "One agency", |r| r.to(agency))
            .scope("/v1/agencies")
            .param(path_param("AG", || id_schema(IdKind::Agency), "The agency id after `agency/`"))
            .param(after_seq_param())
            .reply(200, "The agency", Content::Json(|| doc_ref("AgencyDoc"))),
        RouteSpec::new(Method::Get, "/v1/agents", Access::Public, "directory", "Agents by rating, best first", |r| r.to(agents))
            .scope("/v1/agents")
            .param(query("agency", || id_schema(IdKind::Agency), "Only this agency's agents (id after `agency/`)"))
            .params(page_params())
            .param(after_seq_param())
            .reply(200, "A page of rated agents", Content::Json(|| page_of(doc_ref("AgentDoc")))),
        RouteSpec::new(Method::Get, "/v1/agents/{AT}", Access::Public, "directory", "One agent", |r| r.to(agent))
            .scope("/v1/agents")
            .param(path_param("AT", || id_schema(IdKind::Agent), "The agent id after `agent/`"))
            .param(after_seq_param())
            .reply(200, "The agent", Content::Json(|| doc_ref("AgentDoc"))),
        RouteSpec::new(Method::Get, "/v1/offices", Access::Public, "directory", "Filing offices", |r| r.to(offices))
            .param(district())
            .param(after_seq_param())
            .reply(200, "Filing offices by id", Content::Json(|| items_of(doc_ref("OfficeDoc")))),
        RouteSpec::new(Method::Get, "/v1/banks", Access::Public, "directory", "Banks", |r| r.to(banks))
            .scope("/v1/banks")
            .param(after_seq_param())
            .reply(200, "Banks by id", Content::Json(|| items_of(doc_ref("BankDoc")))),
        RouteSpec::new(Method::Get, "/v1/actors/key", Access::Public, "directory", "An actor's current public key", |r| r.to(actor_key))
            .param(query_required(
                "actor",
                || json!({"type": "string", "maxLength": 80,
                    "pattern": "^((party/PA|agent/AT|bank/BK|office/OF)-[A-Za-z0-9-]{1,64}|authority/(housing|identity|registry)|platform)$"}),
                "The actor id, e.g. party/PA-7",
            ))
            .param(after_seq_param())
            .reply(200, "The key", Content::Json(|| doc_ref("KeyDoc"))),
    ]
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
    if district.is_some_and(|d| d.chars().count() > super::listings::DISTRICT_MAX) {
        return Err(ApiError::bad_request(
            "request.bad_query",
            "district is too long",
        ));
    }
    let applied = super::views_at(state, after).await?;
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
    let id = full_id(kind, suffix)?;
    let applied = super::views_at(state, after).await?;
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
    let paging = page.paging()?;
    let agency = q
        .agency
        .as_deref()
        .map(|a| full_id(IdKind::Agency, a))
        .transpose()?;
    let applied = super::views_at(&state, &after).await?;
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
    if q.actor.len() > 80 || ids::actor_kind(&q.actor).is_none() {
        return Err(ApiError::bad_request(
            "request.bad_query",
            "actor is not an actor id",
        ));
    }
    let applied = super::views_at(&state, &after).await?;
    let key = state
        .node
        .views()
        .actor_key(&q.actor)?
        .ok_or_else(|| ApiError::not_found(&q.actor))?;
    Ok(view_json(applied, &to_value(&key)?))
}
