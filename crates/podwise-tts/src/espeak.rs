//! The espeak-ng program, run as a separate process: it speaks the Mandarin voices and
//! turns English text into the IPA phonemes the Piper voice reads.
//!
//! espeak-ng and its voice data are GPL-3.0; running the program and reading what it
//! writes keeps Podwise's own code under its MIT/Apache licence, where linking
//! libespeak-ng would not. Text goes in on standard input (never as an argument, so no
//! text can be taken for an option, and no length limit of the command line applies);
//! audio comes back as WAV on standard output.

use std::io::{Read, Write as _};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::audio::Pcm;
use crate::audio::wav::{self, WavError};

/// The voices the service needs from espeak-ng: Mandarin read from characters with
/// pinyin tone rules (the plain `cmn` voice of espeak-ng 1.51 reads tone digits as English
/// words), and American English.
pub const REQUIRED_VOICES: [&str; 2] = ["cmn-latn-pinyin", "en-us"];

/// How long one run may take before it counts as hung and is killed. A run speaks one
/// sentence, or phonemises one; even the longest text allowed (5000 characters) takes
/// espeak-ng about 0.3 s on one core, so this leaves room for a loaded machine and none
/// for a child that will never answer.
const RUN_TIMEOUT: Duration = Duration::from_secs(10);

/// espeak-ng's rate range, in words per minute.
const RATE_RANGE: (f32, f32) = (80.0, 450.0);

/// Why espeak-ng could not be used.
#[derive(Debug, thiserror::Error)]
pub enum EspeakError {
    /// The program is not there or does not run.
    #[error(
        "cannot run {program:?} ({source}); install the Debian package espeak-ng \
         (scripts/start-all-services.sh does) or set PODWISE_TTS_ESPEAK to its path"
    )]
    NotInstalled {
        program: String,
        source: std::io::Error,
    },
    /// The program runs but lacks a voice the service needs.
    #[error("espeak-ng has no voice {voice:?}; install espeak-ng-data 1.51 or later")]
    MissingVoice { voice: &'static str },
    /// A run ended with an error.
    #[error("espeak-ng failed ({status}): {stderr}")]
    Failed { status: String, stderr: String },
    /// A run did not finish in time; the process was killed.
    #[error("espeak-ng did not finish within {timeout:?} and was killed (is it hung?)")]
    TimedOut { timeout: Duration },
    /// The program answered with something that is not the audio asked for.
    #[error("espeak-ng wrote audio that cannot be read: {0}")]
    BadAudio(#[from] WavError),
}

/// How espeak-ng should say a text.
#[derive(Debug, Clone, PartialEq)]
pub struct Speaking<'a> {
    /// An espeak-ng voice with an optional variant: `cmn-latn-pinyin+f2`.
    pub voice: &'a str,
    /// Words per minute at speed 1.
    pub rate: f32,
    /// espeak-ng's pitch parameter at pitch 0, 0 to 99.
    pub pitch: f32,
}

/// The espeak-ng program.
#[derive(Debug, Clone)]
pub struct Espeak {
    program: String,
    /// The longest one run may take: [`RUN_TIMEOUT`].
    timeout: Duration,
}

impl Espeak {
    /// Finds the program and checks it has every voice in [`REQUIRED_VOICES`].
    ///
    /// # Errors
    /// [`EspeakError::NotInstalled`] naming the program and how to install it;
    /// [`EspeakError::MissingVoice`] naming the voice.
    pub fn find(program: &str) -> Result<Self, EspeakError> {
        let espeak = Self {
            program: program.to_owned(),
            timeout: RUN_TIMEOUT,
        };
        let listing = espeak.run(&["--voices"], "")?;
        let listing = String::from_utf8_lossy(&listing);
        for voice in REQUIRED_VOICES {
            let listed = listing
                .lines()
                .filter_map(|line| line.split_whitespace().nth(1))
                .any(|name| name.eq_ignore_ascii_case(voice));
            if !listed {
                return Err(EspeakError::MissingVoice { voice });
            }
        }
        Ok(espeak)
    }

    /// The IPA phonemes of `text` in `voice`'s language, one string per clause as
    /// espeak-ng splits them (it drops the punctuation between clauses).
    ///
    /// # Errors
    /// When the program fails.
    pub fn phonemes(&self, voice: &str, text: &str) -> Result<Vec<String>, EspeakError> {
        let out = self.run(&["-q", "--ipa", "-v", voice], text)?;
        Ok(String::from_utf8_lossy(&out)
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .map(str::to_owned)
            .collect())
    }

