//! The same speech in every accepted format decodes to the same 16 kHz mono audio.

use podwise_stt::audio::{self, Audio, Limits, SAMPLE_RATE};

use crate::fixtures::{self, Speech};

/// A format an upload can come in: its name, the file extension, how ffmpeg makes it,
/// what the decoder should report, and how many encoder priming samples (at the source
/// rate) no header tells the decoder about.
pub(crate) struct Format {
    pub(crate) name: &'static str,
    pub(crate) extension: &'static str,
    pub(crate) ffmpeg: &'static [&'static str],
    pub(crate) container: &'static str,
    pub(crate) rate: u32,
    pub(crate) channels: u16,
    pub(crate) priming: u32,
}

/// Both channels the speech itself: ffmpeg's own upmix (`-ac 2`) lowers each by 3 dB.
const STEREO: &str = "pan=stereo|c0=c0|c1=c0";

pub(crate) const FORMATS: &[Format] = &[
    Format {
        name: "8 kHz WAV",
        extension: "wav",
        ffmpeg: &["-ar", "8000", "-ac", "1"],
        container: "wav",
        rate: 8_000,
        channels: 1,
        priming: 0,
    },
    Format {
        name: "8 kHz A-law WAV (a phone line)",
        extension: "wav",
        ffmpeg: &["-ar", "8000", "-c:a", "pcm_alaw"],
        container: "wav",
        rate: 8_000,
        channels: 1,
        priming: 0,
    },
    Format {
        name: "16 kHz WAV",
        extension: "wav",
        ffmpeg: &["-ar", "16000", "-ac", "1"],
        container: "wav",
        rate: 16_000,
        channels: 1,
        priming: 0,
    },
    Format {
        name: "44.1 kHz stereo WAV",
        extension: "wav",
        ffmpeg: &["-ar", "44100", "-af", STEREO],
        container: "wav",
        rate: 44_100,
        channels: 2,
        priming: 0,
    },
    Format {
        name: "48 kHz stereo float WAV",
        extension: "wav",
        ffmpeg: &["-ar", "48000", "-af", STEREO, "-c:a", "pcm_f32le"],
        container: "wav",
        rate: 48_000,
        channels: 2,
        priming: 0,
    },
    Format {
        name: "48 kHz 24-bit WAV",
        extension: "wav",
        ffmpeg: &["-ar", "48000", "-c:a", "pcm_s24le"],
        container: "wav",
        rate: 48_000,
        channels: 1,
        priming: 0,
    },
    Format {
        name: "MP3",
        extension: "mp3",
        ffmpeg: &[
            "-ar",
            "44100",
            "-af",
            STEREO,
            "-c:a",
            "libmp3lame",
            "-b:a",
            "128k",
        ],
        container: "mp3",
        rate: 44_100,
        channels: 2,
        priming: 0,
    },
    Format {
        name: "FLAC",
        extension: "flac",
        ffmpeg: &["-ar", "48000", "-c:a", "flac"],
        container: "flac",
        rate: 48_000,
        channels: 1,
        priming: 0,
    },
    Format {
        name: "Ogg Vorbis",
        extension: "ogg",
        ffmpeg: &[
            "-ar",
            "44100",
            "-af",
            STEREO,
            "-c:a",
            "libvorbis",
            "-q:a",
            "5",
        ],
        container: "ogg",
        rate: 44_100,
        channels: 2,
        priming: 0,
    },
    Format {
        name: "M4A (AAC)",
        extension: "m4a",
        ffmpeg: &["-ar", "44100", "-c:a", "aac", "-b:a", "128k"],
        container: "mp4",
        rate: 44_100,
        channels: 1,
        priming: 0,
    },
    Format {
        name: "ADTS (AAC)",
        extension: "aac",
        ffmpeg: &["-ar", "48000", "-af", STEREO, "-c:a", "aac", "-b:a", "128k"],
        container: "aac",
        rate: 48_000,
        channels: 2,
        // Raw AAC has no header to say how much of its start is the encoder's priming.
        priming: 1024,
    },
];

fn decoded(bytes: &[u8], hint: &str) -> Audio {
    audio::decode(bytes, Some(hint), &Limits::default()).unwrap_or_else(|e| panic!("{hint}: {e}"))
}

fn rms(samples: &[f32]) -> f64 {
    let sum: f64 = samples.iter().map(|&s| f64::from(s).powi(2)).sum();
    (sum / samples.len().max(1) as f64).sqrt()
}

/// The normalised correlation of `a` with `b` at each shift in `lags` (b's sample
/// `i + lag` against a's `i`): the best, and its shift.
fn best_correlation(a: &[f32], b: &[f32], lags: std::ops::RangeInclusive<usize>) -> (f64, usize) {
    let norm = rms(a) * rms(b) * a.len().min(b.len()) as f64;
    lags.map(|lag| {
        let shifted = b.get(lag..).unwrap_or_default();
        let sum: f64 = a
            .iter()
            .zip(shifted)
            .map(|(&x, &y)| f64::from(x) * f64::from(y))
            .sum();
        (sum / norm, lag)
    })
    .fold(
        (f64::MIN, 0),
        |best, next| if next.0 > best.0 { next } else { best },
    )
}

