//! Public listing search, a listing's detail and its price history.

use actix_web::HttpResponse;
use actix_web::web::{Data, Path, Query};
use serde::Deserialize;
use serde_json::json;

use deedlog_domain::ids::IdKind;
use deedlog_views::{Doc, ListingQuery, ListingSort};

use super::{
    Access, AfterSeq, Content, Method, PageQuery, RouteSpec, after_seq_param, doc_ref, full_id,
    id_schema, page_of, page_params, path_param, query, view_json,
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
        .reply(200, "A page of listing summaries", Content::Json(|| page_of(summary_schema()))),
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
        .reply(200, "The listing", Content::Json(public_listing_schema)),
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
            let mut s = page_of(doc_ref("PricePoint"));
            s["required"] = json!(["items", "limit", "offset", "next_offset", "total"]);
            s["properties"]["total"] = json!({"type": "integer"});
            s
        })),
    ]
}

/// The public listing detail: the `ListingDoc` without its private `pending` and `ever_shown`,
/// with only the latest price points and their total count.
pub(crate) fn public_listing_schema() -> serde_json::Value {
    let mut s =
        serde_json::to_value(<deedlog_views::ListingDoc as utoipa::PartialSchema>::schema())
            .unwrap_or(serde_json::Value::Null);
    if let Some(props) = s["properties"].as_object_mut() {
        props.remove("pending");
        props.remove("ever_shown");
        props.insert(
            "price_history".to_owned(),
            json!({"type": "array", "maxItems": deedlog_views::PRICE_HISTORY_LATEST,
                "items": doc_ref("PricePoint"),
                "description": "The latest price points, oldest first (the rest are paged by /price-history)"}),
        );
        props.insert(
            "price_history_total".to_owned(),
            json!({"type": "integer", "minimum": 0, "description": "How many price points there are in all"}),
        );
    }
    if let Some(required) = s["required"].as_array_mut() {
        required.retain(|r| r != "pending" && r != "ever_shown");
        required.push(json!("price_history_total"));
    }
    s
}

/// One search result: the short form of a listing.
fn summary_schema() -> serde_json::Value {
    let int = || json!({"type": "integer"});
    let text = || json!({"type": "string"});
    json!({"type": "object",
        "required": ["id", "code", "status", "price_fen", "area_centi_m2", "rooms", "halls",
            "bathrooms", "floor", "floors_total", "district", "community", "title", "photos",
            "self_listed", "agent", "agency", "published_at_ms", "updated_seq"],
        "properties": {
            "id": text(), "code": text(), "status": text(), "price_fen": int(),
            "area_centi_m2": int(), "rooms": int(), "halls": int(), "bathrooms": int(),
            "floor": int(), "floors_total": int(), "district": text(), "community": text(),
            "title": text(), "photos": {"type": "array", "items": text()},
            "self_listed": {"type": "boolean"},
            "agent": {"type": ["string", "null"], "description": "The agent id, if any"},
            "agency": {"type": ["string", "null"], "description": "The agent's agency id, if any"},
            "published_at_ms": int(), "updated_seq": int()}})
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
