//! Per-request span, request log and metrics for the services' shared port.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument as _;

use crate::metrics::metric_name;
use crate::telemetry::propagation;

/// Header that carries a request id from the gateway through every service.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

pub(super) async fn observe(
    State(service): State<&'static str>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let is_grpc = request
        .headers()
        .get(http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"));
    // Label by route, never by raw path, so a stray client cannot explode cardinality.
    let route = match request.extensions().get::<MatchedPath>() {
        Some(_) if is_grpc => request.uri().path().to_owned(),
        Some(matched) => matched.as_str().to_owned(),
        None => "unmatched".to_owned(),
    };
    let request_id = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();

    let span = tracing::info_span!("request", service, route = %route, request_id = %request_id);
    propagation::set_parent_from_headers(&span, request.headers());

    let response = next.run(request).instrument(span.clone()).await;

    let elapsed = started.elapsed();
    let status = if is_grpc {
        // Errors answered before any message put grpc-status in the headers; a missing
        // one means the call went on to stream, and its status is in the trailers.
        let code = response
            .headers()
            .get("grpc-status")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("0");
        format!("grpc-{code}")
    } else {
        response.status().as_u16().to_string()
    };
    let route = if status == "grpc-12" {
        "unknown-method".to_owned()
    } else {
        route
    };
    span.in_scope(|| {
        tracing::debug!(status = %status, elapsed_ms = elapsed.as_millis() as u64, "request served");
    });
    metrics::counter!(
        metric_name(service, "requests_total"),
        "route" => route.clone(),
        "status" => status
    )
    .increment(1);
    metrics::histogram!(metric_name(service, "request_duration_seconds"), "route" => route)
        .record(elapsed.as_secs_f64());
    response
}
