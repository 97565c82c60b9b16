//! The rag service's integration tests: the service in-process on a free port, with the
//! real LLM service (its built binary, for real embeddings) beside it.

mod harness;
mod health;
mod ingestion;
mod retrieval;
