//! Integration tests of the speech-to-text service, in one binary: the audio front-end on
//! real speech in every accepted format, on broken uploads and split into windows; the
//! Whisper engine on real speech (and, with the reference feature, its ggml export); and
//! the service itself.

mod audio_errors;
mod audio_formats;
mod audio_robustness;
mod audio_windows;
mod fixtures;
#[cfg(feature = "whisper-cpp-reference")]
mod ggml_export;
mod service;
mod speech;
mod whisper;
