//! The loopback load generator behind `deedlog bench http`: N keep-alive connections, each a
//! thread sending pre-built requests back to back, bounded by a duration and a request count, so
//! it always stops by itself.
//!
//! Three measurements in one run, so they can be compared:
//!
//! 1. **ceiling** — a static JSON route (about 300 bytes, no state): what actix and the loopback
//!    can do on this machine, the yardstick for the others;
//! 2. **verify** — public verification lookups `GET /v1/verify/listing/{code}` over a set of
//!    listing codes (each answer carries a proof bundle);
//! 3. **commands** — signed commands `POST /v1/commands/party.register`, each from a fresh
//!    key and with a fresh phone commitment, **signed before the clock starts**.
//!
//! Each reports requests per second and the latency p50, p99 and maximum, in a struct that
//! serializes to JSON. Only loopback targets are accepted: this is a benchmark of the machine
//! it runs on, not a tool to load someone else's server.

use std::net::{SocketAddr, ToSocketAddrs as _};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rand_core::{OsRng, RngCore as _};
use serde::Serialize;
use serde_json::json;

use deedlog_domain::ids::IdKind;

use crate::wire::{Connection, request};
use deedlog_client::ClientError;
use deedlog_client::actor::{Actor, random_suffix};
use deedlog_client::client::encode_segment;

/// Most connections a run may open.
pub const CONNECTIONS_MAX: usize = 1024;
/// Most requests one measurement may send.
pub const REQUESTS_MAX: u64 = 10_000_000;
/// Most commands that may be pre-signed for one run.
pub const COMMANDS_MAX: usize = 2_000_000;
/// Longest measurement.
pub const DURATION_MAX: Duration = Duration::from_secs(600);

/// What to measure and how hard.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// The server, `http://127.0.0.1:PORT` (loopback only).
    pub server: String,
    /// Concurrent keep-alive connections (32 in the published figures).
    pub connections: usize,
    /// How long each measurement runs at most.
    pub duration: Duration,
    /// How many requests each measurement sends at most.
    pub requests_max: u64,
    /// Unmeasured time before the ceiling and verify measurements (connections open, caches
    /// warm).
    pub warmup: Duration,
    /// The static JSON route of the ceiling measurement (`None`: skip it).
    pub static_path: Option<String>,
    /// Listing verification codes for the verify measurement (empty: skip it).
    pub listing_codes: Vec<String>,
    /// Signed commands to pre-sign for the commands measurement (0: skip it).
    pub commands: usize,
    /// Timeout of one request.
    pub request_timeout: Duration,
    /// The identity authority's key, to sign the registrations' phone vouchers with: the
    /// operator's own (`DATA/keys/authority_identity.key`). Without it the commands
    /// measurement sends registrations without a voucher, which the server refuses.
    pub voucher_key: Option<deedlog_core::SecretKey>,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            server: "http://127.0.0.1:8080".into(),
            connections: 32,
            duration: Duration::from_secs(10),
            requests_max: 1_000_000,
            warmup: Duration::from_secs(1),
            static_path: Some("/v1/ping".into()),
            listing_codes: Vec::new(),
            commands: 100_000,
            request_timeout: Duration::from_secs(10),
            voucher_key: None,
        }
    }
}

/// One measurement's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Measurement {
    /// `ceiling`, `verify` or `commands`.
    pub name: String,
    /// What was requested, e.g. `GET /v1/ping`.
    pub request: String,
    /// Connections used.
    pub connections: usize,
    /// Requests answered with 2xx.
    pub requests_ok: u64,
    /// Requests answered otherwise, or failed in transport.
    pub errors: u64,
    /// Measured wall time in seconds.
    pub seconds: f64,
    /// Successful requests per second.
    pub requests_per_s: f64,
    /// Median latency in ms (successful requests).
    pub latency_ms_p50: f64,
    /// 99th percentile latency in ms.
    pub latency_ms_p99: f64,
    /// Largest latency in ms.
    pub latency_ms_max: f64,
    /// Size of the last successful response body, in bytes.
    pub response_bytes: usize,
    /// The first error seen, if any (status and start of the body, or the transport error).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
}

