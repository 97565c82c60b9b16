//! Speech made by the real TTS service, heard by the real STT service: English text is
//! spoken by Piper's `joe` voice and transcribed by Whisper base, both through the
//! gateway's product routes, and the transcript must match the text.
//!
//! This test lives in the gateway because the gateway is the one crate that is a client
//! of both services: no service crate may depend on another, so neither service's own
//! tests can run the other's engine, and a test here drives each through its gRPC
//! contract exactly as a listener's request does. The two services run as the binaries
//! this test run built (`cargo build --workspace --bins`, which `scripts/test.sh` does
//! first), as the end-to-end test runs them, so the test checks what ships.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use podwise_common::testing::settings_with;
use serde_json::{Value, json};

use crate::harness::Gateway;
use crate::speech::{BOUNDARY, Part, multipart};

/// A few short sentences, so the test stays quick; with pauses between them, so the
/// transcript has several segments whose order can be checked.
const SPOKEN: &str = "Welcome back to the show. Today we visit a family farm in the \
                      mountains. Thank you for listening, and see you next week.";

/// The most word errors per reference word the transcript may have. Piper's neural
/// voice is clear and Whisper base hears these everyday words; 10% leaves room for two
/// slips in the twenty-three words, where broken audio or a broken engine misses most.
const MAX_WORD_ERROR_RATE: f64 = 0.10;

/// How long a service may take to load its model and answer `/ready`.
const START_TIMEOUT: Duration = Duration::from_secs(90);

#[tokio::test]
async fn english_spoken_by_joe_is_transcribed_back_with_ordered_segment_times() {
    let scratch = tempfile::tempdir().expect("a scratch directory");
    let mut tts = ServiceProcess::start("tts", scratch.path());
    let mut stt = ServiceProcess::start("stt", scratch.path());
    tts.wait_until_ready().await;
    stt.wait_until_ready().await;
    let gateway = Gateway::start(&settings_with(&[
        ("TTS_URL", &tts.url()),
        ("STT_URL", &stt.url()),
    ]))
    .await;
    let (base, http) = (&gateway.base, reqwest::Client::new());

    let spoken = http
        .post(format!("{base}/api/v1/tts/synthesize"))
        .json(&json!({"text": SPOKEN, "voice": "joe", "format": "wav", "sample_rate": 16000}))
        .send()
        .await
        .expect("the gateway answers");
    assert_eq!(spoken.status(), 200, "synthesis failed");
    let wav = spoken.bytes().await.expect("the audio").to_vec();
    let audio_seconds = wav_seconds(&wav, 16_000);
    assert!(
        audio_seconds > 3.0,
        "{audio_seconds} s of speech is too short"
    );

    let heard = http
        .post(format!("{base}/api/v1/stt/transcribe"))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(multipart(&[
            Part::File("joe.wav", &wav),
            Part::Field("language", b"en"),
        ]))
        .send()
        .await
        .expect("the gateway answers");
    let status = heard.status().as_u16();
    let transcript: Value = heard.json().await.expect("a JSON transcript");
    assert_eq!(status, 200, "{transcript}");

    let text = transcript["text"].as_str().expect("a text");
    let rate = word_error_rate(SPOKEN, text);
    assert!(
        rate <= MAX_WORD_ERROR_RATE,
        "WER {:.0}% over {:.0}%: said {SPOKEN:?}, heard {text:?}",
        rate * 100.0,
        MAX_WORD_ERROR_RATE * 100.0
    );
    let duration = transcript["duration_seconds"].as_f64().expect("a duration");
    assert!(
        (duration - audio_seconds).abs() < 0.05,
        "the service heard {duration} s of {audio_seconds} s"
    );
    assert_segment_times_are_ordered_within(&transcript["segments"], audio_seconds);

    gateway.stop().await;
}

/// Every segment starts before it ends, inside the audio, and no earlier than the one
/// before it ended.
fn assert_segment_times_are_ordered_within(segments: &Value, audio_seconds: f64) {
    let segments = segments.as_array().expect("a segment list");
    assert!(
        segments.len() >= 2,
        "three sentences with pauses came back as {} segment(s)",
        segments.len()
    );
    // Whisper's timestamps come in steps of 20 ms.
    let step = 0.02;
    let mut previous_end = 0.0;
    for segment in segments {
        let start = segment["start"].as_f64().expect("a start");
        let end = segment["end"].as_f64().expect("an end");
        assert!(
            start < end && start >= previous_end - 1e-6 && end <= audio_seconds + step,
            "segment {segment} does not follow {previous_end} s or leaves {audio_seconds} s"
        );
        previous_end = end;
    }
}

