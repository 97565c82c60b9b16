//! Whisper's vocabulary: the byte-level BPE of `tokenizer.json` for text, the special
//! tokens that steer decoding, and the suppression lists of `config.json`.
//!
//! The special tokens sit right after the text tokens, in an order that differs by one
//! between English-only and multilingual models (the latter have language tokens), so they
//! are looked up by spelling; timestamp tokens follow `<|notimestamps|>` and are not in
//! `tokenizer.json` at all: token `timestamp_begin + i` means `i * 0.02` seconds.

use std::path::Path;

use serde::Deserialize;
use tokenizers::Tokenizer;

/// Seconds per timestamp step.
pub(crate) const TIME_STEP: f64 = 0.02;

/// What `config.json` beside the model says.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ModelConfig {
    /// Pairs of (decoder layer, head) whose cross-attention follows the audio in time.
    #[serde(default)]
    pub alignment_heads: Vec<[usize; 2]>,
    /// The language tokens, in the order the model was trained with.
    #[serde(default)]
    pub lang_ids: Vec<u32>,
    /// Tokens never to emit: mostly punctuation and symbols that are not speech.
    #[serde(default)]
    pub suppress_ids: Vec<u32>,
    /// Tokens never to emit first: a blank and end of text.
    #[serde(default)]
    pub suppress_ids_begin: Vec<u32>,
}

/// The tokens and rules one model decodes with.
pub(crate) struct Vocabulary {
    tokenizer: Tokenizer,
    pub eot: u32,
    pub sot: u32,
    pub sot_prev: u32,
    pub no_speech: u32,
    /// Present in multilingual models only.
    pub transcribe: Option<u32>,
    pub no_timestamps: u32,
    pub timestamp_begin: u32,
    /// Language codes (`en`, `zh`, ...) with their tokens; empty for English-only models.
    pub languages: Vec<(String, u32)>,
    /// Everything [`ModelConfig::suppress_ids`] lists plus every special token but `eot`.
    pub suppress: Vec<u32>,
    pub suppress_at_start: Vec<u32>,
}

impl std::fmt::Debug for Vocabulary {
    /// The special tokens only: the tokenizer's own `Debug` prints all 50,000 tokens.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vocabulary")
            .field("eot", &self.eot)
            .field("sot", &self.sot)
            .field("timestamp_begin", &self.timestamp_begin)
            .field("languages", &self.languages.len())
            .finish_non_exhaustive()
    }
}

impl Vocabulary {
    /// Builds the vocabulary of a model with `vocab` output tokens.
    pub(crate) fn new(
        tokenizer: Tokenizer,
        config: &ModelConfig,
        multilingual: bool,
        vocab: usize,
    ) -> Result<Self, String> {
        let id = |spelling: &str| {
            tokenizer
                .token_to_id(spelling)
                .ok_or_else(|| format!("the tokenizer has no {spelling} token"))
        };
        let eot = id("<|endoftext|>")?;
        let sot = id("<|startoftranscript|>")?;
        let sot_prev = id("<|startofprev|>")?;
        let no_timestamps = id("<|notimestamps|>")?;
        // Older exports spell "no speech" as "no captions".
        let no_speech = id("<|nospeech|>").or_else(|_| id("<|nocaptions|>"))?;
        let timestamp_begin = no_timestamps + 1;
        if timestamp_begin as usize >= vocab {
            return Err(format!(
                "{vocab} output tokens leave no room for timestamps"
            ));
        }
        let languages = if multilingual {
            let ids = if config.lang_ids.is_empty() {
                (sot + 1..)
                    .take_while(|&i| is_language(&tokenizer, i))
                    .collect()
            } else {
                config.lang_ids.clone()
            };
            ids.into_iter()
                .map(|i| {
                    let spelling = tokenizer.id_to_token(i).unwrap_or_default();
                    let code = spelling.trim_start_matches("<|").trim_end_matches("|>");
                    (code.to_owned(), i)
                })
                .collect()
        } else {
            Vec::new()
        };
        let transcribe = if multilingual {
            Some(id("<|transcribe|>")?)
        } else {
            None
        };
        let mut suppress = config.suppress_ids.clone();
        suppress.extend(eot + 1..timestamp_begin);
        suppress.retain(|&t| t != eot && (t as usize) < vocab);
        suppress.sort_unstable();
        suppress.dedup();
        let suppress_at_start = if config.suppress_ids_begin.is_empty() {
            let blank = tokenizer.token_to_id("Ġ").into_iter();
            blank.chain([eot]).collect()
        } else {
            config.suppress_ids_begin.clone()
        };
        Ok(Self {
            tokenizer,
            eot,
            sot,
            sot_prev,
            no_speech,
            transcribe,
            no_timestamps,
            timestamp_begin,
            languages,
            suppress,
            suppress_at_start,
        })
    }

    /// The token of a language code, if the model knows it.
    pub(crate) fn language(&self, code: &str) -> Option<u32> {
        self.languages
            .iter()
            .find(|(c, _)| c.eq_ignore_ascii_case(code))
            .map(|&(_, id)| id)
    }

    /// Text tokens of `text`, without any special token.
    pub(crate) fn encode(&self, text: &str) -> Result<Vec<u32>, String> {
        self.tokenizer
            .encode(text, false)
            .map(|e| e.get_ids().to_vec())
            .map_err(|e| format!("cannot tokenize the prompt: {e}"))
    }

    /// The text of `tokens`, skipping anything that is not a text token.
    pub(crate) fn decode(&self, tokens: &[u32]) -> String {
        let text: Vec<u32> = tokens.iter().copied().filter(|&t| t < self.eot).collect();
        self.tokenizer.decode(&text, false).unwrap_or_default()
    }
}

fn is_language(tokenizer: &Tokenizer, id: u32) -> bool {
    tokenizer.id_to_token(id).is_some_and(|t| {
        let code = t.trim_start_matches("<|").trim_end_matches("|>");
        t.starts_with("<|") && (2..=3).contains(&code.len()) && code != "sot"
    })
}

/// Reads `config.json`; a model directory without one decodes with built-in defaults.
pub(crate) fn read_config(path: &Path) -> Result<ModelConfig, String> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| format!("not valid JSON: {e}")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(ModelConfig::default()),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
pub(crate) mod tests_support {
    use super::*;

    /// A multilingual-shaped vocabulary over an empty tokenizer: 1000 text tokens, then
    /// eot, sot, two languages, transcribe, startofprev, nospeech, notimestamps, times.
    pub(crate) fn vocabulary() -> Vocabulary {
        let tokenizer = Tokenizer::new(tokenizers::models::bpe::BPE::default());
        Vocabulary {
            tokenizer,
            eot: 1000,
            sot: 1001,
            languages: vec![("en".to_owned(), 1002), ("zh".to_owned(), 1003)],
            transcribe: Some(1004),
            sot_prev: 1005,
            no_timestamps: 1007,
            no_speech: 1006,
            timestamp_begin: 1008,
            suppress: (1001..1008).collect(),
            suppress_at_start: vec![220, 1000],
        }
    }
}
