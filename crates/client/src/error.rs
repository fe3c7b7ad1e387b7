//! The client's one error type: what went wrong calling the server or checking its answers.

use serde_json::Value;

use deedlog_core::bundle::BundleError;
use deedlog_core::command::CommandError;

/// Why a client call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The server URL is not a plain `http://host:port` URL.
    #[error("bad server URL `{url}`: {reason}")]
    BadUrl {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The server could not be reached, or the connection broke (after the retries the
    /// client's policy allows).
    #[error("transport: {0}")]
    Transport(String),
    /// The server refused the request with its JSON error `{code, message, details}`.
    #[error("{status} {code}: {message}")]
    Rejected {
        /// The HTTP status.
        status: u16,
        /// The stable error code, e.g. `listing.status`.
        code: String,
        /// The human message.
        message: String,
        /// Machine-readable details (may be `null`).
        details: Value,
    },
    /// The server answered with a status and a body that is not the JSON error shape.
    #[error("HTTP {status}: {body}")]
    Http {
        /// The HTTP status.
        status: u16,
        /// The first bytes of the body.
        body: String,
    },
    /// A successful answer did not have the expected shape.
    #[error("unexpected answer from {path}: {reason}")]
    BadResponse {
        /// The route called.
        path: String,
        /// What was wrong.
        reason: String,
    },
    /// The command could not be built or signed (malformed field, wrong key).
    #[error("command: {0}")]
    Command(#[from] CommandError),
    /// A proof bundle from the server did not verify on the client side.
    #[error("proof bundle: {0}")]
    Bundle(#[from] BundleError),
    /// A proof (consistency, inclusion) or checkpoint from the server did not verify.
    #[error("proof: {0}")]
    Proof(String),
    /// Every proof verified, but the proved entries do not back the answer: they did not issue
    /// the code asked for, lie on another stream, or disagree with a field the answer shows.
    #[error("the proofs do not back the answer: {0}")]
    Binding(String),
    /// A key file is missing or malformed.
    #[error("key file {path}: {reason}")]
    KeyFile {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// Reference data (citizens, properties) could not be read.
    #[error("reference data: {0}")]
    Reference(String),
    /// A bound the caller set was reached (a wait that timed out, a target that is not loopback).
    #[error("{0}")]
    Limit(String),
}

impl ClientError {
    /// The stable error code when the server refused the request.
    #[must_use]
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Rejected { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The HTTP status when the server answered with an error.
    #[must_use]
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Rejected { status, .. } | Self::Http { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether the server refused with this code.
    #[must_use]
    pub fn is(&self, code: &str) -> bool {
        self.code() == Some(code)
    }
}