/// Word edits (insertions, deletions, substitutions) per reference word, comparing
/// lower-case words without punctuation.
fn word_error_rate(reference: &str, heard: &str) -> f64 {
    let words = |text: &str| -> Vec<String> {
        text.split(|c: char| !c.is_alphanumeric() && c != '\'')
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect()
    };
    let (reference, heard) = (words(reference), words(heard));
    let mut previous: Vec<usize> = (0..=heard.len()).collect();
    for (i, said) in reference.iter().enumerate() {
        let mut current = vec![i + 1; heard.len() + 1];
        for (j, got) in heard.iter().enumerate() {
            current[j + 1] = (previous[j] + usize::from(said != got))
                .min(previous[j + 1] + 1)
                .min(current[j] + 1);
        }
        previous = current;
    }
    previous[heard.len()] as f64 / reference.len().max(1) as f64
}

/// The seconds of 16-bit mono samples at `rate` in a WAV file. A streamed answer cannot
/// know its length in advance, so its data chunk is read to the end of the bytes.
pub(crate) fn wav_seconds(wav: &[u8], rate: u32) -> f64 {
    assert!(wav.len() > 12 && &wav[..4] == b"RIFF", "not a WAV file");
    let mut at = 12;
    while at + 8 <= wav.len() {
        let size = u32::from_le_bytes([wav[at + 4], wav[at + 5], wav[at + 6], wav[at + 7]]);
        let body = at + 8;
        if &wav[at..at + 4] == b"data" {
            let data = (wav.len() - body).min(size as usize);
            return data as f64 / 2.0 / f64::from(rate);
        }
        at = body + size as usize + size as usize % 2;
    }
    panic!("the WAV file has no data chunk");
}

/// One service binary of this build, running on a free port with its data in a scratch
/// directory; killed when dropped, so a failing test leaves no process behind.
struct ServiceProcess {
    name: &'static str,
    port: u16,
    log: PathBuf,
    child: Child,
}

impl ServiceProcess {
    fn start(name: &'static str, scratch: &Path) -> Self {
        let bin_dir = Path::new(env!("CARGO_BIN_EXE_podwise-gateway"))
            .parent()
            .expect("binary directory");
        let binary = bin_dir.join(format!("podwise-{name}"));
        assert!(
            binary.exists(),
            "{} is missing: run 'cargo build --workspace --bins' first",
            binary.display()
        );
        let port = free_port();
        let data_dir = scratch.join(name);
        let log = scratch.join(format!("{name}.log"));
        let log_file = std::fs::File::create(&log).expect("a log file");
        let models = std::env::var_os("PODWISE_MODEL_DIR").map_or_else(
            || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models"),
            PathBuf::from,
        );
        let child = Command::new(&binary)
            .current_dir(scratch)
            .env(format!("{}_PORT", name.to_uppercase()), port.to_string())
            .env("PODWISE_BIND_HOST", "127.0.0.1")
            .env("PODWISE_PROFILE", "embedded")
            .env("PODWISE_DATA_DIR", &data_dir)
            .env("PODWISE_MODEL_DIR", &models)
            .env("PODWISE_DOTENV", scratch.join("no.env"))
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("a second log handle"))
            .stderr(log_file)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        Self {
            name,
            port,
            log,
            child,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Waits until `/ready` answers 200, failing with the service's log when it exits
    /// or takes too long.
    async fn wait_until_ready(&mut self) {
        let deadline = Instant::now() + START_TIMEOUT;
        let http = reqwest::Client::new();
        loop {
            let ready = http.get(format!("{}/ready", self.url())).send().await;
            if ready.is_ok_and(|r| r.status() == 200) {
                return;
            }
            let log = || std::fs::read_to_string(&self.log).unwrap_or_default();
            if Instant::now() > deadline {
                panic!(
                    "{} was not ready within {START_TIMEOUT:?}:\n{}",
                    self.name,
                    log()
                );
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "{} exited during start-up ({status}):\n{}",
                    self.name,
                    log()
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}
