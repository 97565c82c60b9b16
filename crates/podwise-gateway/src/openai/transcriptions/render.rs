//! A transcript written out in each `response_format` OpenAI's transcription route
//! offers: `json`, `text`, `srt`, `vtt` and `verbose_json`.

use podwise_proto::stt::v1::{Segment, TranscribeResponse};
use serde_json::{Value, json};

/// The shapes a client may ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Json,
    Text,
    Srt,
    Vtt,
    VerboseJson,
}

impl Format {
    /// Reads `response_format`; unset means `json`, as with OpenAI.
    pub(crate) fn parse(raw: Option<&str>) -> Result<Self, String> {
        match raw.map(str::trim) {
            None | Some("json") => Ok(Self::Json),
            Some("text") => Ok(Self::Text),
            Some("srt") => Ok(Self::Srt),
            Some("vtt") => Ok(Self::Vtt),
            Some("verbose_json") => Ok(Self::VerboseJson),
            Some(other) => Err(format!(
                "response_format {other:?} is not one of json, text, srt, vtt, verbose_json"
            )),
        }
    }

    pub(crate) fn content_type(self) -> &'static str {
        match self {
            Self::Json | Self::VerboseJson => "application/json",
            Self::Text | Self::Srt => "text/plain; charset=utf-8",
            Self::Vtt => "text/vtt; charset=utf-8",
        }
    }
}

/// Which timings `verbose_json` carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Granularity {
    pub(crate) segments: bool,
    pub(crate) words: bool,
}

/// The body of the answer in `format`.
pub(crate) fn render(
    transcript: &TranscribeResponse,
    format: Format,
    granularity: Granularity,
) -> String {
    match format {
        Format::Json => json!({ "text": transcript.text }).to_string(),
        Format::Text => format!("{}\n", transcript.text),
        Format::Srt => subtitles(&transcript.segments, Cue::Srt),
        Format::Vtt => format!("WEBVTT\n\n{}", subtitles(&transcript.segments, Cue::Vtt)),
        Format::VerboseJson => verbose(transcript, granularity).to_string(),
    }
}

#[derive(Clone, Copy)]
enum Cue {
    Srt,
    Vtt,
}

fn subtitles(segments: &[Segment], cue: Cue) -> String {
    let mut out = String::new();
    for (index, segment) in segments.iter().enumerate() {
        if let Cue::Srt = cue {
            out.push_str(&format!("{}\n", index + 1));
        }
        let text = segment.text.trim();
        out.push_str(&format!(
            "{} --> {}\n{text}\n\n",
            timestamp(segment.start_seconds, cue),
            timestamp(segment.end_seconds, cue)
        ));
    }
    out
}

/// `HH:MM:SS,mmm` for SubRip, `HH:MM:SS.mmm` for WebVTT.
fn timestamp(seconds: f64, cue: Cue) -> String {
    // Whole milliseconds: segment times are in hundredths, so nothing is lost.
    let millis = (seconds.max(0.0) * 1000.0).round() as u64;
    let (hours, rest) = (millis / 3_600_000, millis % 3_600_000);
    let (minutes, rest) = (rest / 60_000, rest % 60_000);
    let (secs, millis) = (rest / 1000, rest % 1000);
    let separator = match cue {
        Cue::Srt => ',',
        Cue::Vtt => '.',
    };
    format!("{hours:02}:{minutes:02}:{secs:02}{separator}{millis:03}")
}

/// OpenAI's `verbose_json`: the text, language and duration, with segments and words as
/// asked. Whisper's own fields (`seek`, `tokens`, `temperature`, ...) are carried too,
/// since clients that ask for this shape read them.
fn verbose(transcript: &TranscribeResponse, granularity: Granularity) -> Value {
    let mut body = json!({
        "task": "transcribe",
        "language": transcript.language,
        "duration": transcript.duration_seconds,
        "text": transcript.text,
    });
    if granularity.segments {
        let segments: Vec<Value> = transcript
            .segments
            .iter()
            .map(|segment| {
                json!({
                    "id": segment.id,
                    // Whisper counts its windows' offsets in 10 ms frames.
                    "seek": (segment.window_start_seconds * 100.0).round() as u64,
                    "start": segment.start_seconds,
                    "end": segment.end_seconds,
                    "text": segment.text,
                    "tokens": segment.tokens,
                    "temperature": segment.temperature,
                    "avg_logprob": segment.avg_logprob,
                    "compression_ratio": segment.compression_ratio,
                    "no_speech_prob": segment.no_speech_prob,
                })
            })
            .collect();
        body["segments"] = Value::Array(segments);
    }
    if granularity.words {
        let words: Vec<Value> = transcript
            .segments
            .iter()
            .flat_map(|segment| &segment.words)
            .map(|word| {
                json!({
                    "word": word.text,
                    "start": word.start_seconds,
                    "end": word.end_seconds,
                })
            })
            .collect();
        body["words"] = Value::Array(words);
    }
    body
}

