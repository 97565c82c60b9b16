//! The web UI in Debian's headless Chromium, driven by `tests/ui/web-ui.test.mjs`
//! (playwright-core), against the real LLM, RAG, STT, TTS and ml services.
//!
//! The catalog is made the way an operator makes it: transcripts through the transcripts
//! route, and three English episodes of three podcasts spoken by the TTS service's `joe`
//! voice and ingested as audio (only audio gets a preview), which the STT service then
//! transcribes. The script gets started as a new listener, asks a question and plays a
//! cited moment, asks by voice and hears the answer, reads the recommendations and an API
//! error, switches to English, and saves a screenshot of each step. A second test shows
//! what a gateway with an empty catalog and no library service behind it looks like.

use std::path::{Path, PathBuf};
use std::time::Duration;

use podwise_common::settings::ServiceName;
use podwise_common::testing::{free_port, settings_with};
use serde_json::json;

use crate::harness::Gateway;
use crate::library::{Library, start_with};
use crate::round_trip::wav_seconds;

/// The category and tag the three audio episodes share, which the listener picks.
const CATEGORY: &str = "education";
const TAG: &str = "學習方法";

/// Asked in the chat view; answered from the second half of the long episode, so the
/// cited moment is well past its start and playing from it visibly moves the player.
const QUESTION: &str = "How should I practice a difficult piano passage?";

/// Asked by voice: spoken by the TTS service, played by Chromium's fake microphone,
/// transcribed through the STT route, then answered and spoken back.
const SPOKEN_QUESTION: &str = "How often should I review a new word?";
const SPOKEN_WORD: &str = "review";

/// How long the script may take: a browser start, the views, two streamed answers, one
/// transcription and one spoken answer.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(300);

/// The rate of every WAV the test makes.
const RATE: u32 = 16_000;

struct AudioEpisode {
    podcast_id: &'static str,
    podcast_title: &'static str,
    episode_id: &'static str,
    episode_title: &'static str,
    text: &'static str,
}

const EPISODES: [AudioEpisode; 3] = [
    AudioEpisode {
        podcast_id: "pod-memory-lab",
        podcast_title: "Memory Lab",
        episode_id: "ep-spaced-practice",
        episode_title: "Spaced practice, from vocabulary to the piano",
        text: "Welcome to Memory Lab. Today we talk about spaced repetition. When you \
               learn a new word, you forget most of it within a day. Reviewing it again \
               just before you forget makes the memory stronger. Each review can wait \
               longer than the one before: one day, then three days, then a week. \
               Flashcard apps plan these reviews for you, but a paper calendar works too. \
               Many students review too often at first and too rarely later. \
               Our second topic is the piano. When a passage is difficult, practice it \
               slowly, with both hands apart, for ten minutes every day. Play it a little \
               faster each week, and stop before your hands get tired. A short daily \
               session on the piano beats one long session on the weekend. \
               Thank you for listening to Memory Lab.",
    },
    AudioEpisode {
        podcast_id: "pod-study-hall",
        podcast_title: "Study Hall",
        episode_id: "ep-notes-by-hand",
        episode_title: "Notes by hand",
        text: "Welcome to Study Hall. Writing notes by hand makes you choose what \
               matters, and that choice helps you remember the lecture.",
    },
    AudioEpisode {
        podcast_id: "pod-exam-season",
        podcast_title: "Exam Season",
        episode_id: "ep-good-flashcards",
        episode_title: "Flashcards that work",
        text: "This is Exam Season. A good flashcard asks one small question, and you \
               should say the answer out loud before you turn the card over.",
    },
];

fn ui_tests() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ui")
}

/// Screenshots go beside the build, in `$CARGO_TARGET_DIR/ui-artefacts/<scenario>`,
/// emptied first, so a screenshot left by an earlier run cannot pass for this one.
fn artefact_dir(scenario: &str) -> PathBuf {
    let binary = Path::new(env!("CARGO_BIN_EXE_podwise-gateway"));
    let target = binary
        .parent()
        .and_then(Path::parent)
        .expect("the target directory");
    let dir = target.join("ui-artefacts").join(scenario);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("the artefact directory");
    dir
}

/// Fails with the advice to install them when Chromium or playwright-core is missing.
fn require_browser_tools() {
    let advice = "run scripts/install-test-tools.sh (Chromium and playwright-core)";
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "no Chromium: {advice}"
    );
    let playwright = ui_tests().join("node_modules/playwright-core");
    assert!(playwright.is_dir(), "no playwright-core: {advice}");
}

/// Runs the script on `base` with `env`, and answers what it printed once it passed
/// every check.
async fn run_script(base: &str, artefacts: &Path, env: &[(&str, &std::ffi::OsStr)]) -> String {
    let mut command = tokio::process::Command::new("node");
    command
        .arg(ui_tests().join("web-ui.test.mjs"))
        .arg(base)
        .arg(artefacts)
        .envs(env.iter().copied())
        .kill_on_drop(true);
    let output = tokio::time::timeout(SCRIPT_TIMEOUT, command.output())
        .await
        .expect("the browser script finishes in time")
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the browser script failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    assert!(stdout.contains("web UI: all checks passed"), "{stdout}");
    // Shown with `--nocapture`: each check and the first visit's load figures.
    println!("{stdout}");
    stdout
}

