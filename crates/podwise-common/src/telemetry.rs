//! Logging and tracing set-up for one process.
//!
//! Logs go to stdout: JSON in production or inside Kubernetes (for log collectors),
//! readable text otherwise. `RUST_LOG` wins over `LOG_LEVEL`. When
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set, spans are also exported over OTLP/gRPC and the
//! W3C trace context is propagated across service calls (see [`propagation`]).

pub mod propagation;

use std::io::IsTerminal;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::settings::{Environment, LogFormat, Settings};

/// Keeps the trace exporter alive; dropping it flushes the spans still buffered.
#[must_use = "dropping the guard stops trace export"]
#[derive(Debug)]
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take()
            && let Err(error) = provider.shutdown()
        {
            eprintln!("podwise: flushing traces failed: {error}");
        }
    }
}

/// Installs the global subscriber for the service named `service` (for example
/// `podwise-rag`). Must run inside the Tokio runtime when OTLP export is on.
///
/// # Errors
/// When the log filter does not parse or the OTLP exporter cannot be built.
pub fn init(service: &str, settings: &Settings) -> anyhow::Result<TelemetryGuard> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(directives) if !directives.is_empty() => EnvFilter::try_new(directives)?,
        _ => EnvFilter::try_new(with_quiet_dependencies(&settings.log.level))?,
    };

    let json = match settings.log.format {
        LogFormat::Json => true,
        LogFormat::Pretty => false,
        LogFormat::Auto => {
            settings.app.environment == Environment::Production
                || std::env::var_os("KUBERNETES_SERVICE_HOST").is_some()
        }
    };
    let ansi = !json && std::io::stdout().is_terminal();
    let (json_layer, text_layer) = if json {
        let layer = tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false);
        (Some(layer), None)
    } else {
        (
            None,
            Some(
                tracing_subscriber::fmt::layer()
                    .with_ansi(ansi)
                    .with_target(true),
            ),
        )
    };

    let provider = match &settings.telemetry.otlp_endpoint {
        Some(endpoint) => Some(otlp_provider(service, endpoint)?),
        None => None,
    };
    let otel_layer = provider.as_ref().map(|provider| {
        tracing_opentelemetry::layer().with_tracer(provider.tracer(service.to_owned()))
    });
    propagation::install_propagator();

    tracing_subscriber::registry()
        .with(filter)
        .with(json_layer)
        .with(text_layer)
        .with(otel_layer)
        .try_init()?;
    Ok(TelemetryGuard { provider })
}

fn otlp_provider(service: &str, endpoint: &str) -> anyhow::Result<SdkTracerProvider> {
    use opentelemetry_otlp::WithExportConfig as _;

    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint)
        .build()?;
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            Resource::builder()
                .with_service_name(service.to_owned())
                .build(),
        )
        .build())
}

/// Transport crates log every connection at DEBUG; keep them at WARN unless the operator
/// names them explicitly.
fn with_quiet_dependencies(level: &str) -> String {
    let mut directives = level.to_owned();
    for noisy in [
        "h2",
        "hyper",
        "hyper_util",
        "tower",
        "tonic",
        "actix_server",
    ] {
        if !level.contains(noisy) {
            directives.push_str(&format!(",{noisy}=warn"));
        }
    }
    directives
}
