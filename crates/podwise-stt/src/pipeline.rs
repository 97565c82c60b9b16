//! From decoded audio to a transcript: split into windows, transcribe each in order,
//! carry the text of one window into the next as its prompt, and hand out segments with
//! times measured from the start of the recording as soon as each window is done.
//!
//! The model is behind [`WindowModel`] so that this logic (offsets, the language decided
//! once, prompts, Traditional characters, stopping early) is tested on its own; the
//! service runs it with Whisper.

use crate::audio::{self, Window};
use crate::traditional;
use crate::whisper::{DecodeError, DecodeOptions, Whisper, WindowTranscript};

/// Seconds of audio one window holds at most.
pub const WINDOW_SECONDS: f64 = 30.0;

/// How much of the previous window's text the next one is prompted with. Whisper reads
/// about 220 tokens of prompt; a few hundred characters covers that in either script.
const PROMPT_CHARS: usize = 600;

/// Transcribes one window; implemented by [`Whisper`].
pub trait WindowModel {
    /// See [`Whisper::transcribe_window`].
    ///
    /// # Errors
    /// As the model reports them.
    fn transcribe_window(
        &mut self,
        samples: &[f32],
        options: &DecodeOptions,
    ) -> Result<WindowTranscript, DecodeError>;
}

impl WindowModel for Whisper {
    fn transcribe_window(
        &mut self,
        samples: &[f32],
        options: &DecodeOptions,
    ) -> Result<WindowTranscript, DecodeError> {
        Whisper::transcribe_window(self, samples, options)
    }
}

/// What the caller asked for.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// A language code, or `None` to detect it on the first window with speech.
    pub language: Option<String>,
    /// Text that conditions the first window (names, spelling).
    pub prompt: Option<String>,
    pub word_timestamps: bool,
    /// 0 decodes greedily with Whisper's fallback to higher temperatures; above 0, every
    /// window is sampled at this temperature first.
    pub temperature: f32,
}

/// What the pipeline reports, in order: [`Progress::Language`] once, before any segment.
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    /// The language the recording is transcribed in and the detector's confidence.
    Language {
        code: String,
        probability: f32,
    },
    Segment(TimedSegment),
}

/// A segment with times from the start of the recording.
#[derive(Debug, Clone, PartialEq)]
pub struct TimedSegment {
    /// Counts from 0 across the whole recording.
    pub id: u32,
    pub start: f64,
    pub end: f64,
    pub text: String,
    pub avg_logprob: f32,
    pub no_speech_prob: f32,
    pub tokens: Vec<u32>,
    /// Its words with their times, when they were asked for.
    pub words: Vec<TimedWord>,
    /// The temperature its window was finally decoded at.
    pub temperature: f32,
    /// How repetitive its window's text is (text bytes over compressed bytes).
    pub compression_ratio: f32,
    /// Where the window it was decoded in starts.
    pub window_start: f64,
}

/// A word with times from the start of the recording.
#[derive(Debug, Clone, PartialEq)]
pub struct TimedWord {
    pub start: f64,
    pub end: f64,
    pub text: String,
    pub probability: f32,
}

/// Transcribes `samples` (16 kHz mono) window by window, calling `report` with each piece
/// of progress. `report` returns `false` when nobody is listening any more, which stops
/// the work before the next window.
///
/// # Errors
/// The first window the model fails on.
pub fn transcribe(
    model: &mut dyn WindowModel,
    samples: &[f32],
    request: &Request,
    mut report: impl FnMut(Progress) -> bool,
) -> Result<(), DecodeError> {
    let windows = audio::split_on_silence(samples, WINDOW_SECONDS);
    if windows.is_empty() {
        // No audio at all: nothing to detect, but the caller still learns the language.
        report(Progress::Language {
            code: request.language.clone().unwrap_or_default(),
            probability: 0.0,
        });
        return Ok(());
    }
    let mut language = request.language.clone();
    let mut announced = false;
    let mut previous_text = String::new();
    let mut next_id = 0u32;
    for (index, window) in windows.iter().enumerate() {
        let options = DecodeOptions {
            language: language.clone(),
            prompt: prompt_for(request.prompt.as_deref(), &previous_text),
            word_timestamps: request.word_timestamps,
            temperature: request.temperature,
            seed: index as u64,
        };
        let transcript = model.transcribe_window(&samples[window.range()], &options)?;
        let has_speech = !transcript.segments.is_empty();
        // The language is settled by the first window with speech (or the last window,
        // for a recording without any), then held for the rest so one recording does not
        // switch scripts halfway.
        if !announced && (has_speech || index + 1 == windows.len()) {
            announced = true;
            language = Some(transcript.language.clone());
            let progress = Progress::Language {
                code: transcript.language.clone(),
                probability: transcript.language_probability,
            };
            if !report(progress) {
                return Ok(());
            }
        }
        let chinese = language.as_deref() == Some("zh");
        let transcript_meta = WindowMeta {
            temperature: transcript.temperature,
            compression_ratio: transcript.compression_ratio,
        };
        let mut window_text = String::new();
        for mut segment in transcript.segments {
            if chinese {
                for word in &mut segment.words {
                    word.text = traditional::convert(&word.text);
                }
            }
            let text = if chinese {
                traditional::convert(&segment.text)
            } else {
                std::mem::take(&mut segment.text)
            };
            window_text.push_str(&text);
            window_text.push(' ');
            let timed = timed(window, next_id, text, segment, &transcript_meta);
            next_id += 1;
            if !report(Progress::Segment(timed)) {
                return Ok(());
            }
        }
        // As Whisper does: text sampled hot is too unreliable to steer the next window.
        previous_text = if transcript_meta.temperature > 0.5 {
            String::new()
        } else {
            window_text
        };
    }
    Ok(())
}

/// The caller's prompt for the first window, then the end of the previous window's text.
fn prompt_for(initial: Option<&str>, previous_text: &str) -> Option<String> {
    let previous = previous_text.trim();
    if previous.is_empty() {
        return initial.map(str::to_owned);
    }
    let skip = previous.chars().count().saturating_sub(PROMPT_CHARS);
    Some(previous.chars().skip(skip).collect())
}

/// What Whisper reports per window, carried into each of its segments.
struct WindowMeta {
    temperature: f32,
    compression_ratio: f32,
}

fn timed(
    window: &Window,
    id: u32,
    text: String,
    segment: crate::whisper::Segment,
    meta: &WindowMeta,
) -> TimedSegment {
    let offset = window.start_seconds();
    TimedSegment {
        id,
        start: offset + segment.start,
        end: (offset + segment.end).min(window.end_seconds()),
        text,
        avg_logprob: segment.avg_logprob,
        no_speech_prob: segment.no_speech_prob,
        tokens: segment.tokens,
        words: segment
            .words
            .into_iter()
            .map(|word| TimedWord {
                start: offset + word.start,
                end: offset + word.end,
                text: word.text,
                probability: word.probability,
            })
            .collect(),
        temperature: meta.temperature,
        compression_ratio: meta.compression_ratio,
        window_start: offset,
    }
}

/// Joins segment texts into the recording's text: with spaces between words of languages
/// written with them, without for scripts that do not use spaces.
pub fn join_text<'a>(language: &str, texts: impl IntoIterator<Item = &'a str>) -> String {
    let separator = match language {
        "zh" | "ja" | "th" | "lo" | "my" | "yue" => "",
        _ => " ",
    };
    texts
        .into_iter()
        .map(str::trim)
        .filter(|text| !text.is_empty())
        .collect::<Vec<_>>()
        .join(separator)
}

#[cfg(test)]
mod tests;
