//! A fresh checkout's first run, as a listener meets it: `scripts/start-all-services.sh`
//! starts the six binaries on the embedded stores and loads the demo library (`demo/`)
//! through TTS, STT and RAG; then, through the gateway only, a listener is created and
//! onboarded, asks in Mandarin and in English and gets the demo episodes that hold the
//! answers, streams an answer, hears one spoken and transcribed back, and gets
//! recommendations; the README's tour of the API then runs as written (its curl commands,
//! and its OpenAI client code in Python). The services stop with SIGTERM and their logs
//! hold no error. The same visit runs again on the cluster adapters, against the real
//! store servers that `scripts/dev-services.sh` runs on loopback, each store in a
//! namespace of its own.

use std::path::Path;
use std::process::Command;

use podwise_common::testing::dev_server_settings;
use reqwest::Client;
use secrecy::ExposeSecret as _;
use serde_json::{Value, json};

use crate::speech::{BOUNDARY, Part, multipart};
use crate::system::{System, repository_root};

/// Lines of `scripts/demo-library.py COMMAND demo`, split at tabs.
fn demo_library(command: &str) -> Vec<Vec<String>> {
    let output = Command::new("python3")
        .arg(repository_root().join("scripts/demo-library.py"))
        .arg(command)
        .arg(repository_root().join("demo"))
        .output()
        .expect("the demo library reader runs");
    assert!(output.status.success(), "{command}");
    String::from_utf8(output.stdout)
        .expect("UTF-8")
        .lines()
        .map(|line| line.split('\t').map(str::to_owned).collect())
        .collect()
}

/// Each demo question with the title of the episode it must cite first and whether it
/// is asked in Mandarin.
fn questions() -> Vec<(String, String, bool)> {
    let titles: Vec<Vec<String>> = demo_library("episodes");
    demo_library("questions")
        .into_iter()
        .map(|fields| {
            let episode = titles
                .iter()
                .find(|episode| episode[1] == fields[0])
                .expect("the question's episode is in the library");
            let mandarin = episode[2].starts_with("zh");
            (fields[1].clone(), episode[4].clone(), mandarin)
        })
        .collect()
}