/// The result of a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LoadReport {
    /// The server measured.
    pub server: String,
    /// Connections per measurement.
    pub connections: usize,
    /// The static route (raw actix ceiling).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ceiling: Option<Measurement>,
    /// Public verify lookups.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verify: Option<Measurement>,
    /// Signed commands.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commands: Option<Measurement>,
    /// Verify req/s over ceiling req/s (the aim is at least 0.5).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verify_to_ceiling: Option<f64>,
    /// How far the views were behind the log when the commands measurement ended, and how long
    /// they took to catch up (from the server's `/readyz`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub views_lag: Option<ViewsLag>,
}

/// The views' lag behind the log at the end of the commands measurement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ViewsLag {
    /// Entries on the log the views had not applied yet when the last command was answered.
    pub entries_behind: u64,
    /// Milliseconds until the views had applied everything on the log at that moment (`None`
    /// when they had not within 60 s, or `/readyz` did not answer).
    pub catch_up_ms: Option<u64>,
}

/// Reads `(log_size, views_applied)` from the server's `/readyz`.
fn readiness(conn: &mut Connection, host: &str) -> Option<(u64, u64)> {
    let response = conn.send(&request("GET", host, "/readyz", None)).ok()?;
    let value: serde_json::Value = serde_json::from_slice(&response.body).ok()?;
    Some((
        value.get("log_size")?.as_u64()?,
        value.get("views_applied")?.as_u64()?,
    ))
}

/// The views' lag right now, and how long they take to catch up with the log's current size.
fn views_lag(addr: SocketAddr, host: &str, timeout: Duration) -> Option<ViewsLag> {
    let mut conn = Connection::new(addr, timeout);
    let (size, applied) = readiness(&mut conn, host)?;
    let started = Instant::now();
    let deadline = started + Duration::from_secs(60);
    let mut caught_up = applied >= size;
    while !caught_up && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
        caught_up = readiness(&mut conn, host).is_some_and(|(_, a)| a >= size);
    }
    Some(ViewsLag {
        entries_behind: size.saturating_sub(applied),
        catch_up_ms: caught_up
            .then(|| u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)),
    })
}

/// Resolves the server URL to a loopback socket address.
///
/// # Errors
/// [`ClientError::BadUrl`] for a malformed URL, [`ClientError::Limit`] for a non-loopback
/// target.
pub fn loopback_target(server: &str) -> Result<(SocketAddr, String), ClientError> {
    let bad = |reason| ClientError::BadUrl {
        url: server.to_owned(),
        reason,
    };
    let authority = server
        .trim_end_matches('/')
        .strip_prefix("http://")
        .ok_or_else(|| bad("expected http://127.0.0.1:PORT"))?;
    if authority.contains('/') {
        return Err(bad("expected http://127.0.0.1:PORT with no path"));
    }
    let addrs: Vec<SocketAddr> = authority
        .to_socket_addrs()
        .map_err(|_| bad("host:port does not resolve"))?
        .collect();
    let addr = addrs
        .into_iter()
        .next()
        .ok_or_else(|| bad("host:port does not resolve"))?;
    if !addr.ip().is_loopback() {
        return Err(ClientError::Limit(format!(
            "the load generator only targets loopback addresses, not {addr}"
        )));
    }
    Ok((addr, authority.to_owned()))
}

fn check_options(o: &LoadOptions) -> Result<(), ClientError> {
    if o.connections == 0 || o.connections > CONNECTIONS_MAX {
        return Err(ClientError::Limit(format!(
            "connections must be 1 to {CONNECTIONS_MAX}"
        )));
    }
    if o.requests_max == 0 || o.requests_max > REQUESTS_MAX {
        return Err(ClientError::Limit(format!(
            "requests_max must be 1 to {REQUESTS_MAX}"
        )));
    }
    if o.duration.is_zero() || o.duration > DURATION_MAX || o.warmup > DURATION_MAX {
        return Err(ClientError::Limit(format!(
            "duration must be above zero and at most {} s",
            DURATION_MAX.as_secs()
        )));
    }
    if o.commands > COMMANDS_MAX {
        return Err(ClientError::Limit(format!(
            "at most {COMMANDS_MAX} commands may be pre-signed"
        )));
    }
    Ok(())
}

