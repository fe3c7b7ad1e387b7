//! The log as a C2SP `tlog-tiles` tree: hash tiles and entry bundles, read by standard
//! transparency-log tools (the checkpoint is `GET /checkpoint`, in the log module).
//!
//! The bytes come from `deedlog_store::tiles` (hash tiles from the stored tlog hashes, bundles
//! of each entry's exact public bytes), the same code `deedlog export --tiles` writes static
//! files with, so the live tree and a static copy are byte for byte the same.

use actix_web::web::{self, Data};
use actix_web::{HttpRequest, HttpResponse};
use serde_json::json;

use deedlog_store::tiles::TileAddr;

use super::{Access, Content, Handler, Method, RouteSpec, path_param};
use crate::AppState;
use crate::error::ApiError;

/// The actix pattern of entry bundles (registered before hash tiles, which would match it too).
const ENTRIES_PATTERN: &str = "/tile/entries/{index:.+}";
/// The actix pattern of hash tiles.
const TILES_PATTERN: &str = "/tile/{level}/{index:.+}";

fn index_schema() -> serde_json::Value {
    // One spelling per index: no leading all-zero group (`x000/…`), as the parser insists.
    json!({"type": "string",
        "pattern": "^(x(00[1-9]|0[1-9][0-9]|[1-9][0-9]{2})/(x[0-9]{3}/)*)?[0-9]{3}(\\.p/[1-9][0-9]{0,2})?$",
        "description": "N in 3-digit groups, all but the last prefixed with x; .p/W for a partial tile"})
}

fn level_schema() -> serde_json::Value {
    json!({"type": "integer", "minimum": 0, "maximum": deedlog_store::tiles::LEVEL_MAX})
}

/// The routes of this module.
pub(crate) fn routes() -> Vec<RouteSpec> {
    let mut entries = RouteSpec::new(
        Method::Get,
        "/tile/entries/{index}",
        Access::Public,
        "log",
        "A tlog-tiles entry bundle: up to 256 entries' exact bytes, each after a big-endian u16 length",
        |r| r,
    )
    .param(path_param("index", index_schema, "The bundle index N, with .p/W when partial"))
    .reply(200, "The entry bundle", Content::Text("application/octet-stream"));
    entries.handler = Handler::Service(
        |cfg| {
            cfg.service(
                web::resource(ENTRIES_PATTERN)
                    .route(web::get().to(entry_bundle))
                    .default_service(web::to(super::fallback)),
            );
        },
        ENTRIES_PATTERN,
    );
    let mut hashes = RouteSpec::new(
        Method::Get,
        "/tile/{level}/{index}",
        Access::Public,
        "log",
        "A tlog-tiles hash tile: up to 256 Merkle tree hashes of level 8·L",
        |r| r,
    )
    .param(path_param("level", level_schema, "The tile level L"))
    .param(path_param(
        "index",
        index_schema,
        "The tile index N, with .p/W when partial",
    ))
    .reply(
        200,
        "The tile, 32 bytes per hash",
        Content::Text("application/octet-stream"),
    );
    hashes.handler = Handler::Service(
        |cfg| {
            cfg.service(
                web::resource(TILES_PATTERN)
                    .route(web::get().to(hash_tile))
                    .default_service(web::to(super::fallback)),
            );
        },
        TILES_PATTERN,
    );
    vec![entries, hashes]
}

