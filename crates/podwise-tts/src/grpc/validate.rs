//! Checks a gRPC synthesis request and turns it into the synthesiser's [`Request`] and
//! the format to write. Each refusal names the field and what would be accepted, so the
//! gateway can pass it on as a 400.

use podwise_common::ServiceError;
use podwise_proto::tts::v1 as pb;

use crate::audio::OutputFormat;
use crate::engine::Prosody;
use crate::observe;
use crate::synth::Request;
use crate::text;
use crate::voices::Catalogue;

/// Speaking rates accepted, 1 being the voice's own.
pub const SPEED_RANGE: std::ops::RangeInclusive<f32> = 0.5..=2.0;
/// Semitones of pitch change accepted by voices that can change pitch (espeak-ng's range).
pub const PITCH_RANGE: std::ops::RangeInclusive<f32> = -10.0..=10.0;
/// Output rates accepted, in hertz: telephone to studio.
pub const RATE_RANGE: std::ops::RangeInclusive<u32> = 8_000..=48_000;

/// The checked request and its output format.
///
/// # Errors
/// `InvalidArgument` naming the field at fault.
pub(crate) fn request(
    request: pb::SynthesizeRequest,
    catalogue: &Catalogue,
    max_chars: usize,
) -> Result<(Request, OutputFormat), ServiceError> {
    let refuse = |reason: &'static str, message: String| {
        observe::rejected(reason);
        ServiceError::InvalidArgument(message)
    };

    let raw = std::str::from_utf8(&request.text).map_err(|e| {
        refuse(
            "not_utf8",
            format!(
                "text is not UTF-8 (invalid byte at offset {})",
                e.valid_up_to()
            ),
        )
    })?;
    let cleaned = text::clean(raw);
    if cleaned.trim().is_empty() {
        return Err(refuse("empty_text", "text is empty".to_owned()));
    }
    let chars = cleaned.chars().count();
    if chars > max_chars {
        return Err(refuse(
            "text_too_long",
            format!("text is {chars} characters long; at most {max_chars} are accepted"),
        ));
    }
    if !text::speakable(&cleaned) {
        return Err(refuse(
            "nothing_to_say",
            "text holds no letters, digits or Chinese characters to speak".to_owned(),
        ));
    }

    let voice = if request.voice.trim().is_empty() {
        catalogue.default_for(text::dominant_script(&cleaned))
    } else {
        catalogue.get(request.voice.trim())
    }
    .cloned()
    .ok_or_else(|| {
        refuse(
            "unknown_voice",
            format!(
                "voice {:?} is not known; the voices are {}",
                request.voice,
                catalogue.ids()
            ),
        )
    })?;

    let speed = if request.speed == 0.0 {
        1.0
    } else {
        request.speed
    };
    if !SPEED_RANGE.contains(&speed) {
        return Err(refuse(
            "speed",
            format!(
                "speed must be between {} and {} (1 is normal), not {}",
                SPEED_RANGE.start(),
                SPEED_RANGE.end(),
                request.speed
            ),
        ));
    }
    let pitch = request.pitch;
    if !PITCH_RANGE.contains(&pitch) {
        return Err(refuse(
            "pitch",
            format!(
                "pitch must be between {} and {} semitones, not {pitch}",
                PITCH_RANGE.start(),
                PITCH_RANGE.end()
            ),
        ));
    }
    if pitch != 0.0 && !voice.own.adjusts_pitch() {
        return Err(refuse(
            "pitch",
            format!(
                "voice {} cannot change its pitch (its neural engine has no such control); \
                 send pitch 0 or choose {}",
                voice.id,
                pitch_voices(catalogue)
            ),
        ));
    }

    let sample_rate = match request.sample_rate_hz {
        0 => voice.native_rate(),
        rate if RATE_RANGE.contains(&rate) => rate,
        rate => {
            return Err(refuse(
                "sample_rate",
                format!(
                    "sample_rate_hz must be 0 (the voice's own, {} Hz) or between {} and {}, \
                     not {rate}",
                    voice.native_rate(),
                    RATE_RANGE.start(),
                    RATE_RANGE.end()
                ),
            ));
        }
    };

    let format = format(request.format).map_err(|message| refuse("format", message))?;
    Ok((
        Request {
            text: cleaned,
            voice,
            prosody: Prosody { speed, pitch },
            sample_rate,
        },
        format,
    ))
}

/// The output format for the contract's enum value.
fn format(value: i32) -> Result<OutputFormat, String> {
    let unavailable = |name: &str| {
        format!(
            "format {name} is not available: this build has no pure-Rust encoder for it; \
             use one of {}",
            OutputFormat::NAMES
        )
    };
    match pb::AudioFormat::try_from(value) {
        Ok(pb::AudioFormat::Unspecified | pb::AudioFormat::Wav) => Ok(OutputFormat::Wav),
        Ok(pb::AudioFormat::Pcm) => Ok(OutputFormat::Pcm),
        Ok(pb::AudioFormat::Flac) => Ok(OutputFormat::Flac),
        Ok(pb::AudioFormat::Mp3) => Err(unavailable("MP3")),
        Ok(pb::AudioFormat::OggOpus) => Err(unavailable("Ogg Opus")),
        Err(_) => Err(format!(
            "format {value} is not a known format; use one of {}",
            OutputFormat::NAMES
        )),
    }
}

fn pitch_voices(catalogue: &Catalogue) -> String {
    catalogue
        .voices()
        .iter()
        .filter(|v| v.own.adjusts_pitch())
        .map(|v| v.id.as_str())
        .collect::<Vec<_>>()
        .join(" or ")
}
