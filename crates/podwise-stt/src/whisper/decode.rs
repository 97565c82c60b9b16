//! Decoding one window: language detection, the start sequence, token-by-token decoding
//! under the timestamp rules, Whisper's temperature fallback, and the cut into segments.
//!
//! The fallback follows Whisper's `transcribe`: decode greedily; if the text compresses
//! too well (a loop) or the tokens are too unlikely, decode again sampling at 0.2, 0.4,
//! ... 1.0, unless the window looks like silence. Sampling uses a seeded generator, so a
//! window transcribes the same way every time for the same seed. Unlike Whisper, each
//! temperature draws one candidate rather than the best of five: a fifth of the cost for
//! the rare window that needs it.

use std::io::Write as _;
use std::time::Instant;

use candle_core::{Device, Tensor};

use super::decoder::Session;
use super::rules;
use super::segments::{segments, time_words};
use super::{DecodeError, DecodeOptions, Model, WindowTranscript};

/// Temperatures tried in turn, as Whisper does.
const TEMPERATURES: [f32; 6] = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0];
/// Text that zlib shrinks more than this is a repetition loop.
const COMPRESSION_RATIO_LIMIT: f32 = 2.4;
/// Mean log-probability per token below which a decode is retried.
const LOGPROB_LIMIT: f32 = -1.0;
/// Above this no-speech probability (with a low log-probability) a window is silence.
const NO_SPEECH_LIMIT: f32 = 0.6;

/// One decode of the window at one temperature.
#[derive(Debug)]
pub(super) struct Attempt {
    /// Sampled tokens, end of text excluded, with the log-probability of each.
    pub tokens: Vec<u32>,
    pub logprobs: Vec<f32>,
    /// Sum of the log-probabilities, end of text included, over the tokens plus one.
    pub avg_logprob: f32,
    pub compression_ratio: f32,
}

impl Attempt {
    fn needs_fallback(&self, no_speech_prob: f32) -> bool {
        let unlikely = self.avg_logprob < LOGPROB_LIMIT;
        let silent = no_speech_prob > NO_SPEECH_LIMIT && unlikely;
        (self.compression_ratio > COMPRESSION_RATIO_LIMIT || unlikely) && !silent
    }
}

/// A small seeded generator (SplitMix64): sampling needs reproducibility, not strength.
#[derive(Debug)]
struct Rng(u64);

