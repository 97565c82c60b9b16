//! Remote OpenAI-compatible chat backends (Ollama, vLLM, llama.cpp's server, OpenAI):
//! their settings and the client that streams replies from them.
//!
//! The syntax of `PODWISE_LLM_BACKENDS` is documented in [`settings`]; each backend it
//! names becomes one [`OpenAiBackend`], which the router (`crate::router`) tries in
//! order.

mod client;
pub mod settings;
mod sse;
mod wire;

pub use client::OpenAiBackend;
pub use settings::BackendSettings;