/// Runs the measurements the options ask for, one after the other, and reports them.
/// `progress` gets one line per phase (for stderr).
///
/// # Errors
/// Bad options or a non-loopback target. Failed requests are counted, not errors.
pub fn run(
    options: &LoadOptions,
    progress: &mut dyn FnMut(&str),
) -> Result<LoadReport, ClientError> {
    check_options(options)?;
    let (addr, host) = loopback_target(&options.server)?;
    let c = options.connections;
    let ceiling = match &options.static_path {
        Some(path) => {
            let path = static_route(addr, &host, path, options.request_timeout, progress);
            progress(&format!("ceiling: GET {path}, {c} connections"));
            let reqs = vec![request("GET", &host, &path, None)];
            Some(measure(
                "ceiling",
                &format!("GET {path}"),
                addr,
                options,
                &reqs,
                true,
            ))
        }
        None => None,
    };
    let verify = if options.listing_codes.is_empty() {
        None
    } else {
        progress(&format!(
            "verify: GET /v1/verify/listing/{{code}} over {} codes, {c} connections",
            options.listing_codes.len()
        ));
        let reqs: Vec<Vec<u8>> = options
            .listing_codes
            .iter()
            .map(|code| {
                let path = format!("/v1/verify/listing/{}", encode_segment(code));
                request("GET", &host, &path, None)
            })
            .collect();
        Some(measure(
            "verify",
            "GET /v1/verify/listing/{code}",
            addr,
            options,
            &reqs,
            true,
        ))
    };
    let commands = if options.commands == 0 {
        None
    } else {
        progress(&format!(
            "commands: pre-signing {} party.register commands",
            options.commands
        ));
        let reqs = presign_registrations(&host, options.commands, options.voucher_key.as_ref())?;
        progress(&format!(
            "commands: POST /v1/commands/party.register, {c} connections"
        ));
        Some(measure(
            "commands",
            "POST /v1/commands/party.register",
            addr,
            options,
            &reqs,
            false,
        ))
    };
    let views_lag = if commands.is_some() {
        views_lag(addr, &host, options.request_timeout)
    } else {
        None
    };
    let verify_to_ceiling = match (&ceiling, &verify) {
        (Some(c), Some(v)) if c.requests_per_s > 0.0 => Some(v.requests_per_s / c.requests_per_s),
        _ => None,
    };
    Ok(LoadReport {
        server: options.server.clone(),
        connections: c,
        ceiling,
        verify,
        commands,
        verify_to_ceiling,
        views_lag,
    })
}

/// The static route to measure: `path` if the server has it, else `/healthz` (the smallest
/// stateless JSON route every deedlog server has), said in `progress`.
fn static_route(
    addr: SocketAddr,
    host: &str,
    path: &str,
    timeout: Duration,
    progress: &mut dyn FnMut(&str),
) -> String {
    let mut probe = Connection::new(addr, timeout);
    match probe.send(&request("GET", host, path, None)) {
        Ok(r) if r.status == 404 && path != "/healthz" => {
            progress(&format!(
                "ceiling: the server has no {path}; measuring /healthz instead"
            ));
            "/healthz".to_owned()
        }
        _ => path.to_owned(),
    }
}

/// Pre-signs `n` `party.register` commands as raw requests, each by a fresh party (fresh key,
/// fresh id) with a fresh random 64-hex phone commitment and, with `voucher_key`, the phone
/// voucher the identity authority would issue (the load test skips the SMS round trip: it
/// measures the command path, not the identity provider), on all cores.
///
/// # Errors
/// [`ClientError::Command`] if signing fails (it does not for these shapes).
pub fn presign_registrations(
    host: &str,
    n: usize,
    voucher_key: Option<&deedlog_core::SecretKey>,
) -> Result<Vec<Vec<u8>>, ClientError> {
    let threads = std::thread::available_parallelism()
        .map_or(2, usize::from)
        .max(1);
    let per = n.div_ceil(threads);
    let results: Vec<Result<Vec<Vec<u8>>, ClientError>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let count = per.min(n.saturating_sub(t * per));
                s.spawn(move || {
                    (0..count)
                        .map(|_| {
                            let id = IdKind::Party.id(&format!("B{}", random_suffix()));
                            let actor = Actor::generate(id.clone());
                            let mut phone = [0u8; 32];
                            OsRng.fill_bytes(&mut phone);
                            let commitment = hex::encode(phone);
                            let mut payload = json!({ "phone_commitment": commitment });
                            if let Some(key) = voucher_key {
                                payload["voucher"] =
                                    json!(deedlog_domain::identity::sign_phone_voucher(
                                        key,
                                        &id,
                                        &actor.key(),
                                        &commitment,
                                        deedlog_client::actor::now_ms(),
                                    ));
                            }
                            let signed = actor.sign("party.register", &id, payload, Some(0))?;
                            let body = serde_json::to_vec(&signed).map_err(|e| {
                                ClientError::Limit(format!("command does not encode: {e}"))
                            })?;
                            Ok(request(
                                "POST",
                                host,
                                "/v1/commands/party.register",
                                Some(&body),
                            ))
                        })
                        .collect()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(ClientError::Limit("a signing thread panicked".into())))
            })
            .collect()
    });
    let mut out = Vec::with_capacity(n);
    for r in results {
        out.extend(r?);
    }
    Ok(out)
}

