//! Text processing for indexing: what turns a transcript or a show's description into
//! clean text, timed chunks, topic tags and search tokens.
//!
//! Everything here is pure (no I/O, no clocks) and deterministic, so ingestion can be
//! repeated and give the same chunks and tokens. The Chinese word segmenter and the
//! Simplified/Traditional dictionaries are loaded once per process, on first use.

pub mod chunk;
pub mod clean;
pub mod language;
pub mod tags;
pub mod tokens;

mod convert;
mod script;
mod segmenter;

/// A piece of transcript with its time in seconds (what STT and SRT/VTT give).
#[derive(Debug, Clone, PartialEq)]
pub struct TimedText {
    pub start: f64,
    pub end: f64,
    pub text: String,
}
