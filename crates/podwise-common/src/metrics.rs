//! Prometheus metrics: one process-wide recorder, rendered by every `/metrics` endpoint.
//!
//! Metric names follow `podwise_<service>_<what>`; latency histograms use the explicit
//! buckets below so dashboards can compare services.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Latency buckets in seconds: from a cache hit to a long transcription.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
];

/// Throughput buckets in tokens per second: from a CPU model under load to a hosted one.
pub const TOKENS_PER_SECOND_BUCKETS: &[f64] = &[
    1.0, 2.5, 5.0, 10.0, 20.0, 35.0, 50.0, 75.0, 100.0, 150.0, 250.0, 500.0,
];

/// Real-time factor buckets (seconds of compute per second of audio made or heard): below
/// 1 is faster than real time.
pub const REAL_TIME_FACTOR_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 5.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the recorder on first use and returns the handle that renders it.
///
/// Several services may run in one test process; they share the recorder, which is why
/// metric names carry the service name.
pub fn handle() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), LATENCY_BUCKETS)
            .expect("the bucket list is not empty")
            .set_buckets_for_metric(
                Matcher::Suffix("_tokens_per_second".to_owned()),
                TOKENS_PER_SECOND_BUCKETS,
            )
            .expect("the bucket list is not empty")
            .set_buckets_for_metric(
                Matcher::Suffix("_real_time_factor".to_owned()),
                REAL_TIME_FACTOR_BUCKETS,
            )
            .expect("the bucket list is not empty");
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        // Another recorder may already be installed (a test harness); then this
        // process's metrics go there and `/metrics` renders only what this handle sees.
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("a metrics recorder was already installed; /metrics may be empty");
        }
        handle
    })
}

/// The Prometheus text exposition of every metric recorded so far.
pub fn render() -> String {
    handle().render()
}

/// Prefixes a metric name with the service: `metric_name("rag", "requests_total")`.
pub fn metric_name(service: &str, what: &str) -> String {
    format!("podwise_{service}_{what}")
}
