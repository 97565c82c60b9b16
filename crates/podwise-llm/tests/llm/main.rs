//! Integration tests of the LLM service, in one binary: the local models on real weights,
//! the remote backends against an OpenAI-compatible server on loopback, and the service.

mod embeddings;
mod local_chat;
mod models;
mod openai_server;
mod reference;
mod remote;
mod service;
