//! Prometheus metrics, rendered by hand in the text exposition format (a handful of counters and
//! one histogram do not justify a metrics framework).

use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Request latency buckets, seconds.
const BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];

/// The relay's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    sync_requests: AtomicU64,
    changes_accepted: AtomicU64,
    changes_rejected: AtomicU64,
    documents_sent: AtomicU64,
    cached_documents: AtomicU64,
    blob_bytes_received: AtomicU64,
    documents_flagged: AtomicU64,
    alerts_fanned_out: AtomicU64,
    push_deliveries_queued: AtomicU64,
    push_attempts: Mutex<Vec<((&'static str, &'static str), u64)>>,
    alerts_raised: AtomicU64,
    connections_refused: AtomicU64,
    rate_limited: Mutex<Vec<(&'static str, u64)>>,
    http: Mutex<Vec<(u16, u64)>>,
    latency: Mutex<([u64; BUCKETS.len()], u64, f64)>,
}

impl Metrics {
    /// Counts one sync exchange.
    pub fn record_sync(&self, accepted: u64, rejected: u64, documents_sent: u64) {
        self.sync_requests.fetch_add(1, Ordering::Relaxed);
        self.changes_accepted.fetch_add(accepted, Ordering::Relaxed);
        self.changes_rejected.fetch_add(rejected, Ordering::Relaxed);
        self.documents_sent.fetch_add(documents_sent, Ordering::Relaxed);
    }

    /// The writer's cache size.
    pub fn set_cached_documents(&self, n: u64) {
        self.cached_documents.store(n, Ordering::Relaxed);
    }

