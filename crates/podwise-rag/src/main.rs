//! The `podwise-rag` binary: settings, telemetry, serve until SIGTERM, drain, exit.

fn main() -> std::process::ExitCode {
    podwise_common::bootstrap::run("podwise-rag", podwise_rag::serve)
}
