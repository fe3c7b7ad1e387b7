//! The HTTP transport: a blocking, plain-HTTP client of the deedlog API with uniform error
//! mapping and a bounded retry of transport failures.
//!
//! Errors from the server are JSON `{code, message, details}` and surface as
//! [`ClientError::Rejected`]. A command that failed in transport (connection refused or reset,
//! timeout, `503`) is retried **with the same signed bytes** until the retry window closes: the
//! server's idempotency by `(actor, nonce)` makes that safe, so a command acknowledged just
//! before a restart is answered from the log instead of being appended twice.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::error::ClientError;

/// Largest response body read, in bytes (a page of log entries is far below).
pub const RESPONSE_BYTES_MAX: u64 = 64 * 1024 * 1024;
/// Largest part of an error body quoted in [`ClientError::Http`].
const QUOTE_BYTES_MAX: usize = 300;

/// How the transport waits and retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Timeout of one whole call.
    pub call_timeout: Duration,
    /// How long transport failures and `503`s are retried (zero: never).
    pub retry_for: Duration,
    /// First pause between retries (doubled up to one second).
    pub retry_pause: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            call_timeout: Duration::from_secs(30),
            retry_for: Duration::ZERO,
            retry_pause: Duration::from_millis(50),
        }
    }
}

/// An HTTP answer: status and body.
#[derive(Debug, Clone)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// The `content-type` header, if any.
    pub content_type: Option<String>,
    /// The body.
    pub body: Vec<u8>,
}

impl Answer {
    /// The body as JSON.
    ///
    /// # Errors
    /// [`ClientError::BadResponse`] naming `path`.
    pub fn json(&self, path: &str) -> Result<Value, ClientError> {
        serde_json::from_slice(&self.body).map_err(|e| ClientError::BadResponse {
            path: path.to_owned(),
            reason: format!("not JSON: {e}"),
        })
    }
}

/// The blocking transport: a base URL and a connection-pooling agent.
#[derive(Debug, Clone)]
pub struct Transport {
    base: String,
    agent: ureq::Agent,
    policy: Policy,
}

impl Transport {
    /// A transport to `base_url` (`http://host:port`, an optional trailing `/`).
    ///
    /// # Errors
    /// [`ClientError::BadUrl`] for anything but a plain `http://` URL without a path.
    pub fn new(base_url: &str, policy: Policy) -> Result<Self, ClientError> {
        let base = base_url.trim_end_matches('/').to_owned();
        let bad = |reason| ClientError::BadUrl {
            url: base_url.to_owned(),
            reason,
        };
        let rest = base
            .strip_prefix("http://")
            .ok_or_else(|| bad("only plain http:// URLs are supported"))?;
        if rest.is_empty() || rest.contains('/') || rest.contains('?') {
            return Err(bad("expected http://host:port with no path"));
        }
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(policy.call_timeout))
            .max_redirects(0)
            .build()
            .into();
        Ok(Self {
            base,
            agent,
            policy,
        })
    }

    /// The base URL, without a trailing `/`.
    #[must_use]
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The host and port of the base URL.
    #[must_use]
    pub fn authority(&self) -> &str {
        self.base.trim_start_matches("http://")
    }

    /// The retry policy.
    #[must_use]
    pub fn policy(&self) -> Policy {
        self.policy
    }

    /// The same transport with another policy.
    #[must_use]
    pub fn with_policy(mut self, policy: Policy) -> Self {
        if policy.call_timeout != self.policy.call_timeout {
            self.agent = ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_global(Some(policy.call_timeout))
                .max_redirects(0)
                .build()
                .into();
        }
        self.policy = policy;
        self
    }

    /// One call, no retry. `path` starts with `/`.
    ///
    /// # Errors
    /// [`ClientError::Transport`] when the server can't be reached or the body can't be read.
    pub fn call_once(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, String)],
        body: Option<(&str, &[u8])>,
    ) -> Result<Answer, ClientError> {
        let url = format!("{}{path}", self.base);
        let transport = |e: ureq::Error| ClientError::Transport(format!("{method} {path}: {e}"));
        let response = match (method, body) {
            ("GET", None) => {
                let mut req = self.agent.get(&url);
                for (k, v) in headers {
                    req = req.header(*k, v.as_str());
                }
                req.call()
            }
            ("POST" | "PUT", body) => {
                let mut req = if method == "POST" {
                    self.agent.post(&url)
                } else {
                    self.agent.put(&url)
                };
                for (k, v) in headers {
                    req = req.header(*k, v.as_str());
                }
                let (content_type, bytes) = body.unwrap_or(("application/json", b""));
                req.header("content-type", content_type).send(bytes)
            }
            _ => {
                return Err(ClientError::Transport(format!(
                    "unsupported method {method} for {path}"
                )));
            }
        }
        .map_err(transport)?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response
            .into_body()
            .into_with_config()
            .limit(RESPONSE_BYTES_MAX)
            .read_to_vec()
            .map_err(transport)?;
        Ok(Answer {
            status,
            content_type,
            body,
        })
    }

    /// A call retried on transport failures, `503` and `429` within the policy's window.
    ///
    /// # Errors
    /// The last transport failure, or the server's last answer mapped by [`check`].
    pub fn call(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, String)],
        body: Option<(&str, &[u8])>,
    ) -> Result<Answer, ClientError> {
        let start = Instant::now();
        let mut pause = self.policy.retry_pause;
        loop {
            let result = self.call_once(method, path, headers, body);
            let retryable = match &result {
                Err(ClientError::Transport(_)) => true,
                Ok(a) => a.status == 503 || a.status == 429,
                Err(_) => false,
            };
            if !retryable || start.elapsed() + pause > self.policy.retry_for {
                return result.and_then(check);
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_secs(1));
        }
    }

    /// `GET path` as JSON.
    ///
    /// # Errors
    /// As [`Transport::call`], and [`ClientError::BadResponse`] when the body is not JSON.
    pub fn get_json(&self, path: &str) -> Result<Value, ClientError> {
        self.call("GET", path, &[], None)?.json(path)
    }

    /// `POST path` with a JSON body, answer as JSON.
    ///
    /// # Errors
    /// As [`Transport::get_json`].
    pub fn post_json(&self, path: &str, body: &Value) -> Result<Value, ClientError> {
        let bytes = serde_json::to_vec(body).map_err(|e| ClientError::BadResponse {
            path: path.to_owned(),
            reason: format!("request body does not encode: {e}"),
        })?;
        self.call("POST", path, &[], Some(("application/json", &bytes)))?
            .json(path)
    }
}

