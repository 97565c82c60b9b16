//! The whole system as an operator runs it, for the tests that start it with
//! `scripts/start-all-services.sh`: the six binaries this test run built, on free ports,
//! with their data, logs, PIDs and (absent) `.env` in a scratch directory of their own.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Each service with the variable that sets its port, as the start script reads them.
const SERVICES: [(&str, &str); 6] = [
    ("gateway", "API_PORT"),
    ("rag", "RAG_PORT"),
    ("ml", "ML_PORT"),
    ("tts", "TTS_PORT"),
    ("stt", "STT_PORT"),
    ("llm", "LLM_PORT"),
];

pub(crate) fn repository_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The six services of one test. Dropped while the test panics, it runs the stop
/// script, so that a failed assertion leaves no process behind on the test's ports.
pub(crate) struct System {
    scratch: tempfile::TempDir,
    /// Each service, its port variable and its port.
    ports: Vec<(&'static str, &'static str, u16)>,
    bin_dir: PathBuf,
    extra: Vec<(String, String)>,
    /// What the start script printed.
    started: String,
}

impl System {
    /// Starts the six services with `extra` variables on top of the environment's.
    ///
    /// # Panics
    /// When a binary is missing or the start script fails, with its output.
    pub(crate) fn start(extra: &[(&str, &str)]) -> Self {
        let bin_dir = Path::new(env!("CARGO_BIN_EXE_podwise-gateway"))
            .parent()
            .expect("binary directory")
            .to_owned();
        for (service, _) in SERVICES {
            let binary = bin_dir.join(format!("podwise-{service}"));
            assert!(
                binary.exists(),
                "{} is missing: run 'cargo build --workspace --bins' first",
                binary.display()
            );
        }
        let mut system = Self {
            scratch: tempfile::tempdir().expect("temp dir"),
            ports: SERVICES
                .iter()
                .map(|&(service, var)| (service, var, podwise_common::testing::free_port()))
                .collect(),
            bin_dir,
            extra: extra
                .iter()
                .map(|&(name, value)| (name.to_owned(), value.to_owned()))
                .collect(),
            started: String::new(),
        };
        let started = system
            .script("start-all-services.sh")
            .output()
            .expect("start script runs");
        assert!(
            started.status.success(),
            "the start script failed:\n{}\n{}",
            String::from_utf8_lossy(&started.stdout),
            String::from_utf8_lossy(&started.stderr)
        );
        system.started = String::from_utf8_lossy(&started.stdout).into_owned();
        system
    }

    /// What the start script printed on its standard output.
    pub(crate) fn start_output(&self) -> &str {
        &self.started
    }

    /// `scripts/<name>` as an operator runs it against these services.
    pub(crate) fn script(&self, name: &str) -> Command {
        let scratch = self.scratch.path();
        let mut command = Command::new("bash");
        command
            .arg(repository_root().join("scripts").join(name))
            .env("PODWISE_BIN_DIR", &self.bin_dir)
            .env("PODWISE_RUN_DIR", scratch.join("run"))
            .env("PODWISE_LOG_DIR", scratch.join("logs"))
            .env("PODWISE_DATA_DIR", scratch.join("data"))
            .env("PODWISE_DOTENV", scratch.join("no.env"))
            .env_remove("PODWISE_OPERATOR_KEYS")
            .env_remove("RUST_LOG")
            .envs(self.extra.iter().map(|(name, value)| (name, value)));
        for (_, var, port) in &self.ports {
            command.env(var, port.to_string());
        }
        command
    }

    /// Where the services keep their data, logs and PIDs.
    pub(crate) fn dir(&self) -> &Path {
        self.scratch.path()
    }

    pub(crate) fn gateway_port(&self) -> u16 {
        self.ports[0].2
    }

    /// Each service with its port, the gateway first.
    pub(crate) fn ports(&self) -> impl Iterator<Item = (&'static str, u16)> + '_ {
        self.ports.iter().map(|&(service, _, port)| (service, port))
    }

    /// Stops the services with the stop script and checks that each one saw SIGTERM,
    /// drained and logged no error.
    pub(crate) fn stop_cleanly(&self) {
        let stopped = self.stop();
        assert!(
            stopped.status.success(),
            "{}",
            String::from_utf8_lossy(&stopped.stderr)
        );
        for (service, _) in self.ports() {
            let log = std::fs::read_to_string(self.dir().join(format!("logs/{service}.log")))
                .expect("log exists");
            assert!(
                log.contains("stop signal received"),
                "{service} did not see SIGTERM:\n{log}"
            );
            assert!(log.contains("drained"), "{service} did not drain:\n{log}");
            assert!(
                !log.contains(" ERROR "),
                "{service} logged an error:\n{log}"
            );
        }
    }

    fn stop(&self) -> Output {
        self.script("stop-all-services.sh")
            .output()
            .expect("stop script runs")
    }
}

impl Drop for System {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.stop();
        }
    }
}
