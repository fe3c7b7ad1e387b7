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
pub mod disclose;
pub mod error;
pub mod metrics;
pub mod openapi;
pub mod photos;
pub mod routes;
mod sse;
pub mod write;

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

pub use error::{ApiError, busy};

/// The latest cosigned checkpoint, `(size, note)`, shared with the cosigner that keeps it.
pub type CosignedCheckpoint = std::sync::Arc<std::sync::RwLock<Option<(u64, String)>>>;

/// Tunables of the API.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Largest JSON body, bytes.
    pub json_bytes_max: usize,
    /// Largest raw body (`POST /v1/verify/document`), bytes.
    pub document_bytes_max: usize,
    /// Longest time to receive a request's body once its headers are in: a slow body is cut
    /// with `408 request.timeout`.
    pub body_read_timeout: Duration,
    /// Longest time to receive a request's headers (actix's client request timeout).
    pub head_read_timeout: Duration,
    /// Requests per second per client IP (`None`: no limit).
    pub rate_per_second: Option<NonZeroU32>,
    /// Burst per client IP.
    pub rate_burst: NonZeroU32,
    /// Commands per minute from newcomers, per client IP and per actor (`None`: no quota):
    /// `party.register`, `key.*`, and any command of a party not yet verified.
    pub newcomer_per_minute: Option<NonZeroU32>,
    /// Burst of newcomer commands, per client IP and per actor.
    pub newcomer_burst: NonZeroU32,
    /// Addresses of reverse proxies whose `X-Forwarded-For` / `Forwarded` headers are believed;
    /// from any other peer those headers are ignored and the peer address is the client.
    pub trusted_proxies: Vec<IpAddr>,
    /// Longest `?after_seq` wait.
    pub after_seq_wait: Duration,
    /// Accepted |server clock − request timestamp| of signed requests, ms.
    pub request_skew_ms: i64,
    /// Most concurrent follow streams in all.
    pub follow_streams_max: usize,
    /// Most concurrent follow streams per client IP.
    pub follow_streams_per_client: usize,
    /// Most open connections per peer IP (trusted proxies are not counted).
    pub connections_per_client: usize,
    /// Keep-alive comment interval of follow streams.
    pub follow_keep_alive: Duration,
    /// The views are ready when at most this many entries behind the log.
    pub ready_lag_max: u64,
    /// Worker threads (0: actix's default, one per core).
    pub workers: usize,
    /// Registered auditors: they read confidential entries whole with signed requests.
    pub auditors: Vec<Auditor>,
    /// The latest checkpoint with its witnesses' cosignatures, `(size, note)`, kept by a
    /// cosigner (see `deedlog serve --witness`); `GET /checkpoint` serves it while its size is
    /// the latest.
    pub cosigned_checkpoint: Option<CosignedCheckpoint>,
    /// Largest photo upload (`POST /v1/photos`), bytes.
    pub photo_bytes_max: usize,
    /// Most photos one actor may keep in the photo store (photos are kept for good: a listing
    /// shown once stays checkable).
    pub photos_per_actor_max: usize,
    /// The witness policy (C2SP tlog-policy text) served in `/v1/log/checkpoint` for the public
    /// pages of a build that pins none (see `web/public/pin.js`).
    pub witness_policy: Option<String>,
    /// Messages per minute from one sender (`None`: no limit), with [`Self::messages_burst`].
    pub messages_per_minute: Option<NonZeroU32>,
    /// Burst of messages from one sender.
    pub messages_burst: NonZeroU32,
    /// Whether `GET /v1/identity/demo/sms` shows the embedded authority's SMS codes to the
    /// browser (`deedlog serve --demo-sms`); off by default, and served only while the node holds
    /// the embedded identity authority's key.
    pub demo_sms: bool,
}

