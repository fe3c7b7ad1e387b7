//! Public listing search, a listing's detail and its price history.

use actix_web::HttpResponse;
use actix_web::web::{Data, Path, Query};
use serde::Deserialize;
use serde_json::json;

use deedlog_domain::ids::IdKind;
use deedlog_views::{Doc, ListingQuery, ListingSort};

use super::{
    Access, AfterSeq, Content, Method, PageQuery, RouteSpec, after_seq_param, full_id, id_schema,
    page_params, page_schema, path_param, query, view_json,
};
use crate::AppState;
use crate::error::ApiError;

/// Longest `district` filter, characters.
pub const DISTRICT_MAX: usize = 64;

fn district_schema() -> serde_json::Value {
    json!({"type": "string", "maxLength": DISTRICT_MAX})
}

fn u64_q() -> serde_json::Value {
    super::u64_schema()
}

/// The routes of this module.
pub(crate) fn routes() -> Vec<RouteSpec> {
    vec![
        RouteSpec::new(
            Method::Get,
            "/v1/listings",
            Access::Public,
            "listings",
            "Search active listings",
            |r| r.to(listings),
        )
        .scope("/v1/listings")
        .param(query("district", district_schema, "District (区), exact"))
        .param(query("price_min_fen", u64_q, "Lowest price, fen"))
        .param(query("price_max_fen", u64_q, "Highest price, fen"))
        .param(query("area_min_centi_m2", u64_q, "Smallest area, hundredths of a m²"))
        .param(query("area_max_centi_m2", u64_q, "Largest area, hundredths of a m²"))
        .param(query(
            "rooms",
            || json!({"type": "integer", "minimum": 0, "maximum": 255}),
            "Rooms, exact",
        ))
        .param(query(
            "sort",
            || json!({"type": "string", "enum": ["newest", "oldest", "price_asc", "price_desc", "area_asc", "area_desc"]}),
            "Order (default newest)",
        ))
        .params(page_params())
        .param(after_seq_param())
        .reply(200, "A page of listing summaries", Content::Json(page_schema)),
        RouteSpec::new(
            Method::Get,
            "/v1/listings/{LS}",
            Access::Public,
            "listings",
            "A listing's current approved version",
            |r| r.to(listing),
        )
        .scope("/v1/listings")
        .param(path_param("LS", || id_schema(IdKind::Listing), "The listing id after `listing/`"))
        .param(after_seq_param())
        .reply(200, "The listing", Content::Json(listing_schema)),
        RouteSpec::new(
            Method::Get,
            "/v1/listings/{LS}/price-history",
            Access::Public,
            "listings",
            "Every price a listing showed, paged, oldest first",
            |r| r.to(price_history),
        )
        .scope("/v1/listings")
        .param(path_param("LS", || id_schema(IdKind::Listing), "The listing id after `listing/`"))
        .params(page_params())
        .param(after_seq_param())
        .reply(200, "A page of price points", Content::Json(|| {
            let mut s = page_schema();
            s["required"] = json!(["items", "limit", "offset", "next_offset", "total"]);
            s["properties"]["total"] = json!({"type": "integer"});
            s
        })),
    ]
}

fn listing_schema() -> serde_json::Value {
    json!({"type": "object", "required": ["id", "code", "status", "price_fen", "price_history", "price_history_total"],
        "properties": {"id": {"type": "string"}, "code": {"type": "string"}, "status": {"type": "string"},
            "price_fen": {"type": "integer"}, "price_history": {"type": "array", "maxItems": deedlog_views::PRICE_HISTORY_LATEST,
            "items": {"type": "object", "required": ["seq", "price_fen", "recorded_at_ms", "signer", "kind"]}},
            "price_history_total": {"type": "integer"}}})
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
    if q.district
        .as_ref()
        .is_some_and(|d| d.chars().count() > DISTRICT_MAX)
    {
        return Err(ApiError::bad_request(
            "request.bad_query",
            "district is too long",
        ));
    }
    let applied = super::views_at(&state, &after).await?;
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
    let id = full_id(IdKind::Listing, &id)?;
    let applied = super::views_at(&state, &after).await?;
    let doc = state
        .node
        .views()
        .public_listing(&id)?
        .ok_or_else(|| ApiError::not_found(&id))?;
    Ok(view_json(applied, &doc))
}

async fn price_history(
    state: Data<AppState>,
    id: Path<String>,
    page: Query<PageQuery>,
    after: Query<AfterSeq>,
) -> Result<HttpResponse, ApiError> {
    let id = full_id(IdKind::Listing, &id)?;
    let paging = page.paging()?;
    let applied = super::views_at(&state, &after).await?;
    let Some(Doc::Listing(doc)) = state.node.views().doc(&id)? else {
        return Err(ApiError::not_found(&id));
    };
    if !doc.ever_shown {
        return Err(ApiError::not_found(&id));
    }
    Ok(view_json(
        applied,
        &deedlog_views::price_history_page(&doc, paging),
    ))
}
