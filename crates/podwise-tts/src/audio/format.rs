//! The formats the service answers in, their content types, and the encoder of each.
//!
//! WAV (16-bit PCM) always works; raw PCM is the same samples without the header, for
//! players that are told the rate some other way; FLAC is lossless and about half the
//! size, from a pure-Rust encoder. MP3 and Ogg Opus have no encoder in pure Rust that is
//! light enough to carry, so they are refused by name rather than answered in another
//! format (see `grpc::validate`).

use super::{Pcm, flac, wav};

/// An audio format the service can write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutputFormat {
    /// RIFF WAV, mono, 16-bit PCM.
    Wav,
    /// Headerless little-endian 16-bit PCM, mono.
    Pcm,
    /// FLAC, mono, 16 bits.
    Flac,
}

impl OutputFormat {
    /// The names requests use, in the order error messages list them.
    pub const NAMES: &'static str = "wav, pcm, flac";

    /// The lower-case name, as the gateway's `response_format` spells it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Wav => "wav",
            Self::Pcm => "pcm",
            Self::Flac => "flac",
        }
    }

    /// The `Content-Type` of audio in this format at `rate` hertz.
    pub fn content_type(self, rate: u32) -> String {
        match self {
            Self::Wav => "audio/wav".to_owned(),
            // Raw samples say nothing about themselves, so the type carries the rate.
            Self::Pcm => format!("audio/pcm;rate={rate};channels=1;bits=16;endian=little"),
            Self::Flac => "audio/flac".to_owned(),
        }
    }
}

/// Why audio could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("the FLAC encoder failed: {0}")]
    Flac(String),
}

/// `pcm` written in `format`.
///
/// # Errors
/// [`EncodeError::Flac`] when the FLAC encoder refuses the audio (it should not for mono
/// 16-bit audio at the rates the service allows).
pub fn encode(pcm: &Pcm, format: OutputFormat) -> Result<Vec<u8>, EncodeError> {
    match format {
        OutputFormat::Wav => Ok(wav::write(pcm)),
        OutputFormat::Pcm => Ok(pcm.to_pcm16()),
        OutputFormat::Flac => flac::encode(pcm),
    }
}
