//! Every integration test of the stt service, in one binary.

mod service;
mod speech;
mod whisper;
