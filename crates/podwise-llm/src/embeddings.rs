//! Text embeddings computed in-process on the CPU: the [`Embedder`] trait and the models
//! that implement it.
//!
//! Every vector an embedder returns has unit length, so a dot product is the cosine.
//! [`load`] opens a model by id from the directory `scripts/fetch-models.sh` fills.

mod bert_unicode;
mod dense;
mod e5;
mod e5_format;
mod encoder;
mod math;
mod minilm;
mod parallel;
mod q4;
mod safetensors;
mod unigram;
mod wordpiece;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use e5::E5Small;
pub use minilm::MiniLm;

/// The ids [`load`] knows, each with its directory under the model directory.
pub const KNOWN_MODELS: &[&str] = &[e5::ID, minilm::ID];

/// Why a model could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// No model has this id.
    #[error("unknown embedding model {id:?}; known models: {}", KNOWN_MODELS.join(", "))]
    UnknownModel {
        /// The id asked for.
        id: String,
    },
    /// A file the model needs is not there.
    #[error(
        "model file {} is missing; run scripts/fetch-models.sh to fetch the models",
        .path.display()
    )]
    MissingFile {
        /// The full path of the missing file.
        path: PathBuf,
    },
    /// A model file exists but could not be read.
    #[error("cannot read model file {}: {source}", .path.display())]
    Io {
        /// The file that could not be read.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// A model file was read but is not what the model expects.
    #[error("model file {} is invalid: {reason}", .path.display())]
    Invalid {
        /// The offending file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

/// Loads the embedding model `id` from `model_dir` (the directory holding `embeddings/`),
/// computing on up to `threads` threads per batch (1 runs on the calling thread).
///
/// # Errors
/// [`LoadError::UnknownModel`] for an id not in [`KNOWN_MODELS`]; [`LoadError::MissingFile`]
/// naming the full path when the model has not been fetched; otherwise a read or format
/// error naming the file.
pub fn load(model_dir: &Path, id: &str, threads: usize) -> Result<Arc<dyn Embedder>, LoadError> {
    match id {
        e5::ID => Ok(Arc::new(E5Small::load(model_dir, threads)?)),
        minilm::ID => Ok(Arc::new(MiniLm::load(model_dir, threads)?)),
        _ => Err(LoadError::UnknownModel { id: id.to_owned() }),
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

fn invalid(path: &Path, reason: impl fmt::Display) -> LoadError {
    LoadError::Invalid {
        path: path.to_owned(),
        reason: reason.to_string(),
    }
}

/// Refuses the batch if any sequence is longer than the model reads: cutting it would
/// silently embed only part of the text.
fn check_lengths(sequences: &[Vec<u32>], limit: usize, model: &str) -> Result<(), EmbedError> {
    match sequences.iter().position(|s| s.len() > limit) {
        Some(index) => Err(EmbedError::TooLong {
            index,
            tokens: sequences[index].len(),
            limit,
            model: model.to_owned(),
        }),
        None => Ok(()),
    }
}

/// What the text being embedded is. e5-family models were trained with a different
/// prefix for each; other models ignore it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A search query ("query: ").
    Query,
    /// A document passage that queries are matched against ("passage: ").
    Passage,
}

/// The vectors for a batch of texts.
#[derive(Debug, Clone, PartialEq)]
pub struct Embedded {
    /// One per input text, in input order, each of unit length.
    pub vectors: Vec<Vec<f32>>,
    /// Tokens read, special tokens and prefixes included, for usage reporting.
    pub tokens: u32,
}

/// Why a batch could not be embedded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmbedError {
    /// The input at `index` has more tokens than the model reads.
    #[error("input {index} has {tokens} tokens; {model} reads at most {limit}")]
    TooLong {
        index: usize,
        tokens: usize,
        limit: usize,
        model: String,
    },
}

/// A model that turns text into vectors.
pub trait Embedder: Send + Sync + fmt::Debug {
    /// The id a request uses to select this model, e.g. `multilingual-e5-small`.
    fn id(&self) -> &str;

    /// The length of every vector.
    fn dimensions(&self) -> usize;

    /// The most tokens one input may have, special tokens and prefix included.
    fn max_input_tokens(&self) -> usize;

    /// Embeds every text of the batch. Runs on the calling thread: callers on an async
    /// runtime move it to a blocking thread.
    ///
    /// # Errors
    /// [`EmbedError::TooLong`] for the first input over [`Embedder::max_input_tokens`];
    /// nothing is embedded then.
    fn embed(&self, texts: &[&str], purpose: Purpose) -> Result<Embedded, EmbedError>;
}