    /// Counts blob bytes stored.
    pub fn record_blob_bytes(&self, n: u64) {
        self.blob_bytes_received.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts documents flagged (signed slips that do not verify).
    pub fn record_flags(&self, n: u64) {
        self.documents_flagged.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts an alert fanned out and the deliveries it queued.
    pub fn record_fan_out(&self, deliveries: u64) {
        self.alerts_fanned_out.fetch_add(1, Ordering::Relaxed);
        self.push_deliveries_queued.fetch_add(deliveries, Ordering::Relaxed);
    }

    /// Counts one push attempt by provider and outcome.
    pub fn record_push_attempt(&self, provider: &'static str, outcome: &'static str) {
        bump(&self.push_attempts, (provider, outcome));
    }

    /// Counts stall alerts the scheduler raised.
    pub fn record_alerts(&self, n: u64) {
        self.alerts_raised.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts a connection turned away at a connection cap.
    pub fn record_connection_refused(&self) {
        self.connections_refused.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a request refused by a rate limit, by limit.
    pub fn record_rate_limited(&self, limit: &'static str) {
        bump(&self.rate_limited, limit);
    }

    /// Counts one HTTP response and its latency.
    pub fn record_http(&self, status: u16, seconds: f64) {
        bump(&self.http, status);
        let mut latency = self.latency.lock().unwrap_or_else(|p| p.into_inner());
        for (bucket, bound) in latency.0.iter_mut().zip(BUCKETS) {
            if seconds <= bound {
                *bucket += 1;
            }
        }
        latency.1 += 1;
        latency.2 += seconds;
    }

    /// The metrics in Prometheus text format.
    pub fn render(&self, documents_stored: Option<u64>) -> String {
        let mut out = String::new();
        let mut counter = |name: &str, help: &str, value: u64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}");
        };
        counter(
            "fieldsync_sync_requests_total",
            "Sync exchanges answered.",
            self.sync_requests.load(Ordering::Relaxed),
        );
        counter(
            "fieldsync_changes_accepted_total",
            "Pushed changes stored or already known.",
            self.changes_accepted.load(Ordering::Relaxed),
        );
        counter(
            "fieldsync_changes_rejected_total",
            "Pushed changes refused.",
            self.changes_rejected.load(Ordering::Relaxed),
        );
        counter(
            "fieldsync_documents_sent_total",
            "Snapshots and changes sent to devices.",
            self.documents_sent.load(Ordering::Relaxed),
        );
        counter(
            "fieldsync_blob_bytes_received_total",
            "Blob bytes stored.",
            self.blob_bytes_received.load(Ordering::Relaxed),
        );
        counter(
            "fieldsync_documents_flagged_total",
            "Accepted documents flagged for supervisors (signed slips that do not verify).",
            self.documents_flagged.load(Ordering::Relaxed),
        );
        counter(
            "fieldsync_alerts_raised_total",
            "Stall alerts the scheduler raised.",
            self.alerts_raised.load(Ordering::Relaxed),
        );
        counter(
            "fieldsync_alerts_fanned_out_total",
            "Alerts fanned out to their recipients' push subscriptions.",
            self.alerts_fanned_out.load(Ordering::Relaxed),
        );
        counter(
            "fieldsync_push_deliveries_queued_total",
            "Push deliveries queued (one per alert and subscription).",
            self.push_deliveries_queued.load(Ordering::Relaxed),
        );
        counter(
            "fieldsync_connections_refused_total",
            "Connections turned away at the connection caps.",
            self.connections_refused.load(Ordering::Relaxed),
        );
        let _ = writeln!(
            out,
            "# HELP fieldsync_rate_limited_total Requests refused by a rate limit, by limit.\n# TYPE fieldsync_rate_limited_total counter"
        );
        for (limit, n) in self.rate_limited.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            let _ = writeln!(out, "fieldsync_rate_limited_total{{limit=\"{limit}\"}} {n}");
        }
        let _ = writeln!(
            out,
            "# HELP fieldsync_push_attempts_total Push delivery attempts by provider and outcome.\n# TYPE fieldsync_push_attempts_total counter"
        );
        for ((provider, outcome), n) in self.push_attempts.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            let _ = writeln!(
                out,
                "fieldsync_push_attempts_total{{provider=\"{provider}\",outcome=\"{outcome}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP fieldsync_cached_documents Documents merged in memory.\n# TYPE fieldsync_cached_documents gauge\nfieldsync_cached_documents {}",
            self.cached_documents.load(Ordering::Relaxed)
        );
        if let Some(n) = documents_stored {
            let _ = writeln!(
                out,
                "# HELP fieldsync_documents Documents stored.\n# TYPE fieldsync_documents gauge\nfieldsync_documents {n}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP fieldsync_http_responses_total HTTP responses by status.\n# TYPE fieldsync_http_responses_total counter"
        );
        for (status, n) in self.http.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            let _ = writeln!(out, "fieldsync_http_responses_total{{status=\"{status}\"}} {n}");
        }
        let latency = self.latency.lock().unwrap_or_else(|p| p.into_inner());
        let _ = writeln!(
            out,
            "# HELP fieldsync_http_request_seconds Request latency.\n# TYPE fieldsync_http_request_seconds histogram"
        );
        for (bucket, bound) in latency.0.iter().zip(BUCKETS) {
            let _ = writeln!(out, "fieldsync_http_request_seconds_bucket{{le=\"{bound}\"}} {bucket}");
        }
        let _ = writeln!(out, "fieldsync_http_request_seconds_bucket{{le=\"+Inf\"}} {}", latency.1);
        let _ = writeln!(out, "fieldsync_http_request_seconds_sum {}", latency.2);
        let _ = writeln!(out, "fieldsync_http_request_seconds_count {}", latency.1);
        out
    }
}

/// Adds one to the counter labelled `label` (a handful of labels each: a list beats a map).
fn bump<L: PartialEq>(counts: &Mutex<Vec<(L, u64)>>, label: L) {
    let mut counts = counts.lock().unwrap_or_else(|p| p.into_inner());
    match counts.iter_mut().find(|(l, _)| *l == label) {
        Some((_, n)) => *n += 1,
        None => counts.push((label, 1)),
    }
}

/// The push deliveries per state, as a gauge.
pub fn render_push_deliveries(counts: crate::storage::push::DeliveryCounts) -> String {
    let mut out = String::from(
        "# HELP fieldsync_push_deliveries Push deliveries by state.\n# TYPE fieldsync_push_deliveries gauge\n",
    );
    for (state, n) in [
        ("pending", counts.pending),
        ("delivered", counts.delivered),
        ("gone", counts.gone),
        ("failed", counts.failed),
    ] {
        let _ = writeln!(out, "fieldsync_push_deliveries{{state=\"{state}\"}} {n}");
    }
    out
}
