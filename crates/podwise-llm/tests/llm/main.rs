//! The llm crate's integration tests, one binary with a module per surface.

mod embeddings;
mod reference;
mod service;
