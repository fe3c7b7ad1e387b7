//! `POST /add-checkpoint` over HTTP (C2SP tlog-witness v1), with the spec's status codes and
//! plain-text answers.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use actix_web::http::StatusCode;
use actix_web::{App, HttpResponse, HttpServer, web};

use crate::{AddError, REQUEST_BYTES_MAX, Witness};

/// The content type of a 409 answer's body (the witness's size and a newline).
pub const SIZE_CONTENT_TYPE: &str = "text/x.tlog.size";
const TEXT: &str = "text/plain; charset=utf-8";

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The answer to one request body.
#[must_use]
pub fn answer(witness: &Witness, body: &[u8]) -> HttpResponse {
    respond(witness.add_checkpoint(body, now_secs()))
}

fn respond(result: Result<String, AddError>) -> HttpResponse {
    match result {
        Ok(line) => HttpResponse::Ok().content_type(TEXT).body(line),
        Err(AddError::Conflict { held }) => HttpResponse::Conflict()
            .content_type(SIZE_CONTENT_TYPE)
            .body(format!("{held}\n")),
        Err(e @ AddError::Storage(_)) => {
            // The cause may name paths of the witness's machine: it is logged, not sent.
            tracing::error!(error = %e, "witness state not stored; nothing cosigned");
            HttpResponse::InternalServerError()
                .content_type(TEXT)
                .body("the witness could not store its state; nothing was cosigned\n")
        }
        Err(e) => {
            HttpResponse::build(StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST))
                .content_type(TEXT)
                .body(format!("{e}\n"))
        }
    }
}

async fn add_checkpoint(witness: web::Data<Arc<Witness>>, payload: web::Payload) -> HttpResponse {
    // Read at most the limit, whatever Content-Length claims, and answer in plain text.
    let body = match payload.to_bytes_limited(REQUEST_BYTES_MAX).await {
        Ok(Ok(body)) => body,
        Ok(Err(_)) => {
            return HttpResponse::BadRequest()
                .content_type(TEXT)
                .body("the request body could not be read\n");
        }
        Err(_) => return too_large(),
    };
    let witness = witness.get_ref().clone();
    // The handler syncs files: it runs on the blocking pool, not on the connection's thread.
    match web::block(move || witness.add_checkpoint(&body, now_secs())).await {
        Ok(result) => respond(result),
        Err(_) => HttpResponse::InternalServerError()
            .content_type(TEXT)
            .body("the witness failed; nothing was cosigned\n"),
    }
}

fn too_large() -> HttpResponse {
    HttpResponse::PayloadTooLarge()
        .content_type(TEXT)
        .body(format!(
            "the body must be at most {REQUEST_BYTES_MAX} bytes\n"
        ))
}

/// Adds the witness's route to an actix-web service configuration.
pub fn configure(witness: Arc<Witness>) -> impl Fn(&mut web::ServiceConfig) + Clone {
    move |cfg: &mut web::ServiceConfig| {
        cfg.app_data(web::Data::new(witness.clone()))
            .route("/add-checkpoint", web::post().to(add_checkpoint))
            .default_service(web::to(|| async {
                HttpResponse::NotFound()
                    .content_type(TEXT)
                    .body("this witness serves POST /add-checkpoint only\n")
            }));
    }
}

/// Serves the witness on `bind` until the process is stopped.
///
/// # Errors
/// When the address cannot be bound.
pub async fn serve(witness: Arc<Witness>, bind: &str) -> std::io::Result<()> {
    let configure = configure(witness);
    HttpServer::new(move || App::new().configure(configure.clone()))
        .workers(2)
        .bind(bind)?
        .run()
        .await
}
