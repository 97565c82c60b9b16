//! The rag service's integration tests: the text pipeline on realistic transcripts, the
//! shape of the retrieval fixture, and the service in-process on a free port with the
//! real LLM service (its built binary, for real embeddings) beside it.

mod answers;
mod audio;
mod feed;
mod fixture_shape;
mod harness;
mod health;
mod index_sync;
mod ingestion;
mod retrieval;
mod text_pipeline;
