//! `GET /v1/log/follow`: the log as server-sent events, one event per entry in seq order.
//!
//! ```text
//! id: <seq>
//! event: entry
//! data: <the entry's exact canonical bytes (one line: canonical JSON has no raw newline)>
//! ```
//!
//! A `: keep-alive` comment is sent when nothing happened for the keep-alive interval. A client
//! that reconnects with `Last-Event-ID: <seq>` resumes at `seq + 1`. Streams end when the server
//! begins to stop; at most `follow_streams_max` run at once.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use actix_web::web::{Bytes, Data, Query};
use actix_web::{HttpRequest, HttpResponse};
use serde::Deserialize;

use crate::AppState;
use crate::error::ApiError;

/// Most digits of a `Last-Event-ID`.
pub(crate) const LAST_EVENT_ID_DIGITS: usize = 19;

/// Entries read from the log per step.
const CHUNK: u64 = 256;

/// `?from=`.
#[derive(Debug, Deserialize)]
pub struct FollowQuery {
    from: Option<u64>,
}

/// Decrements the stream count when the stream is dropped.
struct Slot {
    count: Arc<AtomicUsize>,
    state: AppState,
    _client: crate::ClientSlot,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.count.fetch_sub(1, Ordering::SeqCst);
        self.state
            .metrics
            .follow_streams
            .fetch_sub(1, Ordering::Relaxed);
    }
}

struct Follow {
    next: u64,
    buffer: VecDeque<Bytes>,
    sizes: tokio::sync::watch::Receiver<u64>,
    shutdown: tokio::sync::watch::Receiver<bool>,
    slot: Slot,
    done: bool,
    /// Who follows: decides which openings the stream carries.
    who: crate::disclose::Reader,
    /// The key a signed reader proved at the start; checked again before every chunk, so a
    /// stream ends once that key is revoked or replaced (a stolen key's stream with it).
    key: Option<String>,
}

pub(crate) async fn follow(
    req: HttpRequest,
    state: Data<AppState>,
    q: Query<FollowQuery>,
) -> Result<HttpResponse, ApiError> {
    // `Last-Event-ID` is an id this server sent: 1 to 19 decimal digits (any such number fits a
    // u64). Anything else is refused rather than silently ignored.
    let resume = match req.headers().get("last-event-id") {
        None => None,
        Some(v) => {
            let seq = v
                .to_str()
                .ok()
                .filter(|t| {
                    (1..=LAST_EVENT_ID_DIGITS).contains(&t.len())
                        && t.bytes().all(|b| b.is_ascii_digit())
                })
                .and_then(|t| t.parse::<u64>().ok())
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "request.bad_header",
                        format!(
                            "Last-Event-ID must be a seq of 1 to {LAST_EVENT_ID_DIGITS} digits"
                        ),
                    )
                })?;
            Some(seq.saturating_add(1))
        }
    };
    let next = resume.or(q.from).unwrap_or(0);
    // Authenticated before a stream slot is taken: a bad signature costs no slot.
    let who = crate::disclose::Reader::of(&req, &state)?;
    let key = match &who {
        crate::disclose::Reader::Actor(_) => req
            .headers()
            .get(crate::auth::HEADER_KEY)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        crate::disclose::Reader::Public => None,
    };
    // One client may not take the streams everyone shares: a per-client cap first, then the
    // global one.
    let ip = crate::client_ip(&req, &state.config);
    let per_client = state.config.follow_streams_per_client;
    let Some(client) = state.follow_by_client.take(ip, per_client) else {
        let mut e = ApiError::new(
            429,
            "follow.too_many_for_client",
            format!("at most {per_client} follow streams per client; close one first"),
        )
        .with_details(serde_json::json!({ "per_client": per_client }));
        e.retry_after_s = Some(1);
        return Err(e);
    };
    let count = state.follow_streams.clone();
    if count.fetch_add(1, Ordering::SeqCst) >= state.config.follow_streams_max {
        count.fetch_sub(1, Ordering::SeqCst);
        let mut e = ApiError::new(
            503,
            "follow.too_many",
            "too many follow streams; retry later",
        );
        e.retry_after_s = Some(1);
        return Err(e);
    }
    state.metrics.follow_streams.fetch_add(1, Ordering::Relaxed);
    let follow = Follow {
        next,
        buffer: VecDeque::new(),
        sizes: state.node.reader().subscribe(),
        shutdown: state.shutdown.clone(),
        slot: Slot {
            count,
            state: state.get_ref().clone(),
            _client: client,
        },
        done: false,
        who,
        key,
    };
    let stream = futures_util::stream::unfold(follow, step);
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("cache-control", "no-cache"))
        .insert_header(("x-accel-buffering", "no"))
        .streaming(stream))
}

async fn step(mut f: Follow) -> Option<(Result<Bytes, actix_web::Error>, Follow)> {
    loop {
        if let Some(b) = f.buffer.pop_front() {
            return Some((Ok(b), f));
        }
        if f.done || *f.shutdown.borrow() {
            return None;
        }
        let reader = f.slot.state.node.reader().clone();
        let size = reader.size();
        if f.next < size {
            if let (crate::disclose::Reader::Actor(actor), Some(key)) = (&f.who, &f.key) {
                let signed = crate::auth::Signed {
                    actor: actor.clone(),
                    key: key.clone(),
                };
                if crate::auth::check_key(signed, &f.slot.state).is_err() {
                    f.buffer.push_back(Bytes::from_static(
                        b"event: end\ndata: the key this stream was opened with is no longer \
                          the reader's current key; open it again, signed with the current key\n\n",
                    ));
                    f.done = true;
                    continue;
                }
            }
            let end = size.min(f.next.saturating_add(CHUNK));
            for seq in f.next..end {
                match crate::disclose::served(&f.slot.state, &f.who, seq) {
                    Ok((bytes, opening)) => {
                        // One event per entry: its bytes, then, when shown, its opening line
                        // as a second data line (the event's data is the two lines, as in the
                        // JSON Lines feed).
                        let mut event = format!("id: {seq}\nevent: entry\ndata: ").into_bytes();
                        event.extend_from_slice(&bytes);
                        if let Some(o) = opening {
                            event.extend_from_slice(b"\ndata: ");
                            event.extend_from_slice(&deedlog_core::verify::OpeningLine::line(
                                seq, &o,
                            ));
                        }
                        event.extend_from_slice(b"\n\n");
                        f.buffer.push_back(Bytes::from(event));
                    }
                    Err(error) => {
                        tracing::error!(?error, seq, "follow: reading the log");
                        f.done = true;
                        break;
                    }
                }
            }
            f.next = end;
            continue;
        }
        let keep_alive = f.slot.state.config.follow_keep_alive;
        tokio::select! {
            changed = f.sizes.changed() => if changed.is_err() { f.done = true },
            _ = f.shutdown.changed() => {}
            () = tokio::time::sleep(keep_alive) => f.buffer.push_back(Bytes::from_static(b": keep-alive\n\n")),
        }
    }
}
