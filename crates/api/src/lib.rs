//! deedlog's HTTP API (actix-web): signed commands, public and private reads from the views,
//! verification with proof bundles, log export and follow (server-sent events), health,
//! metrics and the OpenAPI document. The route table and shapes are in `docs/API.md`.
//!
//! Architecture invariants:
//! - only this crate names actix; handlers parse untrusted input once, at the edge, into typed
//!   values, with a limit on everything (body sizes, pages, ranges, streams, request rate);
//! - every error is one status and one stable `code` (`{code, message, details}`); internal
//!   causes are logged, never returned;
//! - writes go through the sequencer only; a rejection appends nothing;
//! - reads answer from the views (canonical JSON, so a rebuild answers byte for byte the same) or
//!   from the log itself (exact entry bytes, proofs, checkpoints).
#![deny(missing_docs)]

pub mod auth;
pub mod error;
pub mod metrics;
pub mod openapi;
pub mod routes;
mod sse;

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{ServerHandle, ServiceRequest, ServiceResponse};
use actix_web::middleware::{Next, from_fn};
use actix_web::{App, HttpServer, web};
use governor::clock::{Clock as _, DefaultClock};
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

use deedlog_node::Node;

pub use error::ApiError;

/// Tunables of the API.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Largest JSON body, bytes.
    pub json_bytes_max: usize,
    /// Largest raw body (`POST /v1/verify/document`), bytes.
    pub document_bytes_max: usize,
    /// Requests per second per client IP (`None`: no limit).
    pub rate_per_second: Option<NonZeroU32>,
    /// Burst per client IP.
    pub rate_burst: NonZeroU32,
    /// Longest `?after_seq` wait.
    pub after_seq_wait: Duration,
    /// Accepted |server clock − request timestamp| of signed requests, ms.
    pub request_skew_ms: i64,
    /// Most concurrent follow streams.
    pub follow_streams_max: usize,
    /// Keep-alive comment interval of follow streams.
    pub follow_keep_alive: Duration,
    /// The views are ready when at most this many entries behind the log.
    pub ready_lag_max: u64,
    /// Worker threads (0: actix's default, one per core).
    pub workers: usize,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            json_bytes_max: 256 * 1024,
            document_bytes_max: 16 * 1024 * 1024,
            rate_per_second: NonZeroU32::new(2000),
            rate_burst: NonZeroU32::new(4000).unwrap_or(NonZeroU32::MIN),
            after_seq_wait: Duration::from_secs(5),
            request_skew_ms: 300_000,
            follow_streams_max: 256,
            follow_keep_alive: Duration::from_secs(15),
            ready_lag_max: 1000,
            workers: 0,
        }
    }
}

type Limiter = RateLimiter<IpAddr, DefaultKeyedStateStore<IpAddr>, DefaultClock>;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The node.
    pub node: Node,
    /// The tunables.
    pub config: Arc<ApiConfig>,
    /// The counters.
    pub metrics: Arc<metrics::Metrics>,
    limiter: Option<Arc<Limiter>>,
    follow_streams: Arc<AtomicUsize>,
    shutdown: tokio::sync::watch::Receiver<bool>,
    shutdown_tx: Arc<tokio::sync::watch::Sender<bool>>,
    /// Public verification answers, valid for one (views applied, checkpoint size) state.
    pub(crate) answers: Arc<AnswerCache>,
}

/// Public verification answers by code, for the current (views applied, checkpoint size): an
/// answer is a pure function of that state, so a lookup repeated between two commits (what a
/// crowd scanning the same listing does) skips the view reads, proof computation and encoding.
/// Emptied whenever the state moves; bounded in entries.
#[derive(Debug, Default)]
pub(crate) struct AnswerCache {
    inner: std::sync::Mutex<AnswerState>,
}

#[derive(Debug, Default)]
struct AnswerState {
    at: (u64, u64),
    answers: std::collections::HashMap<String, actix_web::web::Bytes>,
}

