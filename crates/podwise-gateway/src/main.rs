//! The `podwise-gateway` binary: settings, telemetry, serve until SIGTERM, drain, exit.

fn main() -> std::process::ExitCode {
    podwise_common::bootstrap::run("podwise-gateway", podwise_gateway::serve)
}