/// A registered auditor: an actor id of the form `auditor/<name>` and its Ed25519 key. Auditors
/// are not on the log; the operator registers them in the server's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Auditor {
    /// `auditor/<name>`.
    pub actor: String,
    /// The auditor's public key, standard base64.
    pub key: String,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            json_bytes_max: 256 * 1024,
            document_bytes_max: 16 * 1024 * 1024,
            body_read_timeout: Duration::from_secs(10),
            head_read_timeout: Duration::from_secs(5),
            rate_per_second: NonZeroU32::new(2000),
            rate_burst: NonZeroU32::new(4000).unwrap_or(NonZeroU32::MIN),
            newcomer_per_minute: NonZeroU32::new(30),
            newcomer_burst: NonZeroU32::new(10).unwrap_or(NonZeroU32::MIN),
            trusted_proxies: Vec::new(),
            after_seq_wait: Duration::from_secs(5),
            request_skew_ms: 300_000,
            follow_streams_max: 256,
            follow_streams_per_client: 4,
            connections_per_client: 256,
            follow_keep_alive: Duration::from_secs(15),
            ready_lag_max: 1000,
            workers: 0,
            auditors: Vec::new(),
            cosigned_checkpoint: None,
            photo_bytes_max: 4 * 1024 * 1024,
            photos_per_actor_max: 300,
            witness_policy: None,
            messages_per_minute: NonZeroU32::new(20),
            messages_burst: NonZeroU32::new(10).unwrap_or(NonZeroU32::MIN),
            demo_sms: false,
        }
    }
}

/// The client a request is counted against: the peer address, unless the peer is a trusted
/// proxy, then the right-most address of the forwarding chain that is not itself a trusted
/// proxy (each proxy appends the address it saw, so the hops left of the last untrusted one
/// are whatever the client chose to send). Forwarded headers from any other peer are ignored.
/// An IPv6 client is counted by its /64 network (see [`limit_bucket`]).
#[must_use]
pub fn client_ip(req: &actix_web::HttpRequest, config: &ApiConfig) -> IpAddr {
    let peer = req
        .peer_addr()
        .map_or(IpAddr::from([0, 0, 0, 0]), |a| a.ip());
    limit_bucket(client_ip_of(peer, req.headers(), config))
}

/// The address a client's limits are counted under: an IPv4 address as it is (an IPv4-mapped
/// IPv6 address as its IPv4 address), an IPv6 address by its /64 network, the block one
/// subscriber line or host is usually given, so that a client cannot take a fresh quota from
/// each of the 2^64 addresses it holds. The IPv6 loopback stays itself.
#[must_use]
pub fn limit_bucket(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                IpAddr::V4(v4)
            } else if v6.is_loopback() {
                ip
            } else {
                IpAddr::V6(std::net::Ipv6Addr::from(
                    u128::from(v6) & !u128::from(u64::MAX),
                ))
            }
        }
    }
}

fn client_ip_of(
    peer: IpAddr,
    headers: &actix_web::http::header::HeaderMap,
    config: &ApiConfig,
) -> IpAddr {
    if !config.trusted_proxies.contains(&peer) {
        return peer;
    }
    let mut hops: Vec<IpAddr> = Vec::new();
    // `Forwarded: for=1.2.3.4;proto=http, for="[2001:db8::1]:4711"` (RFC 7239) first, then
    // `X-Forwarded-For: 1.2.3.4, 5.6.7.8`; a header that does not parse ends the chain there.
    for value in headers.get_all("forwarded") {
        let Ok(text) = value.to_str() else { continue };
        for element in text.split(',') {
            for pair in element.split(';') {
                let pair = pair.trim();
                if pair.len() > 4 && pair[..4].eq_ignore_ascii_case("for=") {
                    let v = pair[4..].trim_matches('"');
                    let v = v
                        .strip_prefix('[')
                        .and_then(|r| r.split_once(']'))
                        .map_or(v, |(ip, _)| ip);
                    let v = if v.matches(':').count() == 1 {
                        v.split(':').next().unwrap_or(v)
                    } else {
                        v
                    };
                    if let Ok(ip) = v.parse() {
                        hops.push(ip);
                    }
                }
            }
        }
    }
    if hops.is_empty() {
        for value in headers.get_all("x-forwarded-for") {
            let Ok(text) = value.to_str() else { continue };
            for hop in text.split(',') {
                if let Ok(ip) = hop.trim().parse() {
                    hops.push(ip);
                }
            }
        }
    }
    hops.into_iter()
        .rev()
        .take(64)
        .find(|ip| !config.trusted_proxies.contains(ip))
        .unwrap_or(peer)
}

