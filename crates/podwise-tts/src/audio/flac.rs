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
    let mut bytes = sink.into_inner();
    let block_size = u16::try_from(config.block_size)
        .map_err(|_| EncodeError::Flac(format!("block size {}", config.block_size)))?;
    record_fixed_block_size(&mut bytes, block_size)?;
    Ok(bytes)
}

/// Where STREAMINFO's minimum and maximum block sizes sit: after `fLaC` and the metadata
/// block's four-byte header (STREAMINFO always comes first).
const BLOCK_SIZES: std::ops::Range<usize> = 8..12;

/// Records `block_size` as the stream's minimum and maximum block size. flacenc records
/// the last, shorter block as the minimum, which the format leaves out of it: a reader
/// that trusts the field (symphonia, which the STT service decodes uploads with) then
/// takes the stream for one of variable block size and refuses it as cut short. Every
/// block but the last has `block_size` samples, as libFLAC records it.
fn record_fixed_block_size(bytes: &mut [u8], block_size: u16) -> Result<(), EncodeError> {
    let is_stream_info =
        bytes.len() > BLOCK_SIZES.end && &bytes[..4] == b"fLaC" && bytes[4] & 0x7f == 0;
    if !is_stream_info {
        return Err(EncodeError::Flac(
            "the stream does not start with STREAMINFO".to_owned(),
        ));
    }
    let size = block_size.to_be_bytes();
    bytes[BLOCK_SIZES].copy_from_slice(&[size[0], size[1], size[0], size[1]]);
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use symphonia::core::codecs::audio::AudioDecoderOptions;
    use symphonia::core::formats::probe::Hint;
    use symphonia::core::formats::{FormatOptions, TrackType};
    use symphonia::core::io::MediaSourceStream;
    use symphonia::core::meta::MetadataOptions;

    use super::*;

    /// The samples symphonia reads back from `flac`, in -1..1.
    fn decoded(flac: Vec<u8>) -> Vec<f32> {
        let source = MediaSourceStream::new(Box::new(Cursor::new(flac)), Default::default());
        let mut format = symphonia::default::get_probe()
            .probe(
                &Hint::new(),
                source,
                FormatOptions::default(),
                MetadataOptions::default(),
            )
            .expect("symphonia opens the stream");
        let track = format
            .default_track(TrackType::Audio)
            .cloned()
            .expect("an audio track");
        let parameters = track
            .codec_params
            .as_ref()
            .and_then(|p| p.audio())
            .expect("audio parameters")
            .clone();
        let registered = symphonia::default::get_codecs()
            .get_audio_decoder(parameters.codec)
            .expect("a FLAC decoder");
        let mut decoder = (registered.factory)(&parameters, &AudioDecoderOptions::default())
            .expect("the decoder takes the stream");
        let mut samples = Vec::new();
        while let Some(packet) = format.next_packet().expect("a packet or the end") {
            if packet.track_id != track.id {
                continue;
            }
            let audio = decoder.decode(&packet).expect("the packet decodes");
            let mut planes: Vec<Vec<f32>> = Vec::new();
            audio.copy_to_vecs_planar::<f32>(&mut planes);
            samples.extend_from_slice(&planes[0]);
        }
        samples
    }

    #[test]
    fn symphonia_reads_back_every_sample_of_a_long_and_a_short_stream() {
        // Two and a half blocks of 4096, and less than one block.
        for length in [10_240, 1_000] {
            let samples: Vec<f32> = (0..length).map(|n| 0.3 * (n as f32 * 0.05).sin()).collect();
            let pcm = Pcm {
                samples,
                rate: 22_050,
            };
            let expected: Vec<i16> = pcm.samples.iter().map(|&s| to_i16(s)).collect();

            let flac = encode(&pcm).expect("encodes");

            assert_eq!(
                &flac[8..12],
                &[0x10, 0x00, 0x10, 0x00],
                "min and max block 4096"
            );
            let back: Vec<i16> = decoded(flac)
                .iter()
                .map(|&s| (s * 32_768.0).round() as i16)
                .collect();
            assert_eq!(back, expected, "{length} samples");
        }
    }

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