/// Each named screenshot was saved and holds a picture.
fn assert_screenshots(artefacts: &Path, names: &[&str]) {
    for name in names {
        let file = artefacts.join(format!("{name}.png"));
        let size = std::fs::metadata(&file).map_or(0, |meta| meta.len());
        assert!(size > 1000, "{} is missing or empty", file.display());
    }
}

#[tokio::test]
async fn a_new_listener_gets_started_asks_plays_a_cited_moment_and_reads_it_in_english() {
    require_browser_tools();
    let services = [ServiceName::Stt, ServiceName::Tts, ServiceName::Ml];
    let library = start_with(&services).await;
    library.ingest().await;
    let mut jobs = Vec::new();
    for episode in &EPISODES {
        let wav = speak(&library, episode.text).await;
        let fields = [
            ("podcast_id", episode.podcast_id),
            ("podcast_title", episode.podcast_title),
            ("category", CATEGORY),
            ("language", "en"),
            ("episode_id", episode.episode_id),
            ("episode_title", episode.episode_title),
            ("tags", TAG),
        ];
        jobs.push(library.ingest_audio(&fields, &wav).await);
    }
    for job in &jobs {
        library
            .wait_done(job["id"].as_str().expect("a job id"))
            .await;
    }
    // The recommender learns the new episodes when an operator trains it.
    let (status, trained) = library.operator_post("/api/v1/ml/train", &json!({})).await;
    assert_eq!(status, 200, "{trained}");

    let scratch = tempfile::tempdir().expect("a scratch directory");
    let question_wav = scratch.path().join("question.wav");
    let spoken = sized_wav(speak(&library, SPOKEN_QUESTION).await);
    let spoken_seconds = wav_seconds(&spoken, RATE);
    std::fs::write(&question_wav, &spoken).expect("the spoken question is written");

    let artefacts = artefact_dir("library");
    let seconds = format!("{spoken_seconds:.2}");
    let stdout = run_script(
        &library.base,
        &artefacts,
        &[
            ("UI_TEST_CATEGORY", CATEGORY.as_ref()),
            ("UI_TEST_TAG", TAG.as_ref()),
            ("UI_TEST_QUESTION", QUESTION.as_ref()),
            ("UI_TEST_SPOKEN_QUESTION", question_wav.as_os_str()),
            ("UI_TEST_SPOKEN_SECONDS", seconds.as_ref()),
            ("UI_TEST_SPOKEN_WORD", SPOKEN_WORD.as_ref()),
        ],
    )
    .await;
    for check in [
        "ok - onboarding stored the preferences",
        "ok - the answer has citations",
        "ok - a citation plays from its start",
        "ok - a recorded question is transcribed and asked",
        "ok - the answer is spoken back",
        "ok - the recommendations are shown",
        "ok - an API error is shown in its own words",
        "ok - the English switch changes the text",
        "ok - no script error and no refused load",
    ] {
        assert!(stdout.contains(check), "missing {check:?}:\n{stdout}");
    }
    assert_screenshots(
        &artefacts,
        &[
            "01-categories",
            "03-onboarded",
            "04-answer",
            "06-spoken",
            "08-english",
        ],
    );
}

#[tokio::test]
async fn an_empty_catalog_says_so_and_a_missing_library_service_is_reported() {
    require_browser_tools();
    // No service behind the gateway: the library's address is a port nothing serves.
    let nowhere = format!("http://127.0.0.1:{}", free_port());
    // A directory of its own, surely empty: the shared helper's names repeat when the
    // process id does.
    let data = tempfile::tempdir().expect("a data directory");
    let settings = settings_with(&[
        ("RAG_URL", nowhere.as_str()),
        ("PODWISE_DATA_DIR", data.path().to_str().expect("UTF-8")),
    ]);
    let gateway = Gateway::start(&settings).await;
    let artefacts = artefact_dir("empty-catalog");
    let stdout = run_script(
        &gateway.base,
        &artefacts,
        &[
            ("UI_TEST_SCENARIO", "empty".as_ref()),
            ("UI_TEST_QUESTION", QUESTION.as_ref()),
        ],
    )
    .await;
    for check in [
        "ok - an empty catalog says so",
        "ok - a question with the library down shows the error",
    ] {
        assert!(stdout.contains(check), "missing {check:?}:\n{stdout}");
    }
    assert_screenshots(&artefacts, &["01-empty-catalog", "02-library-down"]);
    gateway.stop().await;
}

/// `text` spoken by `joe` through the gateway's TTS route, as a WAV file.
async fn speak(library: &Library, text: &str) -> Vec<u8> {
    let spoken = library
        .client
        .post(library.url("/api/v1/tts/synthesize"))
        .json(&json!({"text": text, "voice": "joe", "format": "wav", "sample_rate": RATE}))
        .send()
        .await
        .expect("request");
    assert_eq!(spoken.status(), 200, "speech for {text:?}");
    spoken.bytes().await.expect("the audio").to_vec()
}

/// A streamed WAV (its sizes unknown when the header was written) with the sizes filled
/// in, as a file on disk should have them for Chromium's fake microphone to read it.
fn sized_wav(mut wav: Vec<u8>) -> Vec<u8> {
    assert!(
        wav.len() > 44 && &wav[..4] == b"RIFF" && &wav[36..40] == b"data",
        "not the canonical 44-byte WAV header"
    );
    let riff = u32::try_from(wav.len() - 8).expect("a small file");
    wav[4..8].copy_from_slice(&riff.to_le_bytes());
    wav[40..44].copy_from_slice(&(riff - 36).to_le_bytes());
    wav
}