    /// `text` spoken as `how` says at `speed` (1 is the voice's rate) and `semitones`
    /// above or below its pitch.
    ///
    /// # Errors
    /// When the program fails or writes something that is not 16-bit WAV.
    pub fn speak(
        &self,
        how: &Speaking<'_>,
        text: &str,
        speed: f32,
        semitones: f32,
    ) -> Result<Pcm, EspeakError> {
        let rate = (how.rate * speed).clamp(RATE_RANGE.0, RATE_RANGE.1).round();
        let pitch = pitch_parameter(how.pitch, semitones);
        let (rate, pitch) = (format!("{rate}"), format!("{pitch}"));
        let out = self.run(
            &["--stdout", "-v", how.voice, "-s", &rate, "-p", &pitch],
            text,
        )?;
        Ok(wav::read(&out)?)
    }

    /// Runs the program with `args`, `input` on its standard input, and returns what it
    /// wrote to standard output; kills it when it takes longer than its timeout.
    fn run(&self, args: &[&str], input: &str) -> Result<Vec<u8>, EspeakError> {
        let not_running = |source| EspeakError::NotInstalled {
            program: self.program.clone(),
            source,
        };
        let mut child = Command::new(&self.program)
            .args(["-b", "1", "--stdin"])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(not_running)?;
        if let Some(mut stdin) = child.stdin.take() {
            // The text is at most a few kilobytes, less than a pipe holds, so writing it
            // all before reading cannot block; a program that exits early is reported
            // by its status below. Dropping `stdin` closes it: the program reads to EOF.
            let _ = stdin.write_all(input.as_bytes());
        }
        // Audio can be far more than a pipe holds: both pipes are drained on their own
        // threads while this one watches the clock.
        let stdout = drain(child.stdout.take());
        let stderr = drain(child.stderr.take());
        let status = match wait_until(&mut child, Instant::now() + self.timeout) {
            Ok(Some(status)) => status,
            Ok(None) => {
                // Killed, the process closes its pipes and the drain threads end.
                let _ = child.kill();
                let _ = child.wait();
                tracing::warn!(
                    program = %self.program,
                    timeout_ms = self.timeout.as_millis() as u64,
                    "espeak-ng did not finish in time and was killed"
                );
                return Err(EspeakError::TimedOut {
                    timeout: self.timeout,
                });
            }
            Err(source) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(not_running(source));
            }
        };
        let stdout = stdout.join().unwrap_or_default();
        let stderr = stderr.join().unwrap_or_default();
        if !status.success() {
            return Err(EspeakError::Failed {
                status: status.to_string(),
                stderr: String::from_utf8_lossy(&stderr).trim().to_owned(),
            });
        }
        Ok(stdout)
    }
}

/// Reads a child's pipe to its end on a thread of its own.
fn drain(pipe: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut bytes);
        }
        bytes
    })
}

/// The child's exit status once it exits, or `None` when `deadline` passes first. Polls
/// with a pause that grows from 1 ms to 20 ms: a run usually takes a few milliseconds,
/// so the first checks come soon, and a long one costs few wake-ups.
fn wait_until(child: &mut Child, deadline: Instant) -> std::io::Result<Option<ExitStatus>> {
    let mut pause = Duration::from_millis(1);
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(None);
        }
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

/// espeak-ng's `-p` value for `semitones` away from `base`.
///
/// Measured on espeak-ng 1.51 (the fundamental of a sustained vowel): 25 steps of `-p`
/// move the pitch by about five semitones, so 4.8 steps make one, and the 0 to 99 range
/// spans about ten semitones either side of the default 50.
pub fn pitch_parameter(base: f32, semitones: f32) -> u32 {
    (base + semitones * 4.8).clamp(0.0, 99.0).round() as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pitch_parameter_moves_about_five_steps_a_semitone_within_its_range() {
        assert_eq!(pitch_parameter(50.0, 0.0), 50);
        assert_eq!(pitch_parameter(50.0, 5.0), 74);
        assert_eq!(pitch_parameter(50.0, -12.0), 0);
        assert_eq!(pitch_parameter(60.0, 12.0), 99);
    }

    #[test]
    fn a_run_that_hangs_is_killed_at_its_timeout_with_an_error_saying_so() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let program = dir.path().join("hung-espeak-ng");
        // `exec`, so the process killed is the one holding the pipes.
        std::fs::write(&program, "#!/bin/sh\nexec sleep 30\n").expect("the script");
        let mut permissions = std::fs::metadata(&program).expect("written").permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
        std::fs::set_permissions(&program, permissions).expect("made executable");
        let espeak = Espeak {
            program: program.display().to_string(),
            timeout: Duration::from_millis(300),
        };

        let started = Instant::now();
        let error = espeak.phonemes("en-us", "hello").expect_err("hung");

        assert!(matches!(error, EspeakError::TimedOut { .. }), "{error}");
        assert!(error.to_string().contains("killed"), "{error}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the caller waited {:?} for a hung child",
            started.elapsed()
        );
    }

    #[test]
    fn a_program_that_is_not_there_is_named_with_the_package_to_install() {
        let error = Espeak::find("/nonexistent/espeak-ng").expect_err("missing");

        let message = error.to_string();
        assert!(message.contains("/nonexistent/espeak-ng"), "{message}");
        assert!(message.contains("espeak-ng"), "{message}");
    }
}
