//! The llm service's integration tests, in one binary.

mod service;