#[test]
fn every_format_of_the_same_speech_decodes_to_16khz_mono_of_the_same_length_and_loudness() {
    for speech in [Speech::English, Speech::Mandarin] {
        let original = std::fs::read(fixtures::speech(speech)).expect("speech");
        let reference = decoded(&original, "wav");
        let seconds = fixtures::speech_seconds(speech);
        assert!((reference.duration_seconds() - seconds).abs() < 0.001);

        for format in FORMATS {
            let bytes = fixtures::encoded(speech, format.extension, format.ffmpeg);
            let audio = decoded(&bytes, format.extension);

            let what = format!("{speech:?} as {}: {:?}", format.name, audio.source);
            assert_eq!(audio.source.container, format.container, "{what}");
            assert_eq!(audio.source.sample_rate, format.rate, "{what}");
            assert_eq!(audio.source.channels, format.channels, "{what}");
            assert_eq!(audio.source.damaged_packets, 0, "{what}");
            assert!(
                audio.samples.iter().all(|s| (-1.0..=1.0).contains(s)),
                "{what}"
            );
            let drift = audio.duration_seconds() - seconds;
            assert!(drift.abs() <= 0.050, "{what}: {drift:+.4} s");
            let loudness = 20.0 * (rms(&audio.samples) / rms(&reference.samples)).log10();
            assert!(loudness.abs() < 1.0, "{what}: {loudness:+.2} dB");
            // The same speech at the same instants: any delay is the priming, no more.
            let delay = (u64::from(format.priming) * u64::from(SAMPLE_RATE))
                .div_ceil(u64::from(format.rate)) as usize;
            let lags = delay.saturating_sub(4)..=delay + 4;
            let (correlation, lag) = best_correlation(&reference.samples, &audio.samples, lags);
            assert!(
                correlation > 0.95,
                "{what}: correlation {correlation:.4} at {lag}"
            );
            assert!(lag.abs_diff(delay) <= 1, "{what}: delayed by {lag}");
        }
    }
}

#[test]
fn channels_are_averaged_into_one() {
    let original = std::fs::read(fixtures::speech(Speech::English)).expect("speech");
    let reference = decoded(&original, "wav");
    // Speech on the left, silence on the right: the average is the speech at half level.
    let bytes = fixtures::encoded(Speech::English, "wav", &["-af", "pan=stereo|c0=c0|c1=0*c0"]);

    let audio = decoded(&bytes, "wav");

    assert_eq!(audio.source.channels, 2);
    assert_eq!(audio.samples.len(), reference.samples.len());
    let worst = reference
        .samples
        .iter()
        .zip(&audio.samples)
        .map(|(full, half)| (full / 2.0 - half).abs())
        .fold(0.0, f32::max);
    assert!(worst < 1e-4, "off by {worst}");
}

#[test]
fn a_wav_streamed_through_a_pipe_decodes_to_its_real_length() {
    // Its size fields say 0xFFFFFFFF: 27 hours at this rate, far past the limit.
    let bytes = fixtures::piped_wav(Speech::Mandarin);

    let audio = decoded(&bytes, "wav");

    let drift = audio.duration_seconds() - fixtures::speech_seconds(Speech::Mandarin);
    assert!(drift.abs() < 0.001, "{drift}");
}

#[test]
fn a_wav_whose_header_holds_a_streaming_placeholder_decodes_to_its_real_length() {
    // What programs that write WAV to a pipe put in the size fields: espeak-ng's
    // `--stdout`, and the TTS service's streamed answers.
    let file = std::fs::read(fixtures::speech(Speech::English)).expect("speech");
    let seconds = fixtures::speech_seconds(Speech::English);
    for placeholder in [0x7FFF_F000u32, 0xFFFF_FFDA] {
        let mut streamed = file.clone();
        // espeak-ng writes the canonical 44-byte header: RIFF size at 4, data size at 40.
        streamed[4..8].copy_from_slice(&placeholder.wrapping_add(36).to_le_bytes());
        streamed[40..44].copy_from_slice(&placeholder.to_le_bytes());

        let audio = decoded(&streamed, "wav");

        let drift = audio.duration_seconds() - seconds;
        assert!(drift.abs() < 0.001, "{placeholder:#x}: {drift}");
    }
}

#[test]
fn the_soundtrack_of_a_video_is_decoded() {
    let speech = fixtures::speech(Speech::English);
    let speech = speech.to_str().expect("a UTF-8 path");
    let bytes = fixtures::made_by_ffmpeg(
        "mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=64x48:rate=5",
            "-i",
            speech,
            "-shortest",
            "-c:v",
            "mpeg4",
            "-c:a",
            "aac",
        ],
    );

    let audio = decoded(&bytes, "video/mp4");

    assert_eq!(
        (audio.source.container, audio.source.codec.as_str()),
        ("mp4", "aac")
    );
    let drift = audio.duration_seconds() - fixtures::speech_seconds(Speech::English);
    assert!(drift.abs() <= 0.050, "{drift}");
}
