//! Speech made at test time with espeak-ng, as 16 kHz mono samples, and the error rates
//! transcripts are judged by.

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

/// `text` spoken by espeak-ng's `voice`, resampled to 16 kHz mono in -1..1.
///
/// # Panics
/// When espeak-ng is missing or fails: the test needs real speech and must not pass
/// without it.
pub fn speak(voice: &str, text: &str) -> Vec<f32> {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let wav = dir.path().join("speech.wav");
    let status = Command::new("espeak-ng")
        .args(["-v", voice, "-w"])
        .arg(&wav)
        .arg(text)
        .status()
        .unwrap_or_else(|e| panic!("cannot run espeak-ng ({e}); {INSTALL_HINT}"));
    assert!(status.success(), "espeak-ng failed ({status}); {INSTALL_HINT}");
    let bytes = std::fs::read(&wav).expect("espeak-ng wrote its WAV file");
    let (rate, samples) = pcm16_mono(&bytes);
    resample(&samples, rate, 16_000)
}

/// The sample rate and samples of a 16-bit mono PCM WAV file.
fn pcm16_mono(bytes: &[u8]) -> (u32, Vec<f32>) {
    assert!(bytes.len() > 44 && &bytes[..4] == b"RIFF", "not a WAV file");
    let u16_at = |at: usize| u16::from_le_bytes([bytes[at], bytes[at + 1]]);
    let u32_at = |at: usize| u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
    let mut at = 12;
    let (mut rate, mut data) = (0, None);
    while at + 8 <= bytes.len() {
        let (id, len) = (&bytes[at..at + 4], u32_at(at + 4) as usize);
        let body = at + 8;
        if id == b"fmt " {
            assert_eq!((u16_at(body), u16_at(body + 2)), (1, 1), "PCM mono expected");
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

/// Linear interpolation from `from` Hz to `to` Hz: plenty for speech that is judged by
/// its words (espeak-ng has little energy above 8 kHz to alias).
pub fn resample(samples: &[f32], from: u32, to: u32) -> Vec<f32> {
    if from == to || samples.is_empty() {
        return samples.to_vec();
    }
    let len = (samples.len() as u64 * u64::from(to) / u64::from(from)) as usize;
    let step = f64::from(from) / f64::from(to);
    (0..len)
        .map(|i| {
            let at = i as f64 * step;
            let left = at.floor() as usize;
            let right = (left + 1).min(samples.len() - 1);
            let frac = (at - left as f64) as f32;
            samples[left] * (1.0 - frac) + samples[right] * frac
        })
        .collect()
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

#[test]
fn resampling_keeps_the_duration() {
    let second: Vec<f32> = (0..22_050).map(|i| (i as f32 * 0.01).sin()).collect();
    assert_eq!(resample(&second, 22_050, 16_000).len(), 16_000);
}
