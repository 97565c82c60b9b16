//! The start-up sequence every service binary shares, so each `main.rs` is one line.
//!
//! Settings, then the runtime, then telemetry, then the service until a stop signal, then
//! a flush of telemetry. Keeping the async entry point here (instead of a
//! `#[tokio::main]` per binary) also spares release builds from compiling the runtime's
//! machinery once per binary.

use std::process::ExitCode;

use futures_util::future::BoxFuture;
use tokio_util::sync::CancellationToken;
use tracing::{error, info};

use crate::settings::Settings;
use crate::telemetry;

/// A service's entry point: serve with these settings until the token is cancelled.
pub type ServeFn = fn(Settings, CancellationToken) -> BoxFuture<'static, anyhow::Result<()>>;

/// Exit status when the settings are invalid, distinct from a runtime failure.
const EXIT_BAD_SETTINGS: u8 = 2;

/// Runs a service binary named `binary` (for example `podwise-rag`) to completion.
pub fn run(binary: &'static str, serve: ServeFn) -> ExitCode {
    let settings = match Settings::load() {
        Ok(settings) => settings,
        Err(error) => {
            // Telemetry is not up yet: this is the one place that prints directly.
            eprintln!("{binary}: {error}");
            return ExitCode::from(EXIT_BAD_SETTINGS);
        }
    };

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(settings.server.worker_threads)
        .thread_name(binary)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("{binary}: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };

    let code = runtime.block_on(async move {
        let _telemetry = match telemetry::init(binary, &settings) {
            Ok(guard) => guard,
            Err(error) => {
                eprintln!("{binary}: cannot set up logging: {error:#}");
                return ExitCode::FAILURE;
            }
        };
        info!(
            service = binary,
            version = %settings.app.version,
            environment = ?settings.app.environment,
            profile = %settings.profile,
            "starting"
        );

        let shutdown = CancellationToken::new();
        tokio::spawn(cancel_on_signal(shutdown.clone()));
        match serve(settings, shutdown).await {
            Ok(()) => {
                info!(service = binary, "stopped");
                ExitCode::SUCCESS
            }
            Err(error) => {
                error!(
                    service = binary,
                    error = format!("{error:#}"),
                    "stopped on an error"
                );
                ExitCode::FAILURE
            }
        }
    });
    // Background tasks still running (refreshers, idle connections) are cancelled here.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    code
}

/// Cancels `token` on SIGTERM (Kubernetes, the stop script) or SIGINT (Ctrl-C).
async fn cancel_on_signal(token: CancellationToken) {
    let signal = wait_for_signal().await;
    info!(signal, "stop signal received");
    token.cancel();
}

#[cfg(unix)]
async fn wait_for_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut terminate) = signal(SignalKind::terminate()) else {
        let _ = tokio::signal::ctrl_c().await;
        return "SIGINT";
    };
    tokio::select! {
        _ = terminate.recv() => "SIGTERM",
        _ = tokio::signal::ctrl_c() => "SIGINT",
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() -> &'static str {
    let _ = tokio::signal::ctrl_c().await;
    "Ctrl-C"
}
