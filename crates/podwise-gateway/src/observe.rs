//! Per-request id, span, log line and metrics.
//!
//! The request id comes from the caller's `x-request-id` when it is sane, otherwise a
//! fresh UUID; it is echoed in the response and passed to services in gRPC metadata.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage as _};
use podwise_common::metrics::metric_name;
use podwise_common::server::REQUEST_ID_HEADER;
use podwise_common::telemetry::propagation;
use tracing::Instrument as _;

/// The id of the request being served, available to handlers as an extension.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

const MAX_REQUEST_ID_LEN: usize = 128;

pub(crate) async fn observe(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let request_id = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= MAX_REQUEST_ID_LEN)
        .filter(|v| {
            v.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        })
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    request
        .extensions_mut()
        .insert(RequestId(request_id.clone()));

    // Label by route pattern, never by raw path, to keep metric cardinality bounded.
    let route = request
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = request.method().to_string();
    let span = tracing::info_span!("request", %method, route = %route, request_id = %request_id);
    propagation::set_parent_from_headers(&span, &http_headers(&request));

    let mut response = next.call(request).instrument(span.clone()).await?;

    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response
            .headers_mut()
            .insert(HeaderName::from_static(REQUEST_ID_HEADER), value);
    }
    span.in_scope(|| {
        tracing::debug!(
            status,
            elapsed_ms = elapsed.as_millis() as u64,
            "request served"
        );
    });
    metrics::counter!(
        metric_name("gateway", "requests_total"),
        "route" => route.clone(),
        "method" => method,
        "status" => status.to_string()
    )
    .increment(1);
    metrics::histogram!(metric_name("gateway", "request_duration_seconds"), "route" => route)
        .record(elapsed.as_secs_f64());
    Ok(response)
}

/// actix-web speaks `http` 0.2 while the tracing propagator reads `http` 1 headers: copy
/// the one header it needs.
fn http_headers(request: &ServiceRequest) -> http::HeaderMap {
    let mut headers = http::HeaderMap::new();
    for name in ["traceparent", "tracestate"] {
        if let Some(value) = request.headers().get(name)
            && let Ok(value) = http::HeaderValue::from_bytes(value.as_bytes())
        {
            headers.insert(name, value);
        }
    }
    headers
}
