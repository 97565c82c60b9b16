//! Whisper speech recognition in-process on the CPU: one 30 s window of 16 kHz mono audio
//! in, the spoken language and timed segments of text out.
//!
//! [`Whisper::load`] reads a CTranslate2 export (`model.bin`, `tokenizer.json`,
//! `config.json`, as `scripts/fetch-models.sh` places them under `models/stt/`) and builds
//! the network with candle: the encoder in f32, the decoder's matrices requantized to Q8_0
//! since it reads them once per token (or kept in f32: [`ComputeType`]). Splitting long
//! audio into windows, and carrying one window's text into the next as its prompt, is the
//! caller's business.
//!
//! Word-level timestamps, when asked for, come from the cross-attention of the model's
//! alignment heads (see `alignment`), as Whisper's own `word_timestamps` does.

mod alignment;
mod attention;
mod ct2;
mod decode;
mod decoder;
mod dims;
mod encoder;
#[cfg(feature = "whisper-cpp-reference")]
pub mod ggml_export;
mod kernels;
mod layers;
mod mel;
mod q8;
mod rules;
mod segments;
mod tokens;

use std::path::{Path, PathBuf};

use self::ct2::Ct2Model;
use self::decoder::Decoder;
use self::dims::Dims;
use self::encoder::Encoder;
use self::layers::{Precision, Weights};
use self::mel::MelSpectrogram;
use self::tokens::Vocabulary;

/// Samples per second the input must have.
pub const SAMPLE_RATE: usize = mel::SAMPLE_RATE;

/// The most samples one window may have: 30 s.
pub const MAX_WINDOW_SAMPLES: usize = mel::WINDOW_SAMPLES;

/// Why a model could not be loaded. Each variant names the file concerned.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A file the model needs is not there.
    #[error(
        "Whisper model file {} is missing; run scripts/fetch-models.sh to fetch the models",
        .path.display()
    )]
    MissingFile {
        /// The full path of the missing file.
        path: PathBuf,
    },
    /// A model file exists but could not be read.
    #[error("cannot read Whisper model file {}: {source}", .path.display())]
    Io {
        /// The file that could not be read.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// A model file was read but is not what a Whisper model needs. A truncated
    /// `model.bin` lands here, with a hint to fetch it again.
    #[error("Whisper model file {} is invalid: {reason}", .path.display())]
    Invalid {
        /// The offending file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The compute threads could not be started.
    #[error("cannot start {threads} Whisper compute threads: {reason}")]
    Threads {
        /// How many were asked for.
        threads: usize,
        /// What rayon said.
        reason: String,
    },
}

/// Why a window could not be transcribed.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The window is longer than 30 s; the caller splits audio into windows first.
    #[error("the window has {samples} samples; at most {MAX_WINDOW_SAMPLES} (30 s) fit")]
    TooLong {
        /// Samples given.
        samples: usize,
    },
    /// A sample is NaN or infinite.
    #[error("sample {index} is not a finite number")]
    NotFinite {
        /// Where the first bad sample is.
        index: usize,
    },
    /// The requested language is not one the model knows.
    #[error("the model does not know language {0:?}")]
    UnknownLanguage(String),
    /// The prompt could not be tokenized.
    #[error("{0}")]
    Prompt(String),
    /// Word-level timestamps were requested from a model whose `config.json` names no
    /// alignment heads.
    #[error("the model's config.json names no alignment heads, so words cannot be timed")]
    NoAlignmentHeads,
    /// The computation itself failed (a bug or an exhausted resource, not bad input).
    #[error("the Whisper model failed: {0}")]
    Model(String),
}

impl From<candle_core::Error> for DecodeError {
    fn from(e: candle_core::Error) -> Self {
        Self::Model(e.to_string())
    }
}

/// How to decode a window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DecodeOptions {
    /// A language code (`en`, `zh`, ...) to transcribe in, or `None` to detect it.
    pub language: Option<String>,
    /// Text that came before this window (usually the previous window's), which steers
    /// spelling and style; only its last 223 tokens are used.
    pub prompt: Option<String>,
    /// Whether to time each word too (one more decoder pass over the window's text).
    pub word_timestamps: bool,
    /// The temperature to decode at first: 0 is greedy; the fallback to higher ones
    /// starts from here.
    pub temperature: f32,
    /// Seed of the sampler used when greedy decoding falls back to sampling.
    pub seed: u64,
}

/// What was said in one window.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowTranscript {
    /// The language code transcribed in (`en` for English-only models).
    pub language: String,
    /// The detector's probability for that language; 1 when it was given or the model
    /// is English-only.
    pub language_probability: f32,
    /// The probability that the window holds no speech at all. When it is high and the
    /// text unlikely, the window counts as silence and has no segments.
    pub no_speech_prob: f32,
    /// The sampling temperature of the decode kept: 0 unless greedy decoding looped or was
    /// unlikely. Whisper does not prompt the next window with text sampled above 0.5.
    pub temperature: f32,
    /// The kept text's bytes over their gzip-compressed bytes: high means repetitive.
    pub compression_ratio: f32,
    /// The text, in order.
    pub segments: Vec<Segment>,
}