/// One thread's tally.
#[derive(Default)]
struct Tally {
    latencies_us: Vec<u32>,
    errors: u64,
    first_error: Option<String>,
    response_bytes: usize,
}

/// Sends `requests` over the connections until the duration passes or the count is reached.
/// With `cycle`, the requests are sent round-robin again and again (lookups); without, each is
/// sent once (commands).
fn measure(
    name: &str,
    label: &str,
    addr: SocketAddr,
    o: &LoadOptions,
    requests: &[Vec<u8>],
    cycle: bool,
) -> Measurement {
    let limit = if cycle {
        o.requests_max
    } else {
        o.requests_max.min(requests.len() as u64)
    };
    if cycle && !o.warmup.is_zero() {
        let _ = drive(addr, o, requests, true, o.warmup, o.requests_max);
    }
    let started = Instant::now();
    let tallies = drive(addr, o, requests, cycle, o.duration, limit);
    let seconds = started.elapsed().as_secs_f64();
    let mut all: Vec<u32> = Vec::new();
    let (mut errors, mut first_error, mut response_bytes) = (0, None, 0);
    for t in tallies {
        all.extend_from_slice(&t.latencies_us);
        errors += t.errors;
        if first_error.is_none() {
            first_error = t.first_error;
        }
        response_bytes = response_bytes.max(t.response_bytes);
    }
    all.sort_unstable();
    let pct = |p: f64| -> f64 {
        if all.is_empty() {
            return 0.0;
        }
        // Nearest-rank percentile.
        let rank = ((p / 100.0) * all.len() as f64).ceil() as usize;
        f64::from(all[rank.clamp(1, all.len()) - 1]) / 1000.0
    };
    let ok = all.len() as u64;
    Measurement {
        name: name.to_owned(),
        request: label.to_owned(),
        connections: o.connections,
        requests_ok: ok,
        errors,
        seconds,
        requests_per_s: if seconds > 0.0 {
            ok as f64 / seconds
        } else {
            0.0
        },
        latency_ms_p50: pct(50.0),
        latency_ms_p99: pct(99.0),
        latency_ms_max: all.last().map_or(0.0, |m| f64::from(*m) / 1000.0),
        response_bytes,
        first_error,
    }
}

