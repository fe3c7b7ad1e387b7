//! The OpenAPI document, built from the route table ([`crate::routes::ROUTES`]) so that it
//! cannot miss a route. Shapes are described in `docs/API.md`; the document names every route,
//! its parameters' places, who may call it, and the error object.

use utoipa::openapi::path::{
    HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn, PathItem,
};
use utoipa::openapi::{
    ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, PathsBuilder, Required, ResponseBuilder,
};

use crate::routes::{Access, ROUTES};

/// The OpenAPI document of this API.
#[must_use]
pub fn document() -> OpenApi {
    let mut paths = PathsBuilder::new();
    for route in ROUTES {
        let method = if route.method == "POST" {
            HttpMethod::Post
        } else {
            HttpMethod::Get
        };
        let auth = match route.access {
            Access::Public => "Public.",
            Access::Signed => {
                "Signed request: x-deedlog-actor, x-deedlog-key, x-deedlog-timestamp, x-deedlog-signature (see docs/API.md)."
            }
            Access::Command => "Body: a SignedCommand (see docs/FORMAT.md and docs/EVENTS.md).",
        };
        let mut op = OperationBuilder::new()
            .tag(route.tag)
            .summary(Some(route.summary))
            .description(Some(auth))
            .response(
                "200",
                ResponseBuilder::new()
                    .description("Success (201 for a new entry)")
                    .content("application/json", ContentBuilder::new().build())
                    .build(),
            )
            .response(
                "default",
                ResponseBuilder::new()
                    .description("Error: {\"code\", \"message\", \"details\"} with a stable code (docs/API.md)")
                    .content("application/json", ContentBuilder::new().build())
                    .build(),
            );
        for segment in route.path.split('/') {
            if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                op = op.parameter(
                    ParameterBuilder::new()
                        .name(name)
                        .parameter_in(ParameterIn::Path)
                        .required(Required::True)
                        .build(),
                );
            }
        }
        paths = paths.path(route.path, PathItem::new(method, op.build()));
    }
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("deedlog")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some("A verifiable, event-sourced ledger for a city's resale-housing transaction platform. See docs/API.md."))
                .build(),
        )
        .paths(paths.build())
        .build()
}