type Limiter = RateLimiter<IpAddr, DefaultKeyedStateStore<IpAddr>, DefaultClock>;
type NewcomerLimiter = RateLimiter<String, DefaultKeyedStateStore<String>, DefaultClock>;

/// Counts per client IP (open connections, follow streams), each decremented by a guard's drop.
#[derive(Debug, Default)]
pub(crate) struct PerClient {
    counts: std::sync::Mutex<std::collections::HashMap<IpAddr, usize>>,
}

impl PerClient {
    /// Takes a slot for `ip` if it has fewer than `max`; the slot is given back on drop.
    pub(crate) fn take(self: &Arc<Self>, ip: IpAddr, max: usize) -> Option<ClientSlot> {
        let mut counts = self
            .counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let n = counts.entry(ip).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(ClientSlot {
            owner: self.clone(),
            ip,
        })
    }
}

/// One taken slot of a [`PerClient`] count.
#[derive(Debug)]
pub(crate) struct ClientSlot {
    owner: Arc<PerClient>,
    ip: IpAddr,
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut counts = self
            .owner
            .counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(n) = counts.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                counts.remove(&self.ip);
            }
        }
    }
}

/// Put in a connection's extensions by the `on_connect` hook: the connection's slot, or none
/// when its peer was over the cap (the first request on it is then refused and the connection
/// closed).
#[derive(Debug, Clone)]
struct ConnectionGuard {
    over_cap: bool,
    _slot: Option<Arc<ClientSlot>>,
}

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
    pub(crate) newcomers: Option<Arc<NewcomerLimiter>>,
    pub(crate) message_senders: Option<Arc<NewcomerLimiter>>,
    follow_streams: Arc<AtomicUsize>,
    pub(crate) follow_by_client: Arc<PerClient>,
    connections: Arc<PerClient>,
    shutdown: tokio::sync::watch::Receiver<bool>,
    shutdown_tx: Arc<tokio::sync::watch::Sender<bool>>,
    /// Public verification answers, valid for one (views applied, checkpoint size) state.
    pub(crate) answers: Arc<AnswerCache>,
    /// Full tiles already served (they never change); bounded in bytes.
    pub(crate) tiles: Arc<routes::tiles::TileCache>,
}