fn drive(
    addr: SocketAddr,
    o: &LoadOptions,
    requests: &[Vec<u8>],
    cycle: bool,
    duration: Duration,
    limit: u64,
) -> Vec<Tally> {
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let deadline = Instant::now() + duration;
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..o.connections)
            .map(|_| {
                let (next, stop) = (&next, &stop);
                s.spawn(move || {
                    let mut conn = Connection::new(addr, o.request_timeout);
                    let mut tally = Tally::default();
                    loop {
                        if stop.load(Ordering::Relaxed) || Instant::now() >= deadline {
                            break;
                        }
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= limit || (!cycle && i >= requests.len()) {
                            stop.store(true, Ordering::Relaxed);
                            break;
                        }
                        let req = &requests[i % requests.len()];
                        let t0 = Instant::now();
                        match conn.send(req) {
                            Ok(r) if (200..300).contains(&r.status) => {
                                let us = t0.elapsed().as_micros();
                                tally
                                    .latencies_us
                                    .push(u32::try_from(us).unwrap_or(u32::MAX));
                                tally.response_bytes = r.body.len();
                            }
                            Ok(r) => {
                                tally.errors += 1;
                                if tally.first_error.is_none() {
                                    let body: String = String::from_utf8_lossy(&r.body)
                                        .chars()
                                        .take(200)
                                        .collect();
                                    tally.first_error = Some(format!("{}: {body}", r.status));
                                }
                            }
                            Err(e) => {
                                tally.errors += 1;
                                if tally.first_error.is_none() {
                                    tally.first_error = Some(e.to_string());
                                }
                                // A refused connection would otherwise spin.
                                std::thread::sleep(Duration::from_millis(1));
                            }
                        }
                    }
                    tally
                })
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read as _, Write as _};
    use std::net::TcpListener;

    /// A tiny keep-alive server answering every request with a fixed JSON body.
    fn static_server() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut s) = conn else { return };
                let _ = s.set_nodelay(true);
                std::thread::spawn(move || {
                    let mut buf = [0u8; 4096];
                    let mut pending = Vec::new();
                    loop {
                        let Ok(n) = s.read(&mut buf) else { return };
                        if n == 0 {
                            return;
                        }
                        pending.extend_from_slice(&buf[..n]);
                        while let Some(i) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
                            pending.drain(..i + 4);
                            let body = br#"{"ok":true}"#;
                            let mut out = format!(
                                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n",
                                body.len()
                            )
                            .into_bytes();
                            out.extend_from_slice(body);
                            if s.write_all(&out).is_err() {
                                return;
                            }
                        }
                    }
                });
            }
        });
        addr
    }

    #[test]
    fn measures_a_static_route_and_stops_by_count() {
        let addr = static_server();
        let options = LoadOptions {
            server: format!("http://{addr}"),
            connections: 4,
            duration: Duration::from_secs(20),
            requests_max: 2_000,
            warmup: Duration::ZERO,
            static_path: Some("/v1/ping".into()),
            listing_codes: vec![],
            commands: 0,
            request_timeout: Duration::from_secs(5),
            voucher_key: None,
        };
        let mut lines = Vec::new();
        let report = run(&options, &mut |l| lines.push(l.to_owned())).unwrap();
        let c = report.ceiling.clone().unwrap();
        assert!(c.requests_ok >= 1_990 && c.requests_ok <= 2_000, "{c:?}");
        assert_eq!(c.errors, 0);
        assert!(c.latency_ms_p50 <= c.latency_ms_p99 && c.latency_ms_p99 <= c.latency_ms_max);
        assert!(c.seconds < 20.0);
        assert_eq!(lines.len(), 1);
        let json = serde_json::to_value(&report).unwrap();
        assert!(json["ceiling"]["requests_per_s"].as_f64().unwrap() > 0.0);
        assert!(json.get("verify").is_none());
    }

    #[test]
    fn refuses_non_loopback_targets_and_unbounded_options() {
        assert!(matches!(
            loopback_target("http://192.0.2.1:80"),
            Err(ClientError::Limit(_))
        ));
        assert!(loopback_target("http://127.0.0.1:80").is_ok());
        assert!(loopback_target("https://127.0.0.1:80").is_err());
        let o = LoadOptions {
            connections: 0,
            ..LoadOptions::default()
        };
        assert!(run(&o, &mut |_| {}).is_err());
    }

    #[test]
    fn presigned_registrations_are_distinct_valid_commands() {
        let authority = deedlog_core::SecretKey::from_seed(&[3; 32]);
        let reqs = presign_registrations("127.0.0.1:1", 5, Some(&authority)).unwrap();
        assert_eq!(reqs.len(), 5);
        let bodies: Vec<deedlog_core::SignedCommand> = reqs
            .iter()
            .map(|r| {
                let text = String::from_utf8(r.clone()).unwrap();
                let body = text.split("\r\n\r\n").nth(1).unwrap();
                serde_json::from_str(body).unwrap()
            })
            .collect();
        for b in &bodies {
            b.verify().unwrap();
            assert_eq!(b.kind, "party.register");
            let p: deedlog_domain::payload::PartyRegister =
                serde_json::from_value(b.payload.clone()).unwrap();
            let v = p.voucher.unwrap();
            assert_eq!(
                (v.party.as_str(), v.key.as_str()),
                (b.actor.as_str(), b.key.as_str())
            );
            assert!(deedlog_domain::identity::phone_voucher_verifies(
                &v,
                &p.phone_commitment,
                &authority.public().to_base64()
            ));
        }
        assert_ne!(bodies[0].actor, bodies[1].actor);
    }
}
