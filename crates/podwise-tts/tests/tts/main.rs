//! Integration tests of the TTS service, in one binary: the service with its real engines
//! through gRPC, the cache with a counting stand-in engine, and the text chunker over
//! generated strings.

mod cache;
mod chunking;
mod helpers;
mod refusals;
mod service;
mod speech;
mod streaming;
