//! Integration tests of the LLM service: the local models on real weights, the remote
//! backends against an OpenAI-compatible server on loopback, and the gRPC surface.

mod local_chat;
mod models;
