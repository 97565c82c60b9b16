//! The audio front-end of transcription: an uploaded file becomes 16 kHz mono samples, and
//! long audio is split into windows Whisper can take one at a time.
//!
//! [`decode()`] reads WAV, MP3, FLAC, Ogg Vorbis and MP4/M4A (AAC) at any sample rate and
//! channel count, averages the channels and resamples to [`SAMPLE_RATE`]. It looks at the
//! bytes to find the format; a file name or MIME type only helps. Uploads longer than
//! [`Limits::max_seconds`] are refused as soon as that is known, from the header when it
//! says, and otherwise while decoding, so a very long file is never held in memory whole.
//! [`split_on_silence`] then cuts the samples into [`Window`]s at pauses.
//!
//! Every failure is an [`AudioError`] whose message tells the listener or the operator what
//! to do about it; no input makes this module panic.

mod decode;
mod edits;
mod mix;
mod resample;
mod sniff;
mod split;

use std::fmt;

use podwise_common::ServiceError;

pub use decode::decode;
pub use resample::resample;
pub use split::{Window, split_on_silence};

/// The sample rate of every [`Audio`] this module returns, the rate Whisper listens at.
pub const SAMPLE_RATE: u32 = 16_000;

/// The longest stretch Whisper transcribes in one pass, in seconds: the usual argument to
/// [`split_on_silence`].
pub const WHISPER_WINDOW_SECONDS: f64 = 30.0;

/// The lowest and highest source sample rates [`decode()`] accepts, in hertz. Below 4 kHz
/// speech is not intelligible; above 192 kHz there is nothing more of it to hear, and the
/// resampling filter would grow long for nothing.
pub const SOURCE_RATES: std::ops::RangeInclusive<u32> = 4_000..=192_000;

/// The formats [`decode()`] reads, as named in error messages.
const ACCEPTED: &str = "WAV, MP3, FLAC, Ogg Vorbis or M4A (AAC)";

/// Decoded audio, 16 kHz mono, samples in [-1, 1].
#[derive(Clone, PartialEq)]
pub struct Audio {
    /// One sample per 1/16 000 s, from the first sound of the file to its last.
    pub samples: Vec<f32>,
    /// What the file was before decoding.
    pub source: SourceInfo,
}

impl Audio {
    /// How long the audio lasts, in seconds.
    pub fn duration_seconds(&self) -> f64 {
        seconds(self.samples.len())
    }
}

/// The samples are counted, not listed: an hour of them would fill a log with 57 million
/// numbers.
impl fmt::Debug for Audio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Audio")
            .field("samples", &format_args!("[{} samples]", self.samples.len()))
            .field("source", &self.source)
            .finish()
    }
}

/// What an uploaded file held, for logs and for the transcript's metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceInfo {
    /// The container: `"wav"`, `"mp3"`, `"flac"`, `"ogg"`, `"mp4"` or `"aac"` (raw ADTS).
    pub container: &'static str,
    /// The codec of the audio track, as the decoder names it (`"pcm_s16le"`, `"mp3"`,
    /// `"vorbis"`, ...).
    pub codec: String,
    /// The sample rate of the file, in hertz.
    pub sample_rate: u32,
    /// How many channels the file has; they were averaged into one.
    pub channels: u16,
    /// How long the decoded audio lasts, in seconds.
    pub duration_seconds: f64,
    /// How many damaged packets were replaced by silence of the same length, so that the
    /// times after them stay right. Zero for an intact file.
    pub damaged_packets: u64,
}

/// What [`decode()`] accepts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// The longest audio accepted, in seconds.
    pub max_seconds: f64,
}

impl Limits {
    /// Four hours: longer than all but the longest podcast episodes, and at 16 kHz still
    /// under a gigabyte of samples.
    pub const DEFAULT_MAX_SECONDS: f64 = 4.0 * 3600.0;
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_seconds: Self::DEFAULT_MAX_SECONDS,
        }
    }
}

/// Why an upload could not be turned into audio.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AudioError {
    /// The upload has no bytes at all.
    #[error("the upload is empty: send the bytes of an audio file ({ACCEPTED})")]
    Empty,
    /// The bytes are not in any format this module knows.
    #[error("{}", unrecognised_message(.hint.as_deref(), *.looks_like))]
    UnrecognisedFormat {
        /// The file name extension or MIME type the caller gave, if any.
        hint: Option<String>,
        /// What the bytes look like instead, when that is recognisable ("text", "a PNG
        /// image", ...).
        looks_like: Option<&'static str>,
    },
    /// The bytes are a known container that is not accepted (Matroska, AVI, AIFF, ...).
    #[error("{container} files are not accepted: convert the audio to {ACCEPTED}")]
    UnsupportedContainer {
        /// The container's usual name.
        container: &'static str,
    },
    /// The container is accepted but its audio is encoded with a codec that is not.
    #[error(
        "the {} file holds {codec} audio, which cannot be decoded here: convert it to {ACCEPTED}",
        display_name(.container)
    )]
    UnsupportedCodec {
        /// The container, as in [`SourceInfo::container`].
        container: &'static str,
        /// The codec's usual name.
        codec: String,
    },
    /// The audio's sample rate is outside [`SOURCE_RATES`].
    #[error(
        "the audio's sample rate of {sample_rate} Hz is outside the {} to {} Hz accepted: \
         resample it (16000 Hz is best)",
        SOURCE_RATES.start(),
        SOURCE_RATES.end()
    )]
    UnsupportedSampleRate {
        /// The rate the file declares, in hertz.
        sample_rate: u32,
    },
    /// The file is in a known format but too damaged to use.
    #[error("the audio file is damaged: {reason}; export or upload it again")]
    Corrupt {
        /// What is wrong, in words a listener can follow.
        reason: String,
    },
    /// The audio lasts longer than [`Limits::max_seconds`].
    #[error(
        "the audio lasts at least {}, longer than the {} accepted: split it into shorter parts",
        Clock(*.seconds),
        Clock(*.max_seconds)
    )]
    TooLong {
        /// How long the audio is: the header's length when it gives one, otherwise how far
        /// decoding got before it stopped.
        seconds: f64,
        /// The limit that was passed.
        max_seconds: f64,
    },
    /// The file is a valid container with no audio track, such as a silent video.
    #[error("the file holds no audio track (a video without sound?): send a file with speech")]
    NoAudioTrack,
}

