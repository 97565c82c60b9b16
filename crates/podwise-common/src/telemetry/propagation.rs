//! W3C trace context across service boundaries: injected into outgoing gRPC metadata
//! and extracted from incoming HTTP/gRPC headers, so one trace follows a request from the
//! gateway through every service it touches.

use opentelemetry::Context;
use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// Installs the W3C `traceparent` propagator as the process-wide default.
pub fn install_propagator() {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
}

/// Writes the current span's trace context into outgoing gRPC metadata.
pub fn inject_current_context(metadata: &mut tonic::metadata::MetadataMap) {
    let context = tracing::Span::current().context();
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&context, &mut MetadataInjector(metadata));
    });
}

/// Reads a trace context from incoming HTTP headers (gRPC requests included).
pub fn extract_context(headers: &http::HeaderMap) -> Context {
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.extract(&HeaderExtractor(headers))
    })
}

/// Makes `span` a child of the trace described by `headers`, when they carry one.
pub fn set_parent_from_headers(span: &tracing::Span, headers: &http::HeaderMap) {
    if headers.contains_key("traceparent") {
        // A malformed parent only loses the link between traces; nothing to report.
        let _ = span.set_parent(extract_context(headers));
    }
}

struct MetadataInjector<'a>(&'a mut tonic::metadata::MetadataMap);

impl Injector for MetadataInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(key), Ok(value)) = (
            tonic::metadata::MetadataKey::from_bytes(key.as_bytes()),
            tonic::metadata::MetadataValue::try_from(value.as_str()),
        ) {
            self.0.insert(key, value);
        }
    }
}

/// Reads headers for the propagator; public so the gateway can adapt its own header type.
#[derive(Debug)]
pub struct HeaderExtractor<'a>(pub &'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::TracerProvider as _;
    use tracing_subscriber::layer::SubscriberExt as _;

    use super::*;

    const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

    #[test]
    fn an_incoming_trace_continues_into_outgoing_grpc_metadata() {
        install_propagator();
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        let mut incoming = http::HeaderMap::new();
        incoming.insert(
            "traceparent",
            format!("00-{TRACE_ID}-00f067aa0ba902b7-01")
                .parse()
                .expect("header"),
        );

        let mut outgoing = tonic::metadata::MetadataMap::new();
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("request");
            set_parent_from_headers(&span, &incoming);
            span.in_scope(|| inject_current_context(&mut outgoing));
        });

        let traceparent = outgoing
            .get("traceparent")
            .and_then(|v| v.to_str().ok())
            .expect("traceparent injected");
        assert!(traceparent.contains(TRACE_ID), "{traceparent}");
        assert!(
            !traceparent.contains("00f067aa0ba902b7"),
            "a new span id for this hop"
        );
    }
}
