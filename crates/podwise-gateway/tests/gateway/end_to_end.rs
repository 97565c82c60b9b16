//! The whole system as an operator runs it: `scripts/start-all-services.sh` brings up the
//! six binaries built by this test run, `curl` checks every port and asks the gateway for
//! speech, `scripts/ingest-audio-directory.sh` ingests that speech as an episode which a
//! question then finds, and `scripts/stop-all-services.sh` stops them with SIGTERM. On
//! the way, every metric the Grafana dashboard queries must appear in some service's
//! `/metrics` (`scripts/check-dashboard-metrics.py`).

use std::path::{Path, PathBuf};
use std::process::Command;

/// Each service with the variable that sets its port, as the start script reads them.
pub(crate) const SERVICES: [(&str, &str); 6] = [
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

pub(crate) fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

fn curl(url: &str) -> String {
    let output = Command::new("curl")
        .args(["-fsS", "-m", "5", url])
        .output()
        .expect("curl runs");
    assert!(
        output.status.success(),
        "curl {url}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8")
}

/// The body at `url` whatever its status (`/ready` answers 503 while not ready).
fn curl_any(url: &str) -> String {
    let output = Command::new("curl")
        .args(["-sS", "-m", "5", url])
        .output()
        .expect("curl runs");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// `scripts/<name>` as an operator runs it, on this build's binaries and `ports`, with its
/// data, logs, PIDs and (absent) `.env` in `scratch`, and `extra` variables on top.
pub(crate) fn operator_script(
    name: &str,
    bin_dir: &Path,
    scratch: &Path,
    ports: &[(&str, &str, u16)],
    extra: &[(&str, &str)],
) -> Command {
    let mut command = Command::new("bash");
    command
        .arg(repository_root().join("scripts").join(name))
        .env("PODWISE_BIN_DIR", bin_dir)
        .env("PODWISE_RUN_DIR", scratch.join("run"))
        .env("PODWISE_LOG_DIR", scratch.join("logs"))
        .env("PODWISE_DATA_DIR", scratch.join("data"))
        .env("PODWISE_DOTENV", scratch.join("no.env"))
        .env_remove("PODWISE_OPERATOR_KEYS")
        .env_remove("RUST_LOG")
        .envs(extra.iter().copied());
    for (_, var, port) in ports {
        command.env(var, port.to_string());
    }
    command
}

/// Runs the stop script it holds when the test panics while the services run, so that a
/// failed assertion does not leave six processes behind on the test's ports.
pub(crate) struct StopOnPanic<F: Fn() -> std::process::Output>(pub(crate) F);

impl<F: Fn() -> std::process::Output> Drop for StopOnPanic<F> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            (self.0)();
        }
    }
}

/// POSTs a JSON body, with an operator key when given; the answer's body, on success.
fn post_json(url: &str, body: &str, operator_key: Option<&str>) -> String {
    let mut command = Command::new("curl");
    command.args(["-fsS", "-m", "60", "-H", "content-type: application/json"]);
    if let Some(key) = operator_key {
        command.args(["-H", &format!("authorization: Bearer {key}")]);
    }
    let output = command.args(["-d", body, url]).output().expect("curl runs");
    assert!(
        output.status.success(),
        "POST {url}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8")
}

