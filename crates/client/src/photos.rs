//! Listing photos: the upload (`POST /v1/photos`).

use sha2::{Digest as _, Sha256};

use crate::actor::{Actor, now_ms};
use crate::client::{Client, request_headers};
use crate::error::ClientError;

impl Client {
    /// Uploads a photo (JPEG, PNG or WebP, at most 4 MiB) as `actor` and answers its SHA-256,
    /// after checking that the server names the same hash as the bytes sent. Uploading the same
    /// bytes again is harmless.
    ///
    /// # Errors
    /// `400 photo.not_an_image`, `409 photo.quota_full`, `413 request.too_large`, transport
    /// errors, and [`ClientError::Limit`] if the server answers another hash.
    pub fn upload_photo(&self, actor: &Actor, bytes: &[u8]) -> Result<String, ClientError> {
        let path = "/v1/photos";
        let headers = request_headers(actor, "POST", path, bytes, now_ms());
        let answer = self
            .http()
            .call(
                "POST",
                path,
                &headers,
                Some(("application/octet-stream", bytes)),
            )?
            .json(path)?;
        let expected = hex::encode(Sha256::digest(bytes));
        match answer.get("sha256").and_then(serde_json::Value::as_str) {
            Some(h) if h == expected => Ok(expected),
            other => Err(ClientError::Limit(format!(
                "the server stored the photo under {other:?}, not its SHA-256 {expected}"
            ))),
        }
    }
}
