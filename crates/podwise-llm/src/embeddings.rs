//! Text embeddings computed in-process on the CPU: the [`Embedder`] trait and the models
//! that implement it.
//!
//! Every vector an embedder returns has unit length, so a dot product is the cosine.

use std::fmt;

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