impl Rng {
    fn uniform(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Transcribes one window of at most 30 s of 16 kHz mono audio.
pub(crate) fn transcribe(
    model: &Model,
    samples: &[f32],
    options: &DecodeOptions,
) -> Result<WindowTranscript, DecodeError> {
    let vocab = &model.vocab;
    let started = Instant::now();
    let mel = model.mel.compute(samples);
    let mel = Tensor::from_vec(mel, (model.mel.n_mels(), super::mel::FRAMES), &Device::Cpu)?;
    let audio = model.encoder.forward(&mel)?;
    let mut session = model.decoder.start(&audio)?;
    let encoded = started.elapsed();

    let (language, language_probability, language_token) = match &options.language {
        _ if vocab.languages.is_empty() => ("en".to_owned(), 1.0, None),
        Some(code) => {
            let token = vocab
                .language(code)
                .ok_or_else(|| DecodeError::UnknownLanguage(code.clone()))?;
            (code.to_ascii_lowercase(), 1.0, Some(token))
        }
        None => {
            let (code, probability, token) = detect_language(model, &mut session)?;
            (code, probability, Some(token))
        }
    };

    let (start, sot_index) = start_sequence(model, options.prompt.as_deref(), language_token)?;
    let kept = decode_with_fallback(
        model,
        &mut session,
        &start,
        sot_index,
        options.temperature,
        options.seed,
    )?;
    let (attempt, no_speech_prob) = (&kept.attempt, kept.no_speech_prob);
    tracing::debug!(
        encode_ms = encoded.as_millis() as u64,
        decode_ms = (started.elapsed() - encoded).as_millis() as u64,
        tokens = attempt.tokens.len(),
        temperature = kept.temperature,
        "Whisper window decoded"
    );
    let silent = no_speech_prob > NO_SPEECH_LIMIT && attempt.avg_logprob < LOGPROB_LIMIT;
    let duration = samples.len() as f64 / super::mel::SAMPLE_RATE as f64;
    let mut drafts = if silent {
        Vec::new()
    } else {
        segments(attempt, vocab, duration, no_speech_prob)
    };
    if options.word_timestamps && !drafts.is_empty() {
        let start = &start[sot_index..];
        time_words(
            model,
            &mut session,
            start,
            &language,
            samples.len(),
            &mut drafts,
        )?;
    }
    let segments = drafts.into_iter().map(|(segment, _)| segment).collect();
    Ok(WindowTranscript {
        language,
        language_probability,
        no_speech_prob,
        temperature: kept.temperature,
        compression_ratio: attempt.compression_ratio,
        segments,
    })
}

/// The tokens decoding starts from: the prompt after `<|startofprev|>` (its last 223
/// tokens), then start of transcript, language and task. Also returns where the start of
/// transcript sits, whose output carries the no-speech probability.
fn start_sequence(
    model: &Model,
    prompt: Option<&str>,
    language: Option<u32>,
) -> Result<(Vec<u32>, usize), DecodeError> {
    let vocab = &model.vocab;
    let mut start = Vec::new();
    if let Some(prompt) = prompt.map(str::trim).filter(|p| !p.is_empty()) {
        let text = vocab
            .encode(&format!(" {prompt}"))
            .map_err(DecodeError::Prompt)?;
        let keep = model.decoder.text_ctx() / 2 - 1;
        start.push(vocab.sot_prev);
        start.extend_from_slice(&text[text.len().saturating_sub(keep)..]);
    }
    let sot_index = start.len();
    start.push(vocab.sot);
    start.extend(language);
    start.extend(vocab.transcribe);
    Ok((start, sot_index))
}

/// The decode kept after the temperature fallback, with what it was decoded at.
#[derive(Debug)]
struct Kept {
    attempt: Attempt,
    no_speech_prob: f32,
    temperature: f32,
}

/// Decodes at `first_temperature` (0 is greedy), then at the rising temperatures above it
/// while the result loops or is unlikely; keeps the last try when none is good.
fn decode_with_fallback(
    model: &Model,
    session: &mut Session,
    start: &[u32],
    sot_index: usize,
    first_temperature: f32,
    seed: u64,
) -> Result<Kept, DecodeError> {
    let mut rng = Rng(seed);
    let mut kept = None;
    let schedule = std::iter::once(first_temperature)
        .chain(TEMPERATURES.into_iter().filter(|&t| t > first_temperature));
    for temperature in schedule {
        session.rewind();
        let (attempt, no_speech_prob) =
            decode(model, session, start, sot_index, temperature, &mut rng)?;
        let retry = attempt.needs_fallback(no_speech_prob);
        kept = Some(Kept {
            attempt,
            no_speech_prob,
            temperature,
        });
        if !retry {
            break;
        }
    }
    kept.ok_or_else(|| DecodeError::Model("no temperature to decode at".to_owned()))
}

/// Runs the start-of-transcript token alone and reads the language tokens' probabilities.
fn detect_language(
    model: &Model,
    session: &mut Session,
) -> Result<(String, f32, u32), DecodeError> {
    let vocab = &model.vocab;
    let hidden = model.decoder.forward(&[vocab.sot], session)?;
    let logits: Vec<f32> = model.decoder.logits(&hidden)?.squeeze(0)?.to_vec1()?;
    let scores: Vec<f32> = vocab
        .languages
        .iter()
        .map(|&(_, t)| logits[t as usize])
        .collect();
    let peak = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let total: f32 = scores.iter().map(|s| (s - peak).exp()).sum();
    let best = (0..scores.len())
        .max_by(|&a, &b| scores[a].total_cmp(&scores[b]))
        .ok_or_else(|| DecodeError::Model("the model lists no languages".into()))?;
    let (code, token) = vocab.languages[best].clone();
    Ok((code, (scores[best] - peak).exp() / total, token))
}

/// Decodes from `start` until end of text or the length limit, returning the attempt and
/// the no-speech probability read at the start-of-transcript position.
fn decode(
    model: &Model,
    session: &mut Session,
    start: &[u32],
    sot_index: usize,
    temperature: f32,
    rng: &mut Rng,
) -> Result<(Attempt, f32), DecodeError> {
    let vocab = &model.vocab;
    let decoder = &model.decoder;
    let hidden = decoder.forward(start, session)?;
    let picks = Tensor::new(&[sot_index as u32, start.len() as u32 - 1], &Device::Cpu)?;
    let first: Vec<Vec<f32>> = decoder
        .logits(&hidden.index_select(&picks, 0)?)?
        .to_vec2()?;
    let no_speech_prob = rules::log_probability(&first[0], vocab.no_speech as usize).exp();
    let mut logits = first.into_iter().nth(1).unwrap_or_default();

    let limit = decoder.text_ctx() / 2;
    let mut tokens = Vec::new();
    let mut logprobs = Vec::new();
    let mut sum = 0.0;
    while tokens.len() < limit {
        rules::apply(&mut logits, &tokens, vocab);
        let token = if temperature == 0.0 {
            argmax(&logits)
        } else {
            sample(&logits, temperature, rng)
        };
        let logprob = rules::log_probability(&logits, token);
        sum += logprob;
        if token == vocab.eot as usize || session.position() >= decoder.text_ctx() {
            break;
        }
        tokens.push(token as u32);
        logprobs.push(logprob);
        let hidden = decoder.forward(&[token as u32], session)?;
        logits = decoder.logits(&hidden)?.squeeze(0)?.to_vec1()?;
    }
    let text = vocab.decode(&tokens);
    Ok((
        Attempt {
            avg_logprob: sum / (tokens.len() + 1) as f32,
            compression_ratio: compression_ratio(&text),
            tokens,
            logprobs,
        },
        no_speech_prob,
    ))
}

fn argmax(values: &[f32]) -> usize {
    (0..values.len())
        .max_by(|&a, &b| values[a].total_cmp(&values[b]))
        .unwrap_or(0)
}

/// Draws a token from `softmax(logits / temperature)`.
fn sample(logits: &[f32], temperature: f32, rng: &mut Rng) -> usize {
    let peak = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let weights: Vec<f64> = logits
        .iter()
        .map(|&l| f64::from((l - peak) / temperature).exp())
        .collect();
    let mut target = rng.uniform() * weights.iter().sum::<f64>();
    for (i, w) in weights.iter().enumerate() {
        target -= w;
        if target < 0.0 && *w > 0.0 {
            return i;
        }
    }
    argmax(logits)
}

/// Bytes of the text over bytes of its zlib stream, as Whisper measures repetition.
fn compression_ratio(text: &str) -> f32 {
    if text.is_empty() {
        return 0.0;
    }
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    let compressed = z
        .write_all(text.as_bytes())
        .and_then(|()| z.finish())
        .map_or(text.len(), |c| c.len());
    text.len() as f32 / compressed.max(1) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(tokens: Vec<u32>) -> Attempt {
        Attempt {
            logprobs: vec![-0.5; tokens.len()],
            tokens,
            avg_logprob: -0.5,
            compression_ratio: 1.0,
        }
    }

    #[test]
    fn a_repetition_loop_compresses_far_better_than_speech() {
        let looped = "and then ".repeat(16);
        assert!(compression_ratio(&looped) > COMPRESSION_RATIO_LIMIT);
        let speech = "The quick brown fox jumps over the lazy dog.";
        assert!(compression_ratio(speech) < COMPRESSION_RATIO_LIMIT);
    }

    #[test]
    fn unlikely_text_is_retried_unless_the_window_is_silence() {
        let mut a = attempt(vec![1, 2]);
        a.avg_logprob = -1.5;
        assert!(a.needs_fallback(0.1));
        assert!(!a.needs_fallback(0.9), "silence is accepted as it is");
        a.avg_logprob = -0.2;
        a.compression_ratio = 3.0;
        assert!(
            a.needs_fallback(0.9),
            "a loop is retried even if it looks silent"
        );
    }

    #[test]
    fn the_same_seed_samples_the_same_tokens() {
        let logits: Vec<f32> = (0..50).map(|i| (i % 7) as f32).collect();
        let draw = |seed| {
            let mut rng = Rng(seed);
            (0..20)
                .map(|_| sample(&logits, 1.0, &mut rng))
                .collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
    }
}
