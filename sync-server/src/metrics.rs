//! Prometheus metrics, served as text at `GET /metrics`: push/pull counters, accepted
//! and rejected changes (by reason code), error answers by code, request latency per
//! route, ingest batch sizes and SQLite group-commit sizes. Labels carry codes and
//! route templates only, never personal data.

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry,
    TextEncoder,
};
use std::sync::LazyLock;

struct Metrics {
    registry: Registry,
    pushes: IntCounter,
    pulls: IntCounter,
    pulled: IntCounter,
    accepted: IntCounter,
    rejected: IntCounterVec,
    errors: IntCounterVec,
    latency: HistogramVec,
    batch: Histogram,
    group: Histogram,
}

static METRICS: LazyLock<Metrics> = LazyLock::new(|| {
    let registry = Registry::new();
    let pushes =
        IntCounter::new("tonghu_push_requests_total", "Push requests handled").expect("metric");
    let pulls =
        IntCounter::new("tonghu_pull_requests_total", "Pull requests handled").expect("metric");
    let pulled = IntCounter::new("tonghu_changes_pulled_total", "Changes handed out by pulls")
        .expect("metric");
    let accepted =
        IntCounter::new("tonghu_changes_accepted_total", "Changes newly stored").expect("metric");
    let rejected = IntCounterVec::new(
        Opts::new(
            "tonghu_changes_rejected_total",
            "Changes refused, by reason",
        ),
        &["code"],
    )
    .expect("metric");
    let errors = IntCounterVec::new(
        Opts::new("tonghu_error_responses_total", "Error answers, by code"),
        &["code"],
    )
    .expect("metric");
    let latency = HistogramVec::new(
        HistogramOpts::new(
            "tonghu_http_request_duration_seconds",
            "Request latency by route",
        )
        .buckets(vec![
            0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
        ]),
        &["route", "method"],
    )
    .expect("metric");
    let batch = Histogram::with_opts(
        HistogramOpts::new("tonghu_ingest_batch_changes", "Changes per ingested push")
            .buckets(vec![1.0, 10.0, 50.0, 100.0, 500.0, 1000.0, 5000.0]),
    )
    .expect("metric");
    let group = Histogram::with_opts(
        HistogramOpts::new(
            "tonghu_sqlite_group_commit_jobs",
            "Write jobs sharing one SQLite commit",
        )
        .buckets(vec![1.0, 2.0, 4.0, 8.0, 16.0, 64.0, 256.0]),
    )
    .expect("metric");
    for c in [&pushes, &pulls, &pulled, &accepted] {
        registry.register(Box::new(c.clone())).expect("register");
    }
    registry
        .register(Box::new(rejected.clone()))
        .expect("register");
    registry
        .register(Box::new(errors.clone()))
        .expect("register");
    registry
        .register(Box::new(latency.clone()))
        .expect("register");
    registry
        .register(Box::new(batch.clone()))
        .expect("register");
    registry
        .register(Box::new(group.clone()))
        .expect("register");
    Metrics {
        registry,
        pushes,
        pulls,
        pulled,
        accepted,
        rejected,
        errors,
        latency,
        batch,
        group,
    }
});

/// A push was handled.
pub fn push_handled() {
    METRICS.pushes.inc();
}

/// A pull page was handed out.
pub fn pull_handled(changes: usize) {
    METRICS.pulls.inc();
    METRICS.pulled.inc_by(changes as u64);
}

/// A batch was ingested: `accepted` changes, and one refusal code per change refused.
pub fn ingested<'a>(accepted: usize, rejected_codes: impl ExactSizeIterator<Item = &'a str>) {
    METRICS
        .batch
        .observe((accepted + rejected_codes.len()) as f64);
    METRICS.accepted.inc_by(accepted as u64);
    for code in rejected_codes {
        METRICS.rejected.with_label_values(&[code]).inc();
    }
}

/// An error answer was sent.
pub fn error_answered(code: &str) {
    METRICS.errors.with_label_values(&[code]).inc();
}

/// One SQLite group commit took `jobs` jobs.
pub fn group_commit(jobs: usize) {
    METRICS.group.observe(jobs as f64);
}

/// A request finished.
pub fn request_done(route: &str, method: &str, seconds: f64) {
    METRICS
        .latency
        .with_label_values(&[route, method])
        .observe(seconds);
}

/// The Prometheus text exposition of every metric.
pub fn render() -> String {
    let mut buf = Vec::new();
    let _ = TextEncoder::new().encode(&METRICS.registry.gather(), &mut buf);
    String::from_utf8(buf).unwrap_or_default()
}