#[cfg(test)]
mod tests {
    use podwise_proto::stt::v1::Word;

    use super::*;

    fn transcript() -> TranscribeResponse {
        TranscribeResponse {
            text: "Hello there. 你好。".to_owned(),
            language: "en".to_owned(),
            language_probability: 0.9,
            duration_seconds: 3661.5,
            segments: vec![
                Segment {
                    id: 0,
                    start_seconds: 0.0,
                    end_seconds: 1.25,
                    text: " Hello there.".to_owned(),
                    words: vec![Word {
                        text: " Hello".to_owned(),
                        start_seconds: 0.0,
                        end_seconds: 0.5,
                        probability: 0.9,
                    }],
                    ..Segment::default()
                },
                Segment {
                    id: 1,
                    start_seconds: 3660.0,
                    end_seconds: 3661.5,
                    text: "你好。".to_owned(),
                    window_start_seconds: 3655.0,
                    ..Segment::default()
                },
            ],
            model: "whisper-base".to_owned(),
        }
    }

    const BOTH: Granularity = Granularity {
        segments: true,
        words: true,
    };

    #[test]
    fn srt_numbers_its_cues_and_uses_a_comma_before_the_milliseconds() {
        let srt = render(&transcript(), Format::Srt, BOTH);

        assert_eq!(
            srt,
            "1\n00:00:00,000 --> 00:00:01,250\nHello there.\n\n\
             2\n01:01:00,000 --> 01:01:01,500\n你好。\n\n"
        );
    }

    #[test]
    fn vtt_has_its_header_and_uses_a_dot_before_the_milliseconds() {
        let vtt = render(&transcript(), Format::Vtt, BOTH);

        assert!(vtt.starts_with("WEBVTT\n\n00:00:00.000 --> 00:00:01.250\nHello there.\n\n"));
        assert!(vtt.ends_with("01:01:00.000 --> 01:01:01.500\n你好。\n\n"));
    }

    #[test]
    fn json_and_text_carry_only_the_text() {
        let json: Value =
            serde_json::from_str(&render(&transcript(), Format::Json, BOTH)).expect("valid JSON");

        assert_eq!(json, json!({"text": "Hello there. 你好。"}));
        assert_eq!(
            render(&transcript(), Format::Text, BOTH),
            "Hello there. 你好。\n"
        );
    }

    #[test]
    fn verbose_json_has_segments_and_words_only_when_asked() {
        let only_segments = Granularity {
            segments: true,
            words: false,
        };
        let body: Value =
            serde_json::from_str(&render(&transcript(), Format::VerboseJson, only_segments))
                .expect("valid JSON");

        assert_eq!(body["duration"], 3661.5);
        assert_eq!(body["segments"][1]["seek"], 365_500);
        assert_eq!(body["segments"][0]["end"], 1.25);
        assert!(body.get("words").is_none());

        let words = Granularity {
            segments: false,
            words: true,
        };
        let body: Value = serde_json::from_str(&render(&transcript(), Format::VerboseJson, words))
            .expect("valid JSON");
        assert_eq!(
            body["words"],
            json!([{"word": " Hello", "start": 0.0, "end": 0.5}])
        );
        assert!(body.get("segments").is_none());
    }

    #[test]
    fn an_unknown_format_is_refused_naming_the_known_ones() {
        let error = Format::parse(Some("docx")).expect_err("unknown");

        assert!(
            error.contains("json, text, srt, vtt, verbose_json"),
            "{error}"
        );
        assert_eq!(Format::parse(None), Ok(Format::Json));
    }
}
