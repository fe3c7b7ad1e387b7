//! The API's one error type: a status, a stable code, a human message and details, rendered as
//! `{"code", "message", "details"}`. Internal failures are logged and answered without their
//! details.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::{Value, json};

use deedlog_node::NodeError;
use deedlog_store::{Rejection, RejectionClass, StoreError};
use deedlog_views::ViewError;

/// An error answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{status} {code}: {message}")]
pub struct ApiError {
    /// The HTTP status.
    pub status: u16,
    /// The stable code.
    pub code: String,
    /// A human message.
    pub message: String,
    /// Machine-readable details (an object).
    pub details: Value,
    /// Seconds to put in `Retry-After`, when rate limited.
    pub retry_after_s: Option<u64>,
}

impl ApiError {
    /// An error with no details.
    #[must_use]
    pub fn new(status: u16, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.to_owned(),
            message: message.into(),
            details: json!({}),
            retry_after_s: None,
        }
    }

    /// Adds details.
    #[must_use]
    pub fn with_details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }

    /// 400 `request.bad_query` (and friends).
    #[must_use]
    pub fn bad_request(code: &str, message: impl Into<String>) -> Self {
        Self::new(400, code, message)
    }

    /// 404 `view.not_found`.
    #[must_use]
    pub fn not_found(what: &str) -> Self {
        Self::new(404, "view.not_found", format!("{what} was not found"))
    }

    /// 500 `internal`; the cause is logged, not returned.
    #[must_use]
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(%cause, "internal error");
        Self::new(500, "internal", "the server failed; the error was logged")
    }
}

/// The HTTP status of a rejection class (the core's one mapping).
#[must_use]
pub fn status_of(class: RejectionClass) -> u16 {
    class.http_status()
}

/// Seconds a client is told to wait after `503 ledger.busy`.
pub const BUSY_RETRY_AFTER_S: u64 = 1;

/// `503 ledger.busy` with `Retry-After`: the one back-pressure answer of every write path.
#[must_use]
pub fn busy() -> ApiError {
    let mut e = ApiError::new(
        503,
        "ledger.busy",
        "the ledger is at capacity; retry shortly",
    );
    e.retry_after_s = Some(BUSY_RETRY_AFTER_S);
    e
}

/// How often an unavailable ledger's refusals are logged at most: while the disk stays full every
/// command is refused, and one line per request would bury everything else in the log.
const UNAVAILABLE_LOG_EVERY_MS: u64 = 10_000;

/// Logs an unavailable ledger's refusal for the operator, at most once per
/// [`UNAVAILABLE_LOG_EVERY_MS`], with how many refusals were not logged since the last line.
fn log_unavailable(r: &Rejection) {
    use std::sync::atomic::{AtomicU64, Ordering};
    static LAST_MS: AtomicU64 = AtomicU64::new(0);
    static SUPPRESSED: AtomicU64 = AtomicU64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let last = LAST_MS.load(Ordering::Relaxed);
    if now.saturating_sub(last) >= UNAVAILABLE_LOG_EVERY_MS
        && LAST_MS
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        let suppressed = SUPPRESSED.swap(0, Ordering::Relaxed);
        tracing::error!(code = %r.code, message = %r.message, suppressed, "unavailable");
    } else {
        SUPPRESSED.fetch_add(1, Ordering::Relaxed);
    }
}

impl From<Rejection> for ApiError {
    fn from(r: Rejection) -> Self {
        let status = status_of(r.class);
        if r.code == "ledger.busy" {
            return busy();
        }
        if status >= 500 {
            // An unavailable ledger's message can carry the storage failure (file paths, OS
            // errors): that is logged for the operator and never sent to a caller.
            log_unavailable(&r);
            let message = if r.code == deedlog_core::decide::codes::STORAGE_FULL.code {
                "the ledger's storage is full: nothing was appended; retry later: the node takes \
                 commands again by itself once space is freed"
            } else {
                "the ledger is unavailable; the cause was logged; retry later"
            };
            let mut e = Self::new(status, r.code, message);
            e.retry_after_s = Some(BUSY_RETRY_AFTER_S);
            return e;
        }
        Self {
            status,
            code: r.code.to_owned(),
            message: r.message,
            details: if r.details.is_object() {
                r.details
            } else {
                json!({})
            },
            retry_after_s: None,
        }
    }
}

impl From<ViewError> for ApiError {
    fn from(e: ViewError) -> Self {
        Self::internal(&e)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::OutOfRange(m) => Self::new(404, "log.out_of_range", m),
            other => Self::internal(&other),
        }
    }
}

impl From<NodeError> for ApiError {
    fn from(e: NodeError) -> Self {
        match e {
            NodeError::Rejected(r) => r.into(),
            other => Self::internal(&other),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let mut builder = HttpResponse::build(self.status_code());
        if let Some(s) = self.retry_after_s {
            builder.insert_header(("retry-after", s.to_string()));
        }
        builder.json(json!({"code": self.code, "message": self.message, "details": self.details}))
    }
}
