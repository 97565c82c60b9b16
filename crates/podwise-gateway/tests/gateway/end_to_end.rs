//! The whole system as an operator runs it: `scripts/start-all-services.sh` brings up the
//! six binaries built by this test run, `curl` checks every port and asks the gateway for
//! speech, `scripts/ingest-audio-directory.sh` ingests that speech as an episode which a
//! question then finds, and `scripts/stop-all-services.sh` stops them with SIGTERM. On
//! the way, every metric the Grafana dashboard queries must appear in some service's
//! `/metrics` (`scripts/check-dashboard-metrics.py`).

use std::process::Command;

use crate::system::{System, repository_root};

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
    let system = System::start(&[
        ("PODWISE_PROFILE", "embedded"),
        ("PODWISE_START_TIMEOUT", "60"),
        // This test ingests its own episode; the demo library would take minutes.
        ("PODWISE_DEMO", "0"),
    ]);

    for (service, port) in system.ports() {
        let body = curl(&format!("http://localhost:{port}/health"));
        assert!(
            body.contains(&format!("\"{service}\"")),
            "{service}: {body}"
        );
    }
    let gateway_port = system.gateway_port();
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
    let shows = system.dir().join("shows");
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
    let ingested = system
        .script("ingest-audio-directory.sh")
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
    let operator_key = std::fs::read_to_string(system.dir().join("data/operator-key"))
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
            system
                .ports()
                .map(|(_, port)| format!("http://127.0.0.1:{port}")),
        )
        .output()
        .expect("the dashboard check runs");
    assert!(
        dashboard.status.success(),
        "the dashboard queries metrics no service exports:\n{}{}",
        String::from_utf8_lossy(&dashboard.stdout),
        String::from_utf8_lossy(&dashboard.stderr)
    );

    system.stop_cleanly();
}