fn unrecognised_message(hint: Option<&str>, looks_like: Option<&str>) -> String {
    let what = match looks_like {
        Some(kind) => format!("the upload looks like {kind}, not audio"),
        None => "the upload is not in an audio format this service recognises".to_owned(),
    };
    let sent_as = match hint {
        Some(hint) => format!(" (it was sent as {hint:?})"),
        None => String::new(),
    };
    format!("{what}{sent_as}: send {ACCEPTED}")
}

/// How a [`SourceInfo::container`] is written in a sentence.
fn display_name(container: &str) -> &str {
    match container {
        "wav" => "WAV",
        "mp3" => "MP3",
        "flac" => "FLAC",
        "ogg" => "Ogg",
        "mp4" => "MP4",
        "aac" => "AAC",
        other => other,
    }
}

/// The mapping follows who can fix what. An empty body is a malformed request (400). A body
/// that is not audio, is damaged or has no audio track is a well-formed request whose
/// content cannot be processed (422): sending it again will not help, a different file
/// will. A format or codec the decoder lacks is 415, so a client can convert and retry.
/// Audio over the length limit is 413 rather than 400: the length is a size limit, and
/// 413 tells the client that a shorter upload will go through.
impl From<AudioError> for ServiceError {
    fn from(error: AudioError) -> Self {
        let message = error.to_string();
        match error {
            AudioError::Empty => Self::InvalidArgument(message),
            AudioError::UnrecognisedFormat { .. }
            | AudioError::Corrupt { .. }
            | AudioError::NoAudioTrack => Self::Unprocessable(message),
            AudioError::UnsupportedContainer { .. }
            | AudioError::UnsupportedCodec { .. }
            | AudioError::UnsupportedSampleRate { .. } => Self::UnsupportedMediaType(message),
            AudioError::TooLong { .. } => Self::PayloadTooLarge(message),
        }
    }
}

/// Seconds at [`SAMPLE_RATE`] of `samples` samples.
fn seconds(samples: usize) -> f64 {
    samples as f64 / f64::from(SAMPLE_RATE)
}

/// A duration written as a listener reads one: `0:05`, `12:30`, `1:02:03`.
#[derive(Debug, Clone, Copy)]
struct Clock(f64);

impl fmt::Display for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Saturating casts: a non-finite or absurd length still prints.
        let total = self.0.max(0.0).round() as u64;
        let (hours, minutes, secs) = (total / 3600, total / 60 % 60, total % 60);
        if hours > 0 {
            write!(f, "{hours}:{minutes:02}:{secs:02}")
        } else {
            write!(f, "{minutes}:{secs:02}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audio_in_a_log_shows_its_length_not_its_samples() {
        let audio = Audio {
            samples: vec![0.5; 48_000],
            source: SourceInfo {
                container: "wav",
                codec: "pcm_s16le".to_owned(),
                sample_rate: 16_000,
                channels: 1,
                duration_seconds: 3.0,
                damaged_packets: 0,
            },
        };

        let logged = format!("{audio:?}");

        assert!(logged.contains("[48000 samples]"), "{logged}");
        assert!(!logged.contains("0.5,"), "{logged}");
    }

    #[test]
    fn durations_in_messages_read_like_a_clock() {
        assert_eq!(Clock(5.0).to_string(), "0:05");
        assert_eq!(Clock(750.4).to_string(), "12:30");
        assert_eq!(Clock(3723.0).to_string(), "1:02:03");
        assert_eq!(Clock(f64::NAN).to_string(), "0:00");
    }

    #[test]
    fn each_error_maps_to_the_status_that_tells_the_client_what_to_change() {
        let cases = [
            (AudioError::Empty, "invalid_argument"),
            (
                AudioError::UnrecognisedFormat {
                    hint: None,
                    looks_like: Some("text"),
                },
                "unprocessable",
            ),
            (AudioError::Corrupt { reason: "x".into() }, "unprocessable"),
            (AudioError::NoAudioTrack, "unprocessable"),
            (
                AudioError::UnsupportedCodec {
                    container: "ogg",
                    codec: "Opus".into(),
                },
                "unsupported_media_type",
            ),
            (
                AudioError::TooLong {
                    seconds: 5.0,
                    max_seconds: 4.0,
                },
                "payload_too_large",
            ),
        ];
        for (error, code) in cases {
            assert_eq!(ServiceError::from(error).code(), code);
        }
    }

    #[test]
    fn an_unrecognised_upload_says_what_it_looks_like_and_what_it_was_sent_as() {
        let message = AudioError::UnrecognisedFormat {
            hint: Some("notes.mp3".into()),
            looks_like: Some("text"),
        }
        .to_string();

        assert!(message.contains("looks like text"), "{message}");
        assert!(message.contains("notes.mp3"), "{message}");
        assert!(message.contains("MP3"), "{message}");
    }
}
