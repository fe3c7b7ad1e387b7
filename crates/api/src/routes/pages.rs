//! The public web pages: static files built into the binary (`web/public/`), served at `/` and
//! `/assets/{file}`.
//!
//! The pages are plain ES modules that call the JSON API of this server and check its proof
//! bundles themselves (`web/public/verify.js`); nothing is fetched from another host, which the
//! Content-Security-Policy below also enforces in the browser. The files are embedded with
//! `include_bytes!` so that `deedlog serve` works from any working folder and the code a browser
//! runs is exactly the code of this build.

use std::sync::LazyLock;

use actix_web::http::header::{self, HeaderValue};
use actix_web::web::Path;
use actix_web::{HttpRequest, HttpResponse};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{Access, Content, Method, RouteSpec, path_param};
use crate::error::ApiError;

/// The policy every page answer carries: scripts, styles, images, fonts and requests only from
/// this server; no plugins, no framing (against click-jacking a green badge), no `<base>`
/// rewriting, forms only to this server. Inline scripts and styles are refused, so an injected
/// string can never run.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
     frame-ancestors 'none'; form-action 'self'";

/// Longest asset name asked for; longer names are unknown without a lookup.
pub const ASSET_NAME_MAX: usize = 64;

macro_rules! asset {
    ($name:literal, $type:literal) => {
        (
            $name,
            $type,
            include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../web/public/",
                $name
            ))
            .as_slice(),
        )
    };
}

/// Every file of `web/public/`: name, content type, bytes.
pub const ASSETS: &[(&str, &str, &[u8])] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("app.css", "text/css; charset=utf-8"),
    asset!("app.js", "text/javascript; charset=utf-8"),
    asset!("i18n.js", "text/javascript; charset=utf-8"),
    asset!("verify.js", "text/javascript; charset=utf-8"),
    asset!("state.js", "text/javascript; charset=utf-8"),
    asset!("codes.js", "text/javascript; charset=utf-8"),
    asset!("canonical.js", "text/javascript; charset=utf-8"),
    asset!("crypto.js", "text/javascript; charset=utf-8"),
    asset!("pin.js", "text/javascript; charset=utf-8"),
    asset!("noble-ed25519.js", "text/javascript; charset=utf-8"),
    asset!("uqr.js", "text/javascript; charset=utf-8"),
    asset!("keys.js", "text/javascript; charset=utf-8"),
    asset!("sign.js", "text/javascript; charset=utf-8"),
    asset!("me.js", "text/javascript; charset=utf-8"),
    asset!("recover.js", "text/javascript; charset=utf-8"),
    asset!("dom.js", "text/javascript; charset=utf-8"),
    asset!("session.js", "text/javascript; charset=utf-8"),
    asset!("engine.js", "text/javascript; charset=utf-8"),
    asset!("roles.js", "text/javascript; charset=utf-8"),
    asset!("messages.js", "text/javascript; charset=utf-8"),
    asset!("demosms.js", "text/javascript; charset=utf-8"),
    asset!("favicon.svg", "image/svg+xml"),
];

/// One embedded file with its entity tag.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
    /// A quoted hash of the bytes, so that a new build changes it.
    etag: String,
}

/// The assets with their entity tags, computed once.
fn assets() -> &'static [Asset] {
    static TAGGED: LazyLock<Vec<Asset>> = LazyLock::new(|| {
        ASSETS
            .iter()
            .map(|(name, content_type, bytes)| {
                let digest = Sha256::digest(bytes);
                Asset {
                    name,
                    content_type,
                    bytes,
                    etag: format!("\"{}\"", hex::encode(&digest[..16])),
                }
            })
            .collect()
    });
    &TAGGED
}

/// The routes of this module.
pub(crate) fn routes() -> Vec<RouteSpec> {
    vec![
        RouteSpec::new(
            Method::Get,
            "/",
            Access::Public,
            "pages",
            "The public web pages (listing search, verification, directory, log)",
            |r| r.to(index),
        )
        .reply(200, "The page", Content::Text("text/html; charset=utf-8")),
        RouteSpec::new(
            Method::Get,
            "/assets/{file}",
            Access::Public,
            "pages",
            "A script, style sheet or image of the pages",
            |r| r.to(asset),
        )
        .param(path_param(
            "file",
            || json!({"type": "string", "pattern": "^[a-z0-9.-]{1,64}$"}),
            "The file name, e.g. `app.js`",
        ))
        .reply(
            200,
            "The file (JavaScript, CSS or SVG by its name)",
            Content::Text("text/javascript; charset=utf-8"),
        ),
    ]
}

async fn index(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    serve_file(&req, "index.html")
}

async fn asset(req: HttpRequest, file: Path<String>) -> Result<HttpResponse, ApiError> {
    // The page itself is served at `/` only, so that there is one address for it.
    if file.len() > ASSET_NAME_MAX || file.as_str() == "index.html" {
        return Err(ApiError::not_found("that asset"));
    }
    serve_file(&req, &file)
}

fn serve_file(req: &HttpRequest, name: &str) -> Result<HttpResponse, ApiError> {
    let Some(Asset {
        content_type,
        bytes,
        etag,
        ..
    }) = assets().iter().find(|a| a.name == name)
    else {
        return Err(ApiError::not_found(&format!("asset {name}")));
    };
    let fresh = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut res = if fresh {
        HttpResponse::NotModified().finish()
    } else {
        HttpResponse::Ok().content_type(*content_type).body(*bytes)
    };
    let h = res.headers_mut();
    // `no-cache`: the browser keeps the file but asks again each time (a cheap 304), so that a
    // new build's verifier code, and its pinned key, reach every visitor at once.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_of_web_public_is_served_and_nothing_else() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web/public");
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        on_disk.sort();
        let mut served: Vec<String> = ASSETS.iter().map(|(n, ..)| (*n).to_owned()).collect();
        served.sort();
        assert_eq!(on_disk, served);
        for (name, ..) in ASSETS {
            assert!(name.len() <= ASSET_NAME_MAX);
            assert!(
                name.bytes().all(|b| b.is_ascii_lowercase()
                    || b.is_ascii_digit()
                    || b == b'.'
                    || b == b'-'),
                "{name} fits the documented pattern"
            );
        }
    }
}
