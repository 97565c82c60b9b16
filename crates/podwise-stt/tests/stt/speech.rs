//! Speech made at test time with espeak-ng (and converted by ffmpeg), as 16 kHz mono
//! samples, and the error rates transcripts are judged by.

use std::path::PathBuf;
use std::process::Command;

/// Where the test tools come from, named in every failure about a missing one.
const INSTALL_HINT: &str = "run scripts/install-test-tools.sh to install the test tools";

/// The model directory the service reads: `PODWISE_MODEL_DIR`, else the repository's
/// `models/`, which `scripts/fetch-models.sh` fills.
pub fn model_dir() -> PathBuf {
    std::env::var_os("PODWISE_MODEL_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models"),
        PathBuf::from,
    )
}

/// `text` spoken by espeak-ng's `voice` (22,050 Hz), converted by ffmpeg to 16 kHz mono
/// samples in -1..1, as the service's audio front-end would hand them over.
///
/// # Panics
/// When espeak-ng or ffmpeg is missing or fails: the test needs real speech and must not
/// pass without it.
pub fn speak(voice: &str, text: &str) -> Vec<f32> {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let spoken = dir.path().join("spoken.wav");
    let converted = dir.path().join("16k.wav");
    run(Command::new("espeak-ng")
        .args(["-v", voice, "-w"])
        .arg(&spoken)
        .arg(text));
    run(Command::new("ffmpeg")
        .args(["-loglevel", "error", "-y", "-i"])
        .arg(&spoken)
        .args(["-ar", "16000", "-ac", "1", "-c:a", "pcm_s16le"])
        .arg(&converted));
    let bytes = std::fs::read(&converted).expect("ffmpeg wrote its WAV file");
    let (rate, samples) = pcm16_mono(&bytes);
    assert_eq!(rate, 16_000, "ffmpeg resampled to 16 kHz");
    samples
}

fn run(command: &mut Command) {
    let program = command.get_program().to_string_lossy().into_owned();
    let status = command
        .status()
        .unwrap_or_else(|e| panic!("cannot run {program} ({e}); {INSTALL_HINT}"));
    assert!(
        status.success(),
        "{program} failed ({status}); {INSTALL_HINT}"
    );
}

/// The sample rate and samples of a 16-bit mono PCM WAV file.
fn pcm16_mono(bytes: &[u8]) -> (u32, Vec<f32>) {
    assert!(bytes.len() > 44 && &bytes[..4] == b"RIFF", "not a WAV file");
    let u16_at = |at: usize| u16::from_le_bytes([bytes[at], bytes[at + 1]]);
    let u32_at =
        |at: usize| u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
    let mut at = 12;
    let (mut rate, mut data) = (0, None);
    while at + 8 <= bytes.len() {
        let (id, len) = (&bytes[at..at + 4], u32_at(at + 4) as usize);
        let body = at + 8;
        if id == b"fmt " {
            assert_eq!(
                (u16_at(body), u16_at(body + 2)),
                (1, 1),
                "PCM mono expected"
            );
            assert_eq!(u16_at(body + 14), 16, "16-bit samples expected");
            rate = u32_at(body + 4);
        } else if id == b"data" {
            // espeak-ng may leave the length unset when it streams: read to the end.
            data = Some(&bytes[body..bytes.len().min(body.saturating_add(len))]);
            break;
        }
        at = body + len + len % 2;
    }
    let data = data.expect("a data chunk");
    let samples = data
        .chunks_exact(2)
        .map(|c| f32::from(i16::from_le_bytes([c[0], c[1]])) / 32_768.0)
        .collect();
    (rate, samples)
}

/// Edits (substitutions, insertions, deletions) turning `hypothesis` into `reference`.
fn edit_distance<T: PartialEq>(reference: &[T], hypothesis: &[T]) -> usize {
    let mut row: Vec<usize> = (0..=hypothesis.len()).collect();
    for (i, r) in reference.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, h) in hypothesis.iter().enumerate() {
            let substitution = diagonal + usize::from(r != h);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[hypothesis.len()]
}

/// Lower-case words with punctuation removed ("Dog." and "dog" are one word).
fn words(text: &str) -> Vec<String> {
    text.to_lowercase()
        .split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Word error rate: word edits over the reference's word count.
pub fn word_error_rate(reference: &str, hypothesis: &str) -> f64 {
    let (r, h) = (words(reference), words(hypothesis));
    edit_distance(&r, &h) as f64 / r.len().max(1) as f64
}

/// Character error rate over the characters that are neither space nor punctuation.
pub fn character_error_rate(reference: &str, hypothesis: &str) -> f64 {
    let chars = |t: &str| -> Vec<char> { t.chars().filter(|c| c.is_alphanumeric()).collect() };
    let (r, h) = (chars(reference), chars(hypothesis));
    edit_distance(&r, &h) as f64 / r.len().max(1) as f64
}

#[test]
fn error_rates_count_substitutions_insertions_and_deletions() {
    assert_eq!(word_error_rate("The cat sat.", "the cat sat"), 0.0);
    assert_eq!(word_error_rate("the cat sat down", "a cat sat"), 0.5);
    assert_eq!(word_error_rate("the cat", "the black cat"), 0.5);
    assert_eq!(character_error_rate("我喜欢你。", "我喜欢他"), 0.25);
}