/// The bytes of full tiles kept in memory: 64 MiB holds ~8,000 hash tiles (the level-0 hashes of
/// 2 million entries) or ~250 entry bundles of 1 KiB entries.
const TILE_CACHE_BYTES: usize = 64 << 20;

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
        let newcomers = config.newcomer_per_minute.map(|r| {
            Arc::new(RateLimiter::keyed(
                Quota::per_minute(r).allow_burst(config.newcomer_burst),
            ))
        });
        let message_senders = config.messages_per_minute.map(|r| {
            Arc::new(RateLimiter::keyed(
                Quota::per_minute(r).allow_burst(config.messages_burst),
            ))
        });
        let (tx, rx) = tokio::sync::watch::channel(false);
        Self {
            message_senders,
            node,
            config: Arc::new(config),
            metrics: Arc::new(metrics::Metrics::default()),
            limiter,
            newcomers,
            follow_streams: Arc::new(AtomicUsize::new(0)),
            follow_by_client: Arc::new(PerClient::default()),
            connections: Arc::new(PerClient::default()),
            shutdown: rx,
            shutdown_tx: Arc::new(tx),
            answers: Arc::new(AnswerCache::default()),
            tiles: Arc::new(routes::tiles::TileCache::new(TILE_CACHE_BYTES)),
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

/// Refuses requests over the client IP's rate with `429 rate.limited`, and every request of a
/// connection opened over its peer's cap with `429 connection.too_many` and `Connection: close`.
async fn rate_limit(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if req
        .conn_data::<ConnectionGuard>()
        .is_some_and(|g| g.over_cap)
    {
        let max = req
            .app_data::<web::Data<AppState>>()
            .map_or(0, |s| s.config.connections_per_client);
        let mut e = ApiError::new(
            429,
            "connection.too_many",
            "too many open connections from this address; close some and retry",
        )
        .with_details(serde_json::json!({ "per_client": max }));
        e.retry_after_s = Some(1);
        let mut response = actix_web::ResponseError::error_response(&e);
        response
            .head_mut()
            .set_connection_type(actix_web::http::ConnectionType::Close);
        return Ok(req.into_response(response).map_into_boxed_body());
    }
    if let Some(state) = req.app_data::<web::Data<AppState>>()
        && let Some(limiter) = &state.limiter
    {
        let ip = client_ip(req.request(), &state.config);
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
    let connections = state.connections.clone();
    let per_client = state.config.connections_per_client;
    let trusted = state.config.trusted_proxies.clone();
    let head_timeout = state.config.head_read_timeout;
    let mut server = HttpServer::new(move || app(app_state.clone()))
        .on_connect(move |conn, ext| {
            let peer = conn
                .downcast_ref::<actix_web::rt::net::TcpStream>()
                .and_then(|s| s.peer_addr().ok())
                .map(|a| a.ip());
            let slot = match peer {
                // A trusted proxy carries many clients' connections: it is not capped here.
                Some(ip) if !trusted.contains(&ip) => {
                    Some(connections.take(limit_bucket(ip), per_client))
                }
                _ => None,
            };
            let guard = match slot {
                Some(None) => ConnectionGuard {
                    over_cap: true,
                    _slot: None,
                },
                Some(Some(slot)) => ConnectionGuard {
                    over_cap: false,
                    _slot: Some(Arc::new(slot)),
                },
                None => ConnectionGuard {
                    over_cap: false,
                    _slot: None,
                },
            };
            ext.insert(guard);
        })
        .disable_signals()
        .shutdown_timeout(10)
        .client_request_timeout(head_timeout)
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
    // The signal handlers are installed before the URL is printed: a supervisor (or a test)
    // that sends SIGTERM as soon as it reads the URL stops the server gracefully, not by the
    // signal's default action, which would kill it mid-batch.
    let stop_signal = stop_signal();
    for a in running.addrs() {
        println!(
            "deedlog serving on http://{a}  (the pages at /; log size {}, API: http://{a}/swagger-ui/)",
            node.reader().size()
        );
    }
    stop_signal.await;
    tracing::info!("stopping: finishing requests in flight");
    let result = running.stop().await;
    let n = node.clone();
    let _ = tokio::task::spawn_blocking(move || n.shutdown()).await;
    tracing::info!(log_size = node.reader().size(), "stopped");
    result
}

/// Installs the SIGTERM and SIGINT handlers now (`signal` registers when called, unlike
/// `ctrl_c`, which registers on first poll) and returns the future that waits for either.
fn stop_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = signal(SignalKind::terminate());
        let int = signal(SignalKind::interrupt());
        async move {
            match (term, int) {
                (Ok(mut term), Ok(mut int)) => {
                    tokio::select! {
                        _ = term.recv() => {}
                        _ = int.recv() => {}
                    }
                }
                (Ok(mut term), Err(_)) => {
                    term.recv().await;
                }
                (Err(_), Ok(mut int)) => {
                    int.recv().await;
                }
                (Err(_), Err(_)) => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
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
    // Every keyed limiter forgets the keys whose quota is whole again, once a minute: a key
    // per client address or actor string would otherwise stay for the life of the process.
    let keyed: Vec<Arc<NewcomerLimiter>> = [state.newcomers.clone(), state.message_senders.clone()]
        .into_iter()
        .flatten()
        .collect();
    if state.limiter.is_some() || !keyed.is_empty() {
        let limiter = state.limiter.clone();
        let mut shutdown = state.shutdown.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_secs(60)) => {}
                    _ = shutdown.changed() => break,
                }
                if let Some(l) = &limiter {
                    l.retain_recent();
                    l.shrink_to_fit();
                }
                for l in &keyed {
                    l.retain_recent();
                    l.shrink_to_fit();
                }
            }
        });
    }
}
