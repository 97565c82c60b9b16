//! FLAC encoding with `flacenc`, the pure-Rust encoder: mono, 16 bits, the encoder's
//! default block size and search settings (a few milliseconds per second of speech).

use flacenc::component::BitRepr as _;
use flacenc::error::Verify as _;

use super::format::EncodeError;
use super::{Pcm, to_i16};

/// `pcm` as a complete FLAC stream.
///
/// # Errors
/// [`EncodeError::Flac`] with the encoder's reason.
pub(super) fn encode(pcm: &Pcm) -> Result<Vec<u8>, EncodeError> {
    let config = flacenc::config::Encoder::default()
        .into_verified()
        .map_err(|(_, e)| EncodeError::Flac(e.to_string()))?;
    let samples: Vec<i32> = pcm.samples.iter().map(|&s| i32::from(to_i16(s))).collect();
    let source = flacenc::source::MemSource::from_samples(&samples, 1, 16, pcm.rate as usize);
    let stream = flacenc::encode_with_fixed_block_size(&config, source, config.block_size)
        .map_err(|e| EncodeError::Flac(e.to_string()))?;
    let mut sink = flacenc::bitsink::ByteSink::new();
    stream
        .write(&mut sink)
        .map_err(|e| EncodeError::Flac(e.to_string()))?;
    Ok(sink.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tone_encodes_to_a_flac_stream_smaller_than_its_wav() {
        let samples = (0..22_050).map(|n| 0.3 * (n as f32 * 0.05).sin()).collect();
        let pcm = Pcm {
            samples,
            rate: 22_050,
        };

        let flac = encode(&pcm).expect("encodes");

        assert_eq!(&flac[..4], b"fLaC");
        assert!(
            flac.len() < pcm.to_pcm16().len() / 2,
            "{} bytes",
            flac.len()
        );
    }
}
