//! Prometheus metrics through the `prometheus` crate: one registry per server, rendered in the
//! text exposition format (`text/plain; version=0.0.4`) by its encoder.

use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use prometheus::{
    Encoder as _, Histogram, HistogramOpts, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};

/// Upper bounds of the batch-size histogram buckets.
const BATCH_BUCKETS: [f64; 10] = [
    1.0, 2.0, 4.0, 8.0, 16.0, 64.0, 256.0, 1024.0, 2048.0, 4096.0,
];
/// Most distinct label sets kept per counter. Route patterns, statuses and codes are bounded by
/// the route table and the catalogue already; this bound holds even if one of them were not,
/// so that no caller can grow the registry without end.
const SERIES_MAX: usize = 4096;

/// The server's metrics.
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    requests_seen: Mutex<HashSet<(String, u16)>>,
    commands: IntCounterVec,
    commands_seen: Mutex<HashSet<(&'static str, String)>>,
    batches: Histogram,
    log_size: IntGauge,
    views_applied: IntGauge,
    follow_gauge: IntGauge,
    /// Open follow streams (counted by the streams themselves; read into the gauge on render).
    pub follow_streams: AtomicU64,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Whether `key` may be counted: it was seen before, or there is room for one more series.
fn admit<K: std::hash::Hash + Eq>(seen: &Mutex<HashSet<K>>, key: K) -> bool {
    let mut seen = seen
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if seen.contains(&key) {
        return true;
    }
    if seen.len() >= SERIES_MAX {
        return false;
    }
    seen.insert(key);
    true
}

impl Metrics {
    /// A fresh registry with every metric at zero.
    ///
    /// # Panics
    /// Never: the names, help texts and buckets are constants the registry accepts (a test
    /// registers them), so registration cannot fail.
    #[must_use]
    pub fn new() -> Self {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "deedlog_http_requests_total",
                "HTTP requests by route pattern and status.",
            ),
            &["route", "status"],
        )
        .expect("a valid counter");
        let commands = IntCounterVec::new(
            Opts::new("deedlog_commands_total", "Commands by result and code."),
            &["result", "code"],
        )
        .expect("a valid counter");
        let batches = Histogram::with_opts(
            HistogramOpts::new(
                "deedlog_batch_size",
                "Entries per committed batch (one checkpoint each).",
            )
            .buckets(BATCH_BUCKETS.to_vec()),
        )
        .expect("a valid histogram");
        let log_size =
            IntGauge::new("deedlog_log_size", "Entries in the log.").expect("a valid gauge");
        let views_applied = IntGauge::new("deedlog_views_applied", "Entries applied to the views.")
            .expect("a valid gauge");
        let follow_gauge =
            IntGauge::new("deedlog_follow_streams", "Open follow streams.").expect("a valid gauge");
        for collector in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(commands.clone()),
            Box::new(log_size.clone()),
            Box::new(views_applied.clone()),
            Box::new(follow_gauge.clone()),
            Box::new(batches.clone()),
        ] {
            registry.register(collector).expect("distinct metric names");
        }
        Self {
            registry,
            requests,
            requests_seen: Mutex::default(),
            commands,
            commands_seen: Mutex::default(),
            batches,
            log_size,
            views_applied,
            follow_gauge,
            follow_streams: AtomicU64::new(0),
        }
    }

    /// Counts a request by route pattern and status.
    pub fn request(&self, route: &str, status: u16) {
        if admit(&self.requests_seen, (route.to_owned(), status)) {
            self.requests
                .with_label_values(&[route, &status.to_string()])
                .inc();
        }
    }

    /// Counts a command: `accepted`, `duplicate` or `rejected` with its code.
    pub fn command(&self, result: &'static str, code: &str) {
        if admit(&self.commands_seen, (result, code.to_owned())) {
            self.commands.with_label_values(&[result, code]).inc();
        }
    }

    /// Observes one committed batch of `entries` entries.
    pub fn batch(&self, entries: u64) {
        // A batch holds at most a few thousand entries, far inside f64's exact integers.
        self.batches.observe(entries as f64);
    }

    /// The text exposition, with the log's size and the views' progress as given.
    #[must_use]
    pub fn render(&self, log_size: u64, views_applied: u64) -> String {
        self.log_size
            .set(i64::try_from(log_size).unwrap_or(i64::MAX));
        self.views_applied
            .set(i64::try_from(views_applied).unwrap_or(i64::MAX));
        self.follow_gauge
            .set(i64::try_from(self.follow_streams.load(Ordering::Relaxed)).unwrap_or(i64::MAX));
        let mut out = Vec::new();
        if let Err(error) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            // The encoder fails only on metrics it cannot name, which these are not; an empty
            // page is what a scraper then sees, and the log says why.
            tracing::error!(%error, "encoding the metrics failed");
        }
        String::from_utf8(out).unwrap_or_default()
    }

    /// The content type of [`Metrics::render`]'s text.
    #[must_use]
    pub fn content_type() -> String {
        TextEncoder::new().format_type().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// One sample line of the exposition: name, labels and value.
    type Sample = (String, BTreeMap<String, String>, f64);

    /// Parses the text exposition format strictly enough to catch a malformed page: `# HELP`
    /// and `# TYPE` comments, then `name{label="value",...} number` lines with escaped labels.
    fn parse(text: &str) -> (BTreeMap<String, String>, Vec<Sample>) {
        let mut types = BTreeMap::new();
        let mut samples = Vec::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').expect("TYPE name kind");
                types.insert(name.to_owned(), kind.to_owned());
                continue;
            }
            if line.starts_with("# HELP ") || line.is_empty() {
                continue;
            }
            assert!(!line.starts_with('#'), "unknown comment {line}");
            let (series, value) = line.rsplit_once(' ').expect("series value");
            let value = match value {
                "+Inf" => f64::INFINITY,
                v => v.parse::<f64>().expect("a number"),
            };
            let (name, labels) = match series.split_once('{') {
                None => (series.to_owned(), BTreeMap::new()),
                Some((name, rest)) => {
                    let body = rest.strip_suffix('}').expect("closing brace");
                    let mut labels = BTreeMap::new();
                    let mut chars = body.chars().peekable();
                    while chars.peek().is_some() {
                        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
                        assert_eq!(chars.next(), Some('"'), "quoted value in {line}");
                        let mut value = String::new();
                        loop {
                            match chars.next().expect("closing quote") {
                                '"' => break,
                                '\\' => match chars.next().expect("escape") {
                                    'n' => value.push('\n'),
                                    c => value.push(c),
                                },
                                c => value.push(c),
                            }
                        }
                        labels.insert(key.trim_start_matches(',').to_owned(), value);
                        if chars.peek() == Some(&',') {
                            chars.next();
                        }
                    }
                    (name.to_owned(), labels)
                }
            };
            samples.push((name, labels, value));
        }
        (types, samples)
    }

    fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        samples
            .iter()
            .find(|(n, l, _)| {
                n == name
                    && l.len() == labels.len()
                    && labels
                        .iter()
                        .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|s| s.2)
    }

    #[test]
    fn the_exposition_parses_with_the_same_names_and_values() {
        let m = Metrics::new();
        m.request("/v1/commands/{kind}", 201);
        m.request("/v1/commands/{kind}", 201);
        m.request("/v1/commands/{kind}", 409);
        m.request("weird \"route\"\nwith \\ escapes", 404);
        m.command("accepted", "");
        m.command("rejected", "command.stale");
        m.batch(1);
        m.batch(3);
        m.batch(5000);
        m.follow_streams.fetch_add(2, Ordering::Relaxed);
        let text = m.render(42, 40);
        let (types, samples) = parse(&text);
        assert_eq!(types["deedlog_http_requests_total"], "counter");
        assert_eq!(types["deedlog_commands_total"], "counter");
        assert_eq!(types["deedlog_log_size"], "gauge");
        assert_eq!(types["deedlog_views_applied"], "gauge");
        assert_eq!(types["deedlog_follow_streams"], "gauge");
        assert_eq!(types["deedlog_batch_size"], "histogram");
        let requests = "deedlog_http_requests_total";
        let route = ("route", "/v1/commands/{kind}");
        assert_eq!(
            value(&samples, requests, &[route, ("status", "201")]),
            Some(2.0)
        );
        assert_eq!(
            value(&samples, requests, &[route, ("status", "409")]),
            Some(1.0)
        );
        assert_eq!(
            value(
                &samples,
                requests,
                &[
                    ("route", "weird \"route\"\nwith \\ escapes"),
                    ("status", "404")
                ]
            ),
            Some(1.0),
            "labels are escaped and read back whole"
        );
        let commands = "deedlog_commands_total";
        assert_eq!(
            value(
                &samples,
                commands,
                &[("result", "rejected"), ("code", "command.stale")]
            ),
            Some(1.0)
        );
        assert_eq!(value(&samples, "deedlog_log_size", &[]), Some(42.0));
        assert_eq!(value(&samples, "deedlog_views_applied", &[]), Some(40.0));
        assert_eq!(value(&samples, "deedlog_follow_streams", &[]), Some(2.0));
        let bucket = "deedlog_batch_size_bucket";
        assert_eq!(value(&samples, bucket, &[("le", "1")]), Some(1.0));
        assert_eq!(value(&samples, bucket, &[("le", "4")]), Some(2.0));
        assert_eq!(value(&samples, bucket, &[("le", "4096")]), Some(2.0));
        assert_eq!(value(&samples, bucket, &[("le", "+Inf")]), Some(3.0));
        assert_eq!(value(&samples, "deedlog_batch_size_sum", &[]), Some(5004.0));
        assert_eq!(value(&samples, "deedlog_batch_size_count", &[]), Some(3.0));
        assert_eq!(Metrics::content_type(), "text/plain; version=0.0.4");
    }

    #[test]
    fn label_sets_are_bounded() {
        let m = Metrics::new();
        for i in 0..SERIES_MAX + 100 {
            m.request(&format!("/r/{i}"), 200);
        }
        // A known series still counts once the bound is reached; new ones do not appear.
        m.request("/r/0", 200);
        let (_, samples) = parse(&m.render(0, 0));
        let series = samples
            .iter()
            .filter(|(n, _, _)| n == "deedlog_http_requests_total")
            .count();
        assert_eq!(series, SERIES_MAX);
        assert_eq!(
            value(
                &samples,
                "deedlog_http_requests_total",
                &[("route", "/r/0"), ("status", "200")]
            ),
            Some(2.0)
        );
    }
}
