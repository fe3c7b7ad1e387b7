//! Prometheus metrics, written in the text exposition format by hand (a few counters and one
//! histogram do not justify a client library).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Upper bounds of the batch-size histogram buckets.
const BATCH_BUCKETS: [u64; 10] = [1, 2, 4, 8, 16, 64, 256, 1024, 2048, 4096];
/// Most distinct label sets kept per counter (route patterns and codes are bounded anyway).
const SERIES_MAX: usize = 4096;

/// The counters.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, u16), u64>>,
    commands: Mutex<BTreeMap<(&'static str, String), u64>>,
    batches: Mutex<([u64; BATCH_BUCKETS.len()], u64, u64)>,
    /// Open follow streams.
    pub follow_streams: AtomicU64,
}

fn bump<K: Ord>(map: &Mutex<BTreeMap<K, u64>>, key: K) {
    let mut m = map
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if m.len() < SERIES_MAX || m.contains_key(&key) {
        *m.entry(key).or_insert(0) += 1;
    }
}

fn escape(label: &str) -> String {
    label
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Metrics {
    /// Counts a request by route pattern and status.
    pub fn request(&self, route: &str, status: u16) {
        bump(&self.requests, (route.to_owned(), status));
    }

    /// Counts a command: `accepted`, `duplicate` or `rejected` with its code.
    pub fn command(&self, result: &'static str, code: &str) {
        bump(&self.commands, (result, code.to_owned()));
    }

    /// Observes one committed batch of `entries` entries.
    pub fn batch(&self, entries: u64) {
        let mut b = self
            .batches
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (i, bound) in BATCH_BUCKETS.iter().enumerate() {
            if entries <= *bound {
                b.0[i] += 1;
            }
        }
        b.1 += 1;
        b.2 += entries;
    }

    /// The text exposition.
    #[must_use]
    pub fn render(&self, log_size: u64, views_applied: u64) -> String {
        let mut out = String::new();
        out.push_str("# HELP deedlog_http_requests_total HTTP requests by route pattern and status.\n# TYPE deedlog_http_requests_total counter\n");
        for ((route, status), n) in self
            .requests
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
        {
            let _ = writeln!(
                out,
                "deedlog_http_requests_total{{route=\"{}\",status=\"{status}\"}} {n}",
                escape(route)
            );
        }
        out.push_str("# HELP deedlog_commands_total Commands by result and code.\n# TYPE deedlog_commands_total counter\n");
        for ((result, code), n) in self
            .commands
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
        {
            let _ = writeln!(
                out,
                "deedlog_commands_total{{result=\"{result}\",code=\"{}\"}} {n}",
                escape(code)
            );
        }
        let _ = writeln!(
            out,
            "# HELP deedlog_log_size Entries in the log.\n# TYPE deedlog_log_size gauge\ndeedlog_log_size {log_size}"
        );
        let _ = writeln!(
            out,
            "# HELP deedlog_views_applied Entries applied to the views.\n# TYPE deedlog_views_applied gauge\ndeedlog_views_applied {views_applied}"
        );
        let _ = writeln!(
            out,
            "# HELP deedlog_follow_streams Open follow streams.\n# TYPE deedlog_follow_streams gauge\ndeedlog_follow_streams {}",
            self.follow_streams.load(Ordering::Relaxed)
        );
        out.push_str("# HELP deedlog_batch_size Entries per committed batch (one checkpoint each).\n# TYPE deedlog_batch_size histogram\n");
        let b = self
            .batches
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (i, bound) in BATCH_BUCKETS.iter().enumerate() {
            let _ = writeln!(
                out,
                "deedlog_batch_size_bucket{{le=\"{bound}\"}} {}",
                b.0[i]
            );
        }
        let _ = writeln!(
            out,
            "deedlog_batch_size_bucket{{le=\"+Inf\"}} {}\ndeedlog_batch_size_sum {}\ndeedlog_batch_size_count {}",
            b.1, b.2, b.1
        );
        out
    }
}
