//! The `podwise-llm` binary: settings, telemetry, serve until SIGTERM, drain, exit.

fn main() -> std::process::ExitCode {
    podwise_common::bootstrap::run("podwise-llm", podwise_llm::serve)
}
