//! Operations: liveness, readiness, metrics, the OpenAPI document and the Swagger UI.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::web::{self, Data};
use serde_json::json;

use super::{Access, Content, Handler, Method, RouteSpec, body_json};
use crate::AppState;

/// The routes served before all others (the cheapest and most called).
pub(crate) fn hot_routes() -> Vec<RouteSpec> {
    vec![
        RouteSpec::new(
            Method::Get,
            "/v1/ping",
            Access::Public,
            "operations",
            "A static 300-byte JSON answer: the raw HTTP ceiling for benchmarks",
            |r| r.to(ping),
        )
        .reply(
            200,
            "A fixed body",
            Content::Json(|| json!({"type": "object", "required": ["service"]})),
        ),
        RouteSpec::new(
            Method::Get,
            "/healthz",
            Access::Public,
            "operations",
            "Liveness",
            |r| r.to(healthz),
        )
        .reply(
            200,
            "Serving",
            Content::Json(|| {
                json!({"type": "object", "required": ["status"],
                "properties": {"status": {"const": "ok"}}})
            }),
        ),
    ]
}

fn readiness_schema() -> serde_json::Value {
    json!({"type": "object", "required": ["ready", "log_size", "views_applied"], "properties": {
        "ready": {"type": "boolean"}, "log_size": {"type": "integer"}, "views_applied": {"type": "integer"}}})
}

/// The other operations routes.
pub(crate) fn routes() -> Vec<RouteSpec> {
    let mut swagger = RouteSpec::new(
        Method::Get,
        "/swagger-ui/",
        Access::Public,
        "operations",
        "Swagger UI",
        |r| r,
    )
    .reply(200, "The Swagger UI page", Content::Text("text/html"));
    swagger.handler = Handler::Service(
        |cfg| {
            cfg.service(
                utoipa_swagger_ui::SwaggerUi::new("/swagger-ui/{_:.*}")
                    .config(utoipa_swagger_ui::Config::from("/openapi.json")),
            );
        },
        "/swagger-ui/{_:.*}",
    );
    vec![
        RouteSpec::new(
            Method::Get,
            "/readyz",
            Access::Public,
            "operations",
            "Readiness",
            |r| r.to(readyz),
        )
        .reply(200, "Ready", Content::Json(readiness_schema))
        .reply(
            503,
            "Not ready (no entry yet, or the views lag)",
            Content::Json(readiness_schema),
        ),
        RouteSpec::new(
            Method::Get,
            "/metrics",
            Access::Public,
            "operations",
            "Prometheus metrics",
            |r| r.to(metrics),
        )
        .reply(
            200,
            "Prometheus text exposition",
            Content::Text("text/plain; version=0.0.4"),
        ),
        RouteSpec::new(
            Method::Get,
            "/openapi.json",
            Access::Public,
            "operations",
            "This API's OpenAPI document",
            |r| r.to(openapi),
        )
        .reply(
            200,
            "OpenAPI 3.1",
            Content::Json(|| json!({"type": "object", "required": ["openapi", "paths"]})),
        ),
        swagger,
    ]
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
        .content_type(crate::metrics::Metrics::content_type())
        .body(
            state
                .metrics
                .render(state.node.reader().size(), state.node.views().applied()),
        )
}

async fn openapi() -> HttpResponse {
    static DOC: std::sync::LazyLock<web::Bytes> = std::sync::LazyLock::new(|| {
        web::Bytes::from(serde_json::to_vec(&crate::openapi::document()).unwrap_or_default())
    });
    HttpResponse::Ok()
        .content_type("application/json")
        .body(DOC.clone())
}