fn tile_answer(state: &AppState, rest: &str) -> Result<HttpResponse, ApiError> {
    // The index's groups are separated by `/`; a client that percent-encodes the parameter as a
    // whole (as OpenAPI path parameters are) sends `%2F`, which actix leaves encoded. Both
    // spellings name the same tile; anything else stays refused by the strict parser.
    let rest = rest.replace("%2F", "/").replace("%2f", "/");
    let addr = TileAddr::parse(&rest)
        .map_err(|e| ApiError::bad_request("request.bad_path", e.to_string()))?;
    let full = addr.width == 256;
    let cached = if full { state.tiles.get(&rest) } else { None };
    let bytes = match cached {
        Some(bytes) => bytes,
        None => {
            let bytes = web::Bytes::from(state.node.reader().tile(&addr).map_err(|e| match e {
                deedlog_store::StoreError::OutOfRange(m) => ApiError::new(404, "tile.not_found", m),
                other => ApiError::from(other),
            })?);
            if full {
                state.tiles.put(rest, bytes.clone());
            }
            bytes
        }
    };
    // A tile's bytes never change once it exists (a partial tile of width W is the same W
    // hashes forever), so it may be cached for as long as a cache likes.
    Ok(HttpResponse::Ok()
        .content_type("application/octet-stream")
        .insert_header(("cache-control", "public, max-age=31536000, immutable"))
        .body(bytes))
}

async fn entry_bundle(state: Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let index = req.match_info().get("index").unwrap_or_default();
    tile_answer(&state, &format!("entries/{index}"))
}

async fn hash_tile(state: Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let level = req.match_info().get("level").unwrap_or_default();
    let index = req.match_info().get("index").unwrap_or_default();
    tile_answer(&state, &format!("{level}/{index}"))
}

/// Full tiles already served, by their path: a full tile's bytes never change, so the cache never
/// needs emptying, only bounding. Each read would otherwise gather 256 hashes or 256 entries from
/// the store again. Partial tiles are not kept: they are superseded as the log grows.
#[derive(Debug)]
pub(crate) struct TileCache {
    inner: std::sync::Mutex<TileCacheInner>,
    bytes_max: usize,
}

#[derive(Debug, Default)]
struct TileCacheInner {
    tiles: std::collections::HashMap<String, web::Bytes>,
    /// Insertion order, for eviction (oldest first): tiles are read mostly in order by
    /// auditors and mirrors, so first-in first-out is close to least-recently-used here.
    order: std::collections::VecDeque<String>,
    bytes: usize,
}

impl TileCache {
    /// A cache holding at most `bytes_max` bytes of tiles.
    pub(crate) fn new(bytes_max: usize) -> Self {
        Self {
            inner: std::sync::Mutex::default(),
            bytes_max,
        }
    }

    fn get(&self, path: &str) -> Option<web::Bytes> {
        self.inner.lock().ok()?.tiles.get(path).cloned()
    }

    fn put(&self, path: String, bytes: web::Bytes) {
        if bytes.len() > self.bytes_max {
            return;
        }
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        if inner.tiles.contains_key(&path) {
            return;
        }
        while inner.bytes + bytes.len() > self.bytes_max {
            let Some(oldest) = inner.order.pop_front() else {
                break;
            };
            if let Some(b) = inner.tiles.remove(&oldest) {
                inner.bytes -= b.len();
            }
        }
        inner.bytes += bytes.len();
        inner.order.push_back(path.clone());
        inner.tiles.insert(path, bytes);
    }

    /// Tiles held, and their bytes.
    #[cfg(test)]
    fn held(&self) -> (usize, usize) {
        self.inner
            .lock()
            .map(|i| (i.tiles.len(), i.bytes))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tile_cache_stays_within_its_bytes_evicting_the_oldest() {
        let cache = TileCache::new(10);
        cache.put("a".into(), web::Bytes::from_static(b"1234"));
        cache.put("b".into(), web::Bytes::from_static(b"5678"));
        assert_eq!(cache.held(), (2, 8));
        cache.put("c".into(), web::Bytes::from_static(b"90ab"));
        assert_eq!(cache.held(), (2, 8));
        assert!(cache.get("a").is_none());
        assert_eq!(cache.get("c").as_deref(), Some(&b"90ab"[..]));
        // Larger than the whole budget: not kept, nothing evicted for it.
        cache.put("d".into(), web::Bytes::from_static(b"0123456789ab"));
        assert_eq!(cache.held(), (2, 8));
        // The same path twice is counted once.
        cache.put("c".into(), web::Bytes::from_static(b"90ab"));
        assert_eq!(cache.held(), (2, 8));
    }
}