async fn send(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Words of a text, lower case, without punctuation.
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric() && c != '\'')
        .filter(|word| !word.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// The code block in `language` of the README's "A tour of the API", with the gateway
/// on `port` where the README has `localhost:8000`.
fn tour_block(language: &str, port: u16) -> String {
    let readme =
        std::fs::read_to_string(repository_root().join("README.md")).expect("README.md reads");
    let tour = readme
        .split_once("\n## A tour of the API\n")
        .expect("the README has its tour")
        .1;
    let tour = tour
        .split_once("\n## ")
        .map_or(tour, |(section, _)| section);
    let opening = format!("```{language}\n");
    let block = tour
        .split_once(&opening)
        .and_then(|(_, rest)| rest.split_once("```"))
        .unwrap_or_else(|| panic!("the tour has a {language} block"))
        .0;
    block.replace("localhost:8000", &format!("127.0.0.1:{port}"))
}

/// Runs the README's tour as written: its shell block with bash (every curl there fails
/// on an HTTP error), and its Python block with OpenAI's client, in the virtual
/// environment `scripts/install-test-tools.sh` makes.
fn readme_tour(port: u16, scratch: &Path) {
    let dir = scratch.join("tour");
    std::fs::create_dir_all(&dir).expect("tour directory");
    let shell = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &tour_block("sh", port)])
        .current_dir(&dir)
        .output()
        .expect("bash runs");
    let printed = String::from_utf8_lossy(&shell.stdout);
    assert!(
        shell.status.success(),
        "the README's shell tour failed:\n{printed}\n{}",
        String::from_utf8_lossy(&shell.stderr)
    );
    for expected in [
        "\"categories\"",
        "event: citations",
        "event: done",
        "\"segments\"",
        "\"items\"",
    ] {
        assert!(
            printed.contains(expected),
            "no {expected} in the shell tour's output:\n{printed}"
        );
    }

    let client_dir = std::env::var_os("PODWISE_API_CLIENT_DIR").map_or_else(
        || {
            Path::new(&std::env::var_os("HOME").unwrap_or_default())
                .join(".cache/podwise/api-client")
        },
        std::path::PathBuf::from,
    );
    let python = client_dir.join("bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/install-test-tools.sh",
        python.display()
    );
    let client = Command::new(&python)
        .args(["-c", &tour_block("python", port)])
        .current_dir(&dir)
        .output()
        .expect("python runs");
    let printed = String::from_utf8_lossy(&client.stdout);
    assert!(
        client.status.success(),
        "the README's OpenAI client tour failed:\n{printed}\n{}",
        String::from_utf8_lossy(&client.stderr)
    );
    assert!(
        printed.contains("Eratosthenes"),
        "the assistant cites the episode: {printed}"
    );
    assert!(
        printed.lines().any(|line| line == "384"),
        "an e5 vector: {printed}"
    );
    assert!(
        printed.to_lowercase().contains("welcome"),
        "the speech heard back: {printed}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_start_loads_the_demo_and_a_listener_onboards_asks_hears_and_gets_picks() {
    first_visit(&[("PODWISE_PROFILE", "embedded")]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_first_visit_works_on_the_cluster_stores() {
    let Some(settings) = dev_server_settings("the cluster stores", "POSTGRES_HOST") else {
        return;
    };
    // Fresh names, so the catalog starts empty and the demo loads.
    let fresh = format!("demo_{}", uuid::Uuid::new_v4().simple());
    let created = Command::new("psql")
        .env(
            "PGPASSWORD",
            settings
                .postgres
                .password
                .as_ref()
                .map_or("", |p| p.expose_secret()),
        )
        .args([
            "-h",
            &settings.postgres.host,
            "-p",
            &settings.postgres.port.to_string(),
        ])
        .args([
            "-U",
            &settings.postgres.user,
            "-d",
            &settings.postgres.db,
            "-qc",
        ])
        .arg(format!("CREATE DATABASE {fresh}"))
        .output()
        .expect("psql runs");
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let bucket = fresh.replace('_', "-");
    first_visit(&[
        ("PODWISE_PROFILE", "cluster"),
        ("POSTGRES_DB", &fresh),
        ("MONGO_DB", &fresh),
        ("MILVUS_COLLECTION", &fresh),
        ("MINIO_BUCKET", &bucket),
        // The cluster profile's service names are Kubernetes DNS names; here all run on
        // this machine.
        ("RAG_HOST", "127.0.0.1"),
        ("ML_HOST", "127.0.0.1"),
        ("TTS_HOST", "127.0.0.1"),
        ("STT_HOST", "127.0.0.1"),
        ("LLM_HOST", "127.0.0.1"),
    ])
    .await;
}

/// The whole visit, with the store settings of `profile` on top of the environment's.
async fn first_visit(profile: &[(&str, &str)]) {
    let mut extra = profile.to_vec();
    extra.extend([
        ("PODWISE_START_TIMEOUT", "120"),
        ("PODWISE_DEMO", "foreground"),
    ]);
    let system = System::start(&extra);
    // The start script keeps the services up when the demo fails to load; its mark says
    // the load finished.
    assert!(
        system.dir().join("data/demo/loaded").exists(),
        "the demo library did not load:\n{}",
        system.start_output()
    );
    let api = format!("http://127.0.0.1:{}", system.gateway_port());
    let client = Client::new();

    // Onboarding: a category, its tags, three previews of one tag, likes.
    let (status, created) = send(client.post(format!("{api}/api/v1/users"))).await;
    assert_eq!(status, 201, "{created}");
    let user = created["user_id"].as_str().expect("user id").to_owned();
    let token = created["token"].as_str().expect("token").to_owned();
    let (_, categories) = send(client.get(format!("{api}/api/v1/categories"))).await;
    assert!(categories["categories"].to_string().contains("education"));
    let (_, tags) = send(client.get(format!("{api}/api/v1/categories/education/tags"))).await;
    let tags: Vec<String> = tags["tags"]
        .as_array()
        .expect("tags")
        .iter()
        .map(|tag| tag["tag"].as_str().expect("tag").to_owned())
        .collect();
    assert!(!tags.is_empty(), "the demo's education episodes carry tags");
    let mut chosen = None;
    for tag in &tags {
        let (_, found) = send(
            client
                .get(format!("{api}/api/v1/previews"))
                .query(&[("tag", tag.as_str())]),
        )
        .await;
        let previews = found["previews"].as_array().cloned().unwrap_or_default();
        if previews.len() >= 2 {
            chosen = Some((tag.clone(), previews));
            break;
        }
    }
    let (tag, previews) = chosen.expect("a tag with previews from two shows or more");
    let mut shows: Vec<&str> = previews
        .iter()
        .map(|p| p["podcast_id"].as_str().expect("podcast"))
        .collect();
    shows.dedup();
    assert_eq!(shows.len(), previews.len(), "one preview per show");
    let preview_url = previews[0]["preview_url"]
        .as_str()
        .expect("a signed preview");
    // The gateway's own signed route on the embedded stores, the S3 server's on the
    // cluster ones.
    let audio = client.get(preview_url).send().await.expect("preview");
    assert_eq!(audio.status(), 200);
    assert!(audio.bytes().await.expect("audio").starts_with(b"RIFF"));
    let preferences = json!({"categories": ["education"], "tags": [tag]});
    let (status, stored) = send(
        client
            .put(format!("{api}/api/v1/users/{user}/preferences"))
            .bearer_auth(&token)
            .json(&preferences),
    )
    .await;
    assert_eq!((status, &stored), (200, &preferences));
    let liked = json!({"episode_id": previews[0]["id"], "kind": "liked"});
    let (status, event) = send(
        client
            .post(format!("{api}/api/v1/users/{user}/feedback"))
            .bearer_auth(&token)
            .json(&liked),
    )
    .await;
    assert_eq!(status, 201, "{event}");

    // Questions in both languages find the demo episodes that hold the answers.
    let questions = questions();
    let mut english_answer = String::new();
    for mandarin in [true, false] {
        let (question, title, _) = questions
            .iter()
            .find(|(_, _, zh)| *zh == mandarin)
            .expect("a question in each language");
        let (status, answer) = send(
            client
                .post(format!("{api}/api/v1/ask"))
                .bearer_auth(&token)
                .json(&json!({"question": question, "user_id": user})),
        )
        .await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["grounded"], true, "{question}: {answer}");
        assert_eq!(
            answer["citations"][0]["title"],
            title.as_str(),
            "{question}"
        );
        assert!(answer["citations"][0]["start"].as_f64().is_some());
        if !mandarin {
            english_answer = answer["answer"].as_str().expect("text").to_owned();
        }
    }

    // The same English question, streamed.
    let (question, title, _) = questions.iter().find(|q| !q.2).expect("English");
    let streamed = client
        .post(format!("{api}/api/v1/ask/stream"))
        .json(&json!({"question": question}))
        .send()
        .await
        .expect("stream");
    assert_eq!(streamed.status(), 200);
    let events = streamed.text().await.expect("events");
    let citations = events.find("event: citations").expect("citations first");
    let done = events.find("event: done").expect("then done");
    assert!(
        citations < done && events.contains("event: delta"),
        "{events}"
    );
    assert!(events.contains(title.as_str()), "{events}");

    // The answer spoken, then transcribed back.
    let spoken_text: String = english_answer.chars().take(240).collect();
    let spoken = client
        .post(format!("{api}/api/v1/tts/synthesize"))
        .json(&json!({"text": spoken_text, "voice": "joe"}))
        .send()
        .await
        .expect("speech");
    assert_eq!(spoken.status(), 200);
    let wav = spoken.bytes().await.expect("audio").to_vec();
    let (status, heard) = send(
        client
            .post(format!("{api}/api/v1/stt/transcribe"))
            .header(
                "content-type",
                format!("multipart/form-data; boundary={BOUNDARY}"),
            )
            .body(multipart(&[
                Part::File("answer.wav", &wav),
                Part::Field("language", b"en"),
            ])),
    )
    .await;
    assert_eq!(status, 200, "{heard}");
    let said = words(&spoken_text);
    let back = words(heard["text"].as_str().expect("text"));
    let kept = said.iter().filter(|word| back.contains(word)).count();
    assert!(
        kept * 10 >= said.len() * 7,
        "{kept} of {} words came back: {spoken_text:?} -> {heard}",
        said.len()
    );

    // Recommendations for the new listener, one episode per show, each with a reason.
    let (status, picks) = send(
        client
            .get(format!("{api}/api/v1/recommendations"))
            .bearer_auth(&token),
    )
    .await;
    assert_eq!(status, 200, "{picks}");
    let items = picks["items"].as_array().expect("items");
    assert!(!items.is_empty(), "{picks}");
    let mut shows: Vec<&str> = items
        .iter()
        .map(|item| item["podcast_id"].as_str().expect("podcast"))
        .collect();
    shows.sort_unstable();
    let all = shows.len();
    shows.dedup();
    assert_eq!(shows.len(), all, "one episode per show: {picks}");
    assert!(
        items
            .iter()
            .all(|item| item["reason"].as_str().is_some_and(|r| !r.is_empty()))
    );

    readme_tour(system.gateway_port(), system.dir());

    system.stop_cleanly();
}
