//! The `podwise-ml` binary: settings, telemetry, serve until SIGTERM, drain, exit.

fn main() -> std::process::ExitCode {
    podwise_common::bootstrap::run("podwise-ml", podwise_ml::serve)
}