/// One stretch of speech between two timestamps.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    /// Seconds from the start of the window.
    pub start: f64,
    /// Seconds from the start of the window; never before `start` nor past the audio.
    pub end: f64,
    /// The text, without leading or trailing spaces.
    pub text: String,
    /// Mean log-probability of this segment's tokens.
    pub avg_logprob: f32,
    /// The window's no-speech probability.
    pub no_speech_prob: f32,
    /// The token ids, timestamp tokens included.
    pub tokens: Vec<u32>,
    /// The words with their times, when [`DecodeOptions::word_timestamps`] asked for them.
    pub words: Vec<Word>,
}

/// One word of a segment, timed from the decoder's cross-attention.
#[derive(Debug, Clone, PartialEq)]
pub struct Word {
    /// Seconds from the start of the window, within the segment's times.
    pub start: f64,
    /// Seconds from the start of the window; never before `start`.
    pub end: f64,
    /// The word with its leading space and attached punctuation, as decoded.
    pub text: String,
    /// Mean probability of the word's tokens when they were decoded.
    pub probability: f32,
}

/// The pieces of a loaded model, shared by the decoding steps.
#[derive(Debug)]
struct Model {
    mel: MelSpectrogram,
    encoder: Encoder,
    decoder: Decoder,
    vocab: Vocabulary,
    /// (decoder layer, head) pairs whose cross-attention tracks time.
    alignment_heads: Vec<[usize; 2]>,
}

/// How the decoder keeps its weight matrices (`WHISPER_COMPUTE_TYPE`). The encoder is f32
/// either way: it multiplies 1500 rows at a time, where f32 gemm is fastest.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ComputeType {
    /// The decoder's matrices requantized to Q8_0 (`int8_float32`, the default): a quarter
    /// of f32's bytes to read per token, so decoding is about twice as fast; on rare
    /// borderline tokens it picks a different word than f32 would.
    #[default]
    Int8Float32,
    /// The decoder's matrices in f32 (`float32`), as the model was trained: slower, and
    /// the reference the quantized decoder is judged against.
    Float32,
}

impl ComputeType {
    /// The values `WHISPER_COMPUTE_TYPE` may take with this engine; `default` and `auto`
    /// mean `int8_float32`.
    pub const ACCEPTED: [&str; 4] = ["default", "auto", "int8_float32", "float32"];

    /// The compute type a `WHISPER_COMPUTE_TYPE` value names.
    ///
    /// # Errors
    /// When this engine cannot honour the value (CTranslate2's `int8`, `float16`, ...): the
    /// message names it and the values that work.
    pub fn from_setting(value: &str) -> Result<Self, String> {
        match value.trim().to_ascii_lowercase().as_str() {
            "default" | "auto" | "int8_float32" => Ok(Self::Int8Float32),
            "float32" => Ok(Self::Float32),
            other => Err(format!(
                "WHISPER_COMPUTE_TYPE={other} is not available in this engine, which \
                 computes the encoder in float32 and the decoder in int8 or float32 (use {})",
                Self::ACCEPTED.join(", ")
            )),
        }
    }

    /// The setting's name for this compute type.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Int8Float32 => "int8_float32",
            Self::Float32 => "float32",
        }
    }

    fn decoder_precision(self) -> Precision {
        match self {
            Self::Int8Float32 => Precision::Q8,
            Self::Float32 => Precision::F32,
        }
    }
}

/// A loaded Whisper model with its own compute threads; one per worker.
#[derive(Debug)]
pub struct Whisper {
    name: String,
    multilingual: bool,
    compute_type: ComputeType,
    model: Model,
    pool: rayon::ThreadPool,
}