/// The audio the gateway's OpenAI speech route answers for `body`, through the real TTS
/// service and its voices.
fn speech(port: u16, body: &str) -> Vec<u8> {
    let output = Command::new("curl")
        .args([
            "-fsS",
            "-m",
            "30",
            "-H",
            "content-type: application/json",
            "-d",
            body,
        ])
        .arg(format!("http://localhost:{port}/v1/audio/speech"))
        .output()
        .expect("curl runs");
    assert!(
        output.status.success(),
        "speech: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

#[test]
fn the_start_script_brings_up_six_healthy_services_and_the_stop_script_drains_them() {
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
    let scratch = tempfile::tempdir().expect("temp dir");
    let ports: Vec<(&str, &str, u16)> = SERVICES
        .iter()
        .map(|(service, var)| (*service, *var, free_port()))
        .collect();

    let script = |name: &str| {
        operator_script(
            name,
            &bin_dir,
            scratch.path(),
            &ports,
            &[
                ("PODWISE_PROFILE", "embedded"),
                ("PODWISE_START_TIMEOUT", "60"),
                // This test ingests its own episode; the demo library would take minutes.
                ("PODWISE_DEMO", "0"),
            ],
        )
    };

    let started = script("start-all-services.sh")
        .output()
        .expect("start script runs");
    let stop = || {
        script("stop-all-services.sh")
            .output()
            .expect("stop script runs")
    };
    let _stop_on_panic = StopOnPanic(&stop);
    assert!(
        started.status.success(),
        "start failed: {}",
        String::from_utf8_lossy(&started.stderr)
    );

    for (service, _, port) in &ports {
        let body = curl(&format!("http://localhost:{port}/health"));
        assert!(
            body.contains(&format!("\"{service}\"")),
            "{service}: {body}"
        );
    }
    let gateway_port = ports[0].2;
    // Healthy is not yet ready: the recommender, for one, is ready once its first model
    // is trained, moments after it answers /health.
    let ready_url = format!("http://localhost:{gateway_port}/ready");
    let waited = std::time::Instant::now();
    let mut ready = curl_any(&ready_url);
    while !ready.contains("\"status\":\"ok\"") && waited.elapsed().as_secs() < 60 {
        std::thread::sleep(std::time::Duration::from_millis(250));
        ready = curl_any(&ready_url);
    }
    assert!(ready.contains("\"status\":\"ok\""), "{ready}");
    let spoken = speech(gateway_port, r#"{"input": "我在 Google 工作。Hello!"}"#);
    assert!(
        spoken.starts_with(b"RIFF") && spoken.len() > 20_000,
        "{} bytes of speech",
        spoken.len()
    );

    // An operator ingests a directory of audio (made here by the TTS service) with the
    // operations script; then a listener's question finds it, through STT, RAG and LLM.
    let shows = scratch.path().join("shows");
    std::fs::create_dir_all(&shows).expect("shows directory");
    std::fs::write(
        shows.join("podcast.json"),
        r#"{"id": "pod-history", "title": "The History Classroom", "category": "education",
            "language": "en", "author": "Ada Reyes", "description": "History, one hour a week."}"#,
    )
    .expect("podcast.json");
    let episode = speech(
        gateway_port,
        "{\"input\": \"The Panama Canal opened in nineteen fourteen. Ships crossing it \
         save about eight thousand miles of sailing around South America.\"}",
    );
    std::fs::write(shows.join("canal.wav"), episode).expect("audio");
    std::fs::write(shows.join("canal.json"), r#"{"title": "The Canal"}"#).expect("sidecar");
    let ingested = script("ingest-audio-directory.sh")
        .arg(&shows)
        .output()
        .expect("ingest script runs");
    assert!(
        ingested.status.success(),
        "ingestion: {}",
        String::from_utf8_lossy(&ingested.stderr)
    );
    let api = format!("http://localhost:{gateway_port}");
    let answer = post_json(
        &format!("{api}/api/v1/ask"),
        r#"{"question": "When did the Panama Canal open?"}"#,
        None,
    );
    let answer: serde_json::Value = serde_json::from_str(&answer).expect("JSON answer");
    assert_eq!(answer["grounded"], true, "{answer}");
    assert_eq!(answer["citations"][0]["title"], "The Canal", "{answer}");
    let show: serde_json::Value =
        serde_json::from_str(&curl(&format!("{api}/api/v1/podcasts/pod-history")))
            .expect("JSON podcast");
    assert_eq!(
        show["author"], "Ada Reyes",
        "the show as podcast.json describes it"
    );
    assert_eq!(show["description"], "History, one hour a week.");
    let episode_id = answer["citations"][0]["episode_id"]
        .as_str()
        .expect("episode id");

    // The rest of what the dashboard charts: tokens from the local model (the answer
    // above was extractive), and a recommender trained on the new episode.
    post_json(
        &format!("{api}/v1/chat/completions"),
        r#"{"messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 8}"#,
        None,
    );
    let operator_key = std::fs::read_to_string(scratch.path().join("data/operator-key"))
        .expect("the start script made an operator key");
    post_json(
        &format!("{api}/api/v1/ml/train"),
        "{}",
        Some(operator_key.trim()),
    );
    curl(&format!("{api}/api/v1/episodes/{episode_id}/similar?k=3"));
    let dashboard = Command::new("python3")
        .arg(repository_root().join("scripts/check-dashboard-metrics.py"))
        .arg(repository_root().join("k8s/monitoring/grafana-dashboard.json"))
        .args(
            ports
                .iter()
                .map(|(_, _, port)| format!("http://127.0.0.1:{port}")),
        )
        .output()
        .expect("the dashboard check runs");
    assert!(
        dashboard.status.success(),
        "the dashboard queries metrics no service exports:\n{}{}",
        String::from_utf8_lossy(&dashboard.stdout),
        String::from_utf8_lossy(&dashboard.stderr)
    );

    let stopped = stop();
    assert!(
        stopped.status.success(),
        "{}",
        String::from_utf8_lossy(&stopped.stderr)
    );
    for (service, _, _) in &ports {
        let log =
            std::fs::read_to_string(scratch.path().join("logs").join(format!("{service}.log")))
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
