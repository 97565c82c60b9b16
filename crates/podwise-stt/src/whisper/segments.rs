//! Cutting a decoded window into timed segments, and timing each segment's words.
//!
//! Whisper writes a timestamp token before and after each stretch of speech; a segment is
//! the text between an opening and a closing one. Word times come from
//! [`alignment`](super::alignment) and are kept within their segment.

use super::alignment;
use super::decode::Attempt;
use super::decoder::Session;
use super::tokens::{TIME_STEP, Vocabulary};
use super::{DecodeError, Model, Segment, Word};

/// A run of tokens between timestamps: start and end in seconds, and where it lies.
#[derive(Debug, Clone, PartialEq)]
struct Span {
    start: f64,
    end: f64,
    tokens: std::ops::Range<usize>,
}

/// Cuts the tokens at their timestamps: each segment opens at a timestamp and closes at
/// the next one after some text. Text after the last timestamp (the window ended
/// mid-segment) runs to the end of the audio. Times are clamped to the audio.
fn spans(tokens: &[u32], timestamp_begin: u32, duration: f64) -> Vec<Span> {
    let time = |t: u32| (f64::from(t - timestamp_begin) * TIME_STEP).min(duration);
    let mut out = Vec::new();
    let mut opened: Option<(usize, f64)> = None;
    let mut text_from: Option<usize> = None;
    let mut last_end = 0.0;
    for (i, &t) in tokens.iter().enumerate() {
        match (t >= timestamp_begin, text_from) {
            (true, Some(first)) => {
                let (from, start) = opened.unwrap_or((first, last_end));
                last_end = time(t).max(start);
                out.push(Span {
                    start,
                    end: last_end,
                    tokens: from..i + 1,
                });
                opened = None;
                text_from = None;
            }
            (true, None) => opened = Some((i, time(t))),
            (false, None) => text_from = Some(i),
            (false, Some(_)) => {}
        }
    }
    if let Some(first) = text_from {
        let (from, start) = opened.unwrap_or((first, last_end));
        out.push(Span {
            start,
            end: duration.max(start),
            tokens: from..tokens.len(),
        });
    }
    out
}

/// The attempt's segments with their text, each with its tokens' log-probabilities;
/// spans that decode to nothing are dropped.
pub(super) fn segments(
    attempt: &Attempt,
    vocab: &Vocabulary,
    duration: f64,
    no_speech_prob: f32,
) -> Vec<(Segment, Vec<f32>)> {
    spans(&attempt.tokens, vocab.timestamp_begin, duration)
        .into_iter()
        .filter_map(|span| {
            let tokens = attempt.tokens[span.tokens.clone()].to_vec();
            let logprobs = attempt.logprobs[span.tokens].to_vec();
            let text = vocab.decode(&tokens).trim().to_owned();
            let segment = Segment {
                start: span.start,
                end: span.end,
                text,
                avg_logprob: logprobs.iter().sum::<f32>() / logprobs.len().max(1) as f32,
                no_speech_prob,
                tokens,
                words: Vec::new(),
            };
            (!segment.text.is_empty()).then_some((segment, logprobs))
        })
        .collect()
}

/// Times the words of every segment, from one more decoder pass over their text tokens.
pub(super) fn time_words(
    model: &Model,
    session: &mut Session,
    start: &[u32],
    language: &str,
    samples: usize,
    segments: &mut [(Segment, Vec<f32>)],
) -> Result<(), DecodeError> {
    let vocab = &model.vocab;
    // Text tokens of all segments in order, each with its probability and its segment.
    let mut text = Vec::new();
    let mut owner = Vec::new();
    let mut chances = Vec::new();
    for (index, (segment, logprobs)) in segments.iter().enumerate() {
        for (&t, lp) in segment.tokens.iter().zip(logprobs) {
            if t < vocab.eot {
                text.push(t);
                owner.push(index);
                chances.push(lp.exp());
            }
        }
    }
    let frames = samples
        .div_ceil(2 * super::mel::HOP)
        .min(super::mel::FRAMES / 2);
    let words = alignment::align(model, session, start, &text, frames, language)?;
    for word in words {
        let Some(&index) = owner.get(word.tokens.start) else {
            continue;
        };
        let segment = &mut segments[index].0;
        let start = word.start.clamp(segment.start, segment.end);
        let chance = &chances[word.tokens.clone()];
        segment.words.push(Word {
            start,
            end: word.end.clamp(start, segment.end),
            text: word.text,
            probability: chance.iter().sum::<f32>() / chance.len().max(1) as f32,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_pairs_delimit_segments_and_trailing_text_runs_to_the_end() {
        let t = |steps: u32| 1000 + steps;
        let tokens = [t(0), 5, 6, t(100), t(100), 7, t(200), t(210), 8];
        let spans = spans(&tokens, 1000, 6.0);
        let expected = [(0.0, 2.0, 0..4), (2.0, 4.0, 4..7), (4.2, 6.0, 7..9)];
        assert_eq!(spans.len(), expected.len(), "{spans:?}");
        for (span, (start, end, range)) in spans.iter().zip(expected) {
            assert!((span.start - start).abs() < 1e-9 && (span.end - end).abs() < 1e-9);
            assert_eq!(span.tokens, range);
        }
    }

    #[test]
    fn times_past_the_audio_are_clamped_to_its_end() {
        let tokens = [1000, 5, 1000 + 1400];
        let spans = spans(&tokens, 1000, 3.5);
        assert_eq!(spans.len(), 1);
        assert!((spans[0].end - 3.5).abs() < 1e-9, "{spans:?}");
    }
}
