//! Real speech for the audio tests, made at test time: espeak-ng says a sentence and
//! ffmpeg encodes it into each format an upload can come in.
//!
//! The files go under Cargo's scratch directory for integration tests, named by a hash of
//! the recipe that made them, so a second run reuses them and a changed recipe makes new
//! ones. The programs are still looked for on every run: a machine without them fails the
//! tests that need them, naming the script that installs them, rather than passing on
//! files left from another run.

use std::collections::hash_map::DefaultHasher;
use std::hash::Hasher as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// What to run when espeak-ng or ffmpeg is missing.
const INSTALL_SCRIPT: &str = "scripts/install-test-tools.sh";

/// A sentence in each language the listeners speak, as espeak-ng reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Speech {
    English,
    /// Mandarin, written in numbered pinyin (espeak-ng has no Traditional Chinese voice
    /// that reads characters).
    Mandarin,
}

impl Speech {
    /// What espeak-ng is given to say.
    pub fn text(self) -> &'static str {
        self.voice_and_text().1
    }

    fn voice_and_text(self) -> (&'static str, &'static str) {
        match self {
            Self::English => (
                "en",
                "Welcome to Podwise. Today we talk about podcasts, search, and speech. \
                 Thank you for listening.",
            ),
            Self::Mandarin => (
                "cmn-latn-pinyin",
                "ni3 hao3, huan1 ying2 shou1 ting1 jin1 tian1 de5 jie2 mu4. xie4 xie4 ni3.",
            ),
        }
    }
}

/// The speech as espeak-ng writes it (22 050 Hz mono WAV).
pub fn speech(speech: Speech) -> PathBuf {
    let (voice, text) = speech.voice_and_text();
    let espeak = program("espeak-ng");
    cached(&(espeak, voice, text), "wav", |out| {
        run(Command::new(espeak)
            .args(["-v", voice, "-w"])
            .arg(out)
            .arg(text))
    })
}

/// The speech encoded by ffmpeg with `args` (codec, rate, channels) into a `.extension`
/// file, as bytes.
pub fn encoded(speech: Speech, extension: &str, args: &[&str]) -> Vec<u8> {
    let (source, ffmpeg) = (self::speech(speech), program("ffmpeg"));
    let path = cached(&(&source, extension, args), extension, |out| {
        run(Command::new(ffmpeg)
            .args(["-nostdin", "-loglevel", "error", "-y", "-i"])
            .arg(&source)
            .args(args)
            .arg(out))
    });
    read(&path)
}

/// A file ffmpeg makes from its own inputs (`-f lavfi` test patterns, say) and `args`.
pub fn made_by_ffmpeg(extension: &str, args: &[&str]) -> Vec<u8> {
    let ffmpeg = program("ffmpeg");
    let path = cached(&(extension, args), extension, |out| {
        run(Command::new(ffmpeg)
            .args(["-nostdin", "-loglevel", "error", "-y"])
            .args(args)
            .arg(out))
    });
    read(&path)
}

/// The speech as ffmpeg writes a WAV to a pipe: its size fields say 0xFFFFFFFF, since a
/// pipe cannot be rewound to fill them in.
pub fn piped_wav(speech: Speech) -> Vec<u8> {
    let source = self::speech(speech);
    let output = Command::new(program("ffmpeg"))
        .args(["-nostdin", "-loglevel", "error", "-i"])
        .arg(&source)
        .args(["-f", "wav", "pipe:1"])
        .stderr(Stdio::inherit())
        .output()
        .expect("ffmpeg runs");
    assert!(output.status.success(), "ffmpeg failed: {}", output.status);
    output.stdout
}

/// How long the speech lasts, from the sample count of espeak-ng's WAV header.
pub fn speech_seconds(speech: Speech) -> f64 {
    let bytes = read(&self::speech(speech));
    let field = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
    // espeak-ng writes the canonical 44-byte header: rate at 24, data size at 40.
    f64::from(field(40) / 2) / f64::from(field(24))
}

/// The program's name, once it is known to run; otherwise the test fails saying how to
/// install it.
fn program(name: &'static str) -> &'static str {
    static FOUND: OnceLock<Vec<(&'static str, bool)>> = OnceLock::new();
    let found = FOUND.get_or_init(|| {
        [("espeak-ng", "--version"), ("ffmpeg", "-version")]
            .into_iter()
            .map(|(program, version)| {
                let runs = Command::new(program)
                    .arg(version)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|status| status.success());
                (program, runs)
            })
            .collect()
    });
    assert!(
        found.iter().any(|&(program, runs)| program == name && runs),
        "{name} is not installed; the audio tests make their speech with it. \
         Run {INSTALL_SCRIPT} (scripts/test.sh runs it before the tests)"
    );
    name
}

/// The file for `recipe`, made by `make` into a temporary name and renamed into place, so
/// that tests running at the same time never read a half-written file.
fn cached(recipe: &impl std::hash::Hash, extension: &str, make: impl FnOnce(&Path)) -> PathBuf {
    static UNIQUE: AtomicU64 = AtomicU64::new(0);
    let mut hasher = DefaultHasher::new();
    recipe.hash(&mut hasher);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("audio-fixtures");
    let path = dir.join(format!("{:016x}.{extension}", hasher.finish()));
    if path.exists() {
        return path;
    }
    std::fs::create_dir_all(&dir).expect("fixture directory");
    let unique = UNIQUE.fetch_add(1, Ordering::Relaxed);
    let partial = dir.join(format!(
        "partial-{}-{unique}.{extension}",
        std::process::id()
    ));
    make(&partial);
    std::fs::rename(&partial, &path).expect("fixture renamed into place");
    path
}

fn run(command: &mut Command) {
    let status = command
        .stdout(Stdio::null())
        .status()
        .expect("the program starts");
    assert!(status.success(), "{command:?} failed: {status}");
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}
