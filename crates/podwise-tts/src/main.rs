//! The `podwise-tts` binary: settings, telemetry, serve until SIGTERM, drain, exit.

fn main() -> std::process::ExitCode {
    podwise_common::bootstrap::run("podwise-tts", podwise_tts::serve)
}
