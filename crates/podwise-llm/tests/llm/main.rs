//! The llm service's integration tests, in one binary.

mod openai_server;
mod remote;
mod service;