/// Maps a non-2xx answer to [`ClientError::Rejected`] (the API's JSON error) or
/// [`ClientError::Http`] (anything else).
///
/// # Errors
/// When the status is not 2xx.
pub fn check(answer: Answer) -> Result<Answer, ClientError> {
    if (200..300).contains(&answer.status) {
        return Ok(answer);
    }
    if let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(&answer.body) {
        // Some servers nest the error under "error".
        let obj = match map.get("error") {
            Some(Value::Object(inner)) if inner.contains_key("code") => inner.clone(),
            _ => map,
        };
        if let Some(code) = obj.get("code").and_then(Value::as_str) {
            return Err(ClientError::Rejected {
                status: answer.status,
                code: code.to_owned(),
                message: obj
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                details: obj.get("details").cloned().unwrap_or(Value::Null),
            });
        }
    }
    let text = String::from_utf8_lossy(&answer.body);
    let mut quote: String = text.chars().take(QUOTE_BYTES_MAX).collect();
    if quote.len() < text.len() {
        quote.push('…');
    }
    Err(ClientError::Http {
        status: answer.status,
        body: quote,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn answer(status: u16, body: &Value) -> Answer {
        Answer {
            status,
            content_type: Some("application/json".into()),
            body: serde_json::to_vec(body).unwrap(),
        }
    }

    #[test]
    fn server_errors_become_typed_rejections() {
        let err = check(answer(
            409,
            &json!({"code": "listing.status", "message": "closed", "details": {"seq": 3}}),
        ))
        .unwrap_err();
        assert!(err.is("listing.status"));
        assert_eq!(err.status(), Some(409));
        match err {
            ClientError::Rejected { details, .. } => assert_eq!(details, json!({"seq": 3})),
            other => panic!("{other:?}"),
        }
        let err = check(Answer {
            status: 502,
            content_type: None,
            body: b"bad gateway".to_vec(),
        })
        .unwrap_err();
        assert!(matches!(err, ClientError::Http { status: 502, .. }));
        assert!(check(answer(201, &json!({}))).is_ok());
    }

    #[test]
    fn only_plain_http_base_urls() {
        assert!(Transport::new("http://127.0.0.1:8080/", Policy::default()).is_ok());
        assert!(Transport::new("https://example.org", Policy::default()).is_err());
        assert!(Transport::new("http://127.0.0.1:8080/v1", Policy::default()).is_err());
        let t = Transport::new("http://127.0.0.1:8080", Policy::default()).unwrap();
        assert_eq!(t.authority(), "127.0.0.1:8080");
    }

    #[test]
    fn unreachable_servers_are_transport_errors_after_the_window() {
        // Port 9 (discard) on loopback is closed on a test machine: connection refused.
        let t = Transport::new(
            "http://127.0.0.1:9",
            Policy {
                call_timeout: Duration::from_secs(2),
                retry_for: Duration::from_millis(120),
                retry_pause: Duration::from_millis(20),
            },
        )
        .unwrap();
        let start = Instant::now();
        assert!(matches!(
            t.get_json("/healthz"),
            Err(ClientError::Transport(_))
        ));
        assert!(start.elapsed() >= Duration::from_millis(60));
    }
}