impl Whisper {
    /// Loads the model in `model_dir` (for example `models/stt/whisper-base`), computing
    /// on `threads` threads (at least one), its decoder's matrices as `compute_type` says.
    ///
    /// The heavy kernels (gemm, attention, Q8_0 products, GELU, softmax) run on those
    /// threads. Three element-wise additions per window still go through candle's own
    /// pool, which it sizes once per process from `CANDLE_NUM_THREADS` (else one thread
    /// per core): too little work to matter, but set it to match for a strict bound.
    ///
    /// # Errors
    /// [`LoadError::MissingFile`] naming the path when the model has not been fetched;
    /// otherwise a read or format error naming the file.
    pub fn load(
        model_dir: &Path,
        threads: usize,
        compute_type: ComputeType,
    ) -> Result<Self, LoadError> {
        let threads = threads.max(1);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("stt-whisper-{i}"))
            .build()
            .map_err(|e| LoadError::Threads {
                threads,
                reason: e.to_string(),
            })?;
        let model_path = model_dir.join("model.bin");
        let tokenizer_path = model_dir.join("tokenizer.json");
        let config_path = model_dir.join("config.json");
        let bytes = read(&model_path)?;
        if !tokenizer_path.exists() {
            return Err(LoadError::MissingFile {
                path: tokenizer_path,
            });
        }
        let invalid = |path: &Path, reason: String| LoadError::Invalid {
            path: path.to_owned(),
            reason,
        };
        let (dims, mel, encoder, decoder) = pool.install(|| {
            let bad_model = |e: ct2::Ct2Error| {
                invalid(
                    &model_path,
                    format!("{e} (run scripts/fetch-models.sh to fetch it again)"),
                )
            };
            let file = Ct2Model::parse(&bytes).map_err(bad_model)?;
            let dims = Dims::of(&file).map_err(bad_model)?;
            let weights = Weights { file: &file };
            let encoder = Encoder::load(&weights, &dims).map_err(bad_model)?;
            let decoder = Decoder::load(&weights, &dims, compute_type.decoder_precision())
                .map_err(bad_model)?;
            Ok::<_, LoadError>((
                dims.clone(),
                MelSpectrogram::new(dims.mels),
                encoder,
                decoder,
            ))
        })?;
        drop(bytes);

        let config = tokens::read_config(&config_path).map_err(|e| invalid(&config_path, e))?;
        if let Some([layer, head]) = config
            .alignment_heads
            .iter()
            .find(|&&[l, h]| l >= dims.decoder_layers || h >= dims.heads)
        {
            let reason = format!("alignment head {head} of layer {layer} is not in the model");
            return Err(invalid(&config_path, reason));
        }
        let tokenizer = tokenizers::Tokenizer::from_file(&tokenizer_path)
            .map_err(|e| invalid(&tokenizer_path, e.to_string()))?;
        // Whisper's own rule: the multilingual vocabulary is the larger one.
        let multilingual = dims.vocab >= 51_865;
        let vocab = Vocabulary::new(tokenizer, &config, multilingual, dims.vocab)
            .map_err(|e| invalid(&tokenizer_path, e))?;

        let name = model_dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("whisper")
            .to_owned();
        tracing::debug!(
            model = %name,
            ?dims,
            threads,
            compute_type = compute_type.as_str(),
            "Whisper model loaded"
        );
        Ok(Self {
            name,
            multilingual,
            compute_type,
            model: Model {
                mel,
                encoder,
                decoder,
                vocab,
                alignment_heads: config.alignment_heads,
            },
            pool,
        })
    }

    /// The model's name: its directory's, e.g. `whisper-base`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How the decoder keeps its matrices, as loaded.
    pub fn compute_type(&self) -> ComputeType {
        self.compute_type
    }

    /// Whether the model detects and transcribes languages other than English.
    pub fn is_multilingual(&self) -> bool {
        self.multilingual
    }

    /// Transcribes one window of at most 30 s of 16 kHz mono samples in -1..1 (shorter
    /// windows are padded with silence). Runs on this model's threads and blocks until
    /// done: callers on an async runtime move it to a blocking thread.
    ///
    /// # Errors
    /// [`DecodeError::TooLong`] past 30 s, [`DecodeError::NotFinite`] for a NaN sample,
    /// [`DecodeError::UnknownLanguage`] for a language the model lacks,
    /// [`DecodeError::NoAlignmentHeads`] for word timestamps from a model without them.
    pub fn transcribe_window(
        &mut self,
        samples: &[f32],
        options: &DecodeOptions,
    ) -> Result<WindowTranscript, DecodeError> {
        if samples.len() > MAX_WINDOW_SAMPLES {
            return Err(DecodeError::TooLong {
                samples: samples.len(),
            });
        }
        if let Some(index) = samples.iter().position(|s| !s.is_finite()) {
            return Err(DecodeError::NotFinite { index });
        }
        if options.word_timestamps && self.model.alignment_heads.is_empty() {
            return Err(DecodeError::NoAlignmentHeads);
        }
        if let Some(code) = &options.language
            && !self.multilingual
            && !code.eq_ignore_ascii_case("en")
        {
            return Err(DecodeError::UnknownLanguage(code.clone()));
        }
        let model = &self.model;
        self.pool
            .install(|| decode::transcribe(model, samples, options))
    }
}

/// Reads a whole model file, telling a missing file apart from an unreadable one.
fn read(path: &Path) -> Result<Vec<u8>, LoadError> {
    std::fs::read(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => LoadError::MissingFile {
            path: path.to_owned(),
        },
        _ => LoadError::Io {
            path: path.to_owned(),
            source,
        },
    })
}