const ANSWERS_MAX: usize = 4096;

impl AnswerCache {
    /// The answer for `key` at state `at`, if cached.
    pub(crate) fn get(&self, at: (u64, u64), key: &str) -> Option<actix_web::web::Bytes> {
        let inner = self.inner.lock().ok()?;
        if inner.at == at {
            inner.answers.get(key).cloned()
        } else {
            None
        }
    }

    /// Remembers `answer` for `key` at state `at`.
    pub(crate) fn put(&self, at: (u64, u64), key: String, answer: actix_web::web::Bytes) {
        if let Ok(mut inner) = self.inner.lock() {
            if inner.at != at {
                inner.at = at;
                inner.answers.clear();
            }
            if inner.answers.len() >= ANSWERS_MAX {
                inner.answers.clear();
            }
            inner.answers.insert(key, answer);
        }
    }
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("node", &self.node)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// The shared state of an API over `node`.
    #[must_use]
    pub fn new(node: Node, config: ApiConfig) -> Self {
        let limiter = config.rate_per_second.map(|r| {
            Arc::new(RateLimiter::keyed(
                Quota::per_second(r).allow_burst(config.rate_burst),
            ))
        });
        let (tx, rx) = tokio::sync::watch::channel(false);
        Self {
            node,
            config: Arc::new(config),
            metrics: Arc::new(metrics::Metrics::default()),
            limiter,
            follow_streams: Arc::new(AtomicUsize::new(0)),
            shutdown: rx,
            shutdown_tx: Arc::new(tx),
            answers: Arc::new(AnswerCache::default()),
        }
    }

    /// Ends the follow streams (before a graceful stop, so that they do not hold it up).
    pub fn begin_shutdown(&self) {
        self.shutdown_tx.send_replace(true);
    }
}

/// Counts requests by route pattern and status.
async fn count_requests(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let route = req
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let metrics = req
        .app_data::<web::Data<AppState>>()
        .map(|s| s.metrics.clone());
    let result = next.call(req).await;
    if let Some(m) = metrics {
        let status = match &result {
            Ok(res) => res.status().as_u16(),
            Err(e) => e.as_response_error().status_code().as_u16(),
        };
        m.request(&route, status);
    }
    result
}

/// Refuses requests over the client IP's rate with `429 rate.limited`.
async fn rate_limit(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if let Some(state) = req.app_data::<web::Data<AppState>>()
        && let Some(limiter) = &state.limiter
    {
        let ip = req
            .peer_addr()
            .map_or(IpAddr::from([0, 0, 0, 0]), |a| a.ip());
        if let Err(not_until) = limiter.check_key(&ip) {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            let mut e = ApiError::new(429, "rate.limited", "too many requests from this address; slow down")
                .with_details(serde_json::json!({"retry_after_ms": u64::try_from(wait.as_millis()).unwrap_or(u64::MAX)}));
            e.retry_after_s = Some(wait.as_secs().max(1));
            let response = actix_web::ResponseError::error_response(&e);
            return Ok(req.into_response(response).map_into_boxed_body());
        }
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_boxed_body)
}

/// Registers every route, the extractor limits and error handlers, and the middleware-free
/// services on `cfg` (use [`app`] for the whole application with middleware).
pub fn configure(cfg: &mut web::ServiceConfig, state: AppState) {
    routes::configure(cfg, state);
}

/// The whole application: routes, limits, metrics and rate-limit middleware.
pub fn app(
    state: AppState,
) -> App<
    impl actix_web::dev::ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    App::new()
        .configure(move |cfg| configure(cfg, state))
        .wrap(from_fn(rate_limit))
        .wrap(from_fn(count_requests))
}

