//! Every integration test of the stt service, in one binary.

#[cfg(feature = "whisper-cpp-reference")]
mod ggml_export;
mod service;
mod speech;
mod whisper;