/// A running server.
#[derive(Debug)]
pub struct Running {
    addrs: Vec<SocketAddr>,
    handle: ServerHandle,
    state: AppState,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// The bound addresses.
    #[must_use]
    pub fn addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// The first bound address.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addrs[0]
    }

    /// Stops gracefully: ends follow streams, stops accepting connections, lets requests in
    /// flight finish (commands in flight get their receipts), then returns. The node keeps
    /// running; call [`Node::shutdown`] next.
    ///
    /// # Errors
    /// The server's I/O error, if it failed.
    pub async fn stop(self) -> std::io::Result<()> {
        self.state.begin_shutdown();
        self.handle.stop(true).await;
        self.task.await.unwrap_or(Ok(()))
    }
}

/// Starts serving `node` on `bind` (e.g. `127.0.0.1:0`) inside the current tokio runtime.
///
/// # Errors
/// When the address cannot be bound.
pub async fn start(node: Node, bind: &str, config: ApiConfig) -> std::io::Result<Running> {
    let workers = config.workers;
    let state = AppState::new(node, config);
    spawn_background(&state);
    let app_state = state.clone();
    let mut server = HttpServer::new(move || app(app_state.clone()))
        .disable_signals()
        .shutdown_timeout(10)
        .client_request_timeout(Duration::from_secs(5))
        .client_disconnect_timeout(Duration::from_secs(2))
        .keep_alive(Duration::from_secs(75))
        .max_connections(10_000)
        .backlog(1024);
    if workers > 0 {
        server = server.workers(workers);
    }
    let server = server.bind(bind)?;
    let addrs = server.addrs();
    let server = server.run();
    let handle = server.handle();
    let task = tokio::spawn(server);
    Ok(Running {
        addrs,
        handle,
        state,
        task,
    })
}

/// Serves `node` on `bind` until SIGINT or SIGTERM, printing the URL; then stops gracefully and
/// shuts the node down (the sequencer drains: no acknowledged entry is lost).
///
/// # Errors
/// When the address cannot be bound or the server fails.
pub async fn serve(node: Node, bind: &str) -> std::io::Result<()> {
    serve_with(node, bind, ApiConfig::default()).await
}

/// [`serve`] with tunables.
///
/// # Errors
/// As [`serve`].
pub async fn serve_with(node: Node, bind: &str, config: ApiConfig) -> std::io::Result<()> {
    let running = start(node.clone(), bind, config).await?;
    for a in running.addrs() {
        println!(
            "deedlog serving on http://{a}  (log size {}, API: http://{a}/swagger-ui/)",
            node.reader().size()
        );
    }
    wait_for_signal().await;
    tracing::info!("stopping: finishing requests in flight");
    let result = running.stop().await;
    let n = node.clone();
    let _ = tokio::task::spawn_blocking(move || n.shutdown()).await;
    tracing::info!(log_size = node.reader().size(), "stopped");
    result
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Background tasks: batch-size metrics from the stored checkpoints, and pruning the rate
/// limiter's per-address state.
fn spawn_background(state: &AppState) {
    let s = state.clone();
    tokio::spawn(async move {
        let reader = s.node.reader().clone();
        let mut sizes = reader.subscribe();
        let mut last = reader.size();
        let mut shutdown = s.shutdown.clone();
        loop {
            tokio::select! {
                r = sizes.changed() => if r.is_err() { break },
                _ = shutdown.changed() => break,
            }
            let size = reader.size();
            if size <= last {
                continue;
            }
            let from = last + 1;
            let to = size.min(from + 100_000);
            let r = reader.clone();
            if let Ok(Ok(cps)) = tokio::task::spawn_blocking(move || r.checkpoints(from, to)).await
            {
                let mut prev = last;
                for cp in cps {
                    s.metrics.batch(cp.size - prev);
                    prev = cp.size;
                }
            }
            last = size;
        }
    });
    if let Some(limiter) = state.limiter.clone() {
        let mut shutdown = state.shutdown.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_secs(60)) => {}
                    _ = shutdown.changed() => break,
                }
                limiter.retain_recent();
                limiter.shrink_to_fit();
            }
        });
    }
}
