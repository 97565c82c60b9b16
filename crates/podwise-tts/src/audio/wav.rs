//! RIFF WAV with 16-bit PCM: the header the service writes, and the reader for the files
//! espeak-ng writes to its standard output and the cache gives back.
//!
//! A program writing WAV to a pipe cannot go back to fill in the sizes, so espeak-ng puts
//! a near-maximal number there, and so does a streamed answer of this service: the reader
//! takes a data size that runs past the end of the bytes to mean "to the end".

use super::Pcm;

/// The size of the canonical header [`header`] writes.
pub const HEADER_BYTES: usize = 44;

/// What the size fields hold when the length is not known yet, as streaming WAV writers
/// do: the largest even size that leaves room for the header in a 32-bit RIFF size.
const UNKNOWN_DATA_BYTES: u32 = u32::MAX - 1 - (HEADER_BYTES as u32 - 8);

/// Why bytes could not be read as WAV.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WavError {
    #[error("not a RIFF WAVE file")]
    NotWav,
    #[error("the WAV file has no {0} chunk")]
    MissingChunk(&'static str),
    #[error("the WAV file holds {0}, not 16-bit PCM")]
    Unsupported(String),
}

/// The 44-byte header of a mono 16-bit file at `rate` whose sample data is `data_bytes`
/// long, or of unknown length (`None`, for a stream).
pub fn header(rate: u32, data_bytes: Option<usize>) -> [u8; HEADER_BYTES] {
    let data = data_bytes.map_or(UNKNOWN_DATA_BYTES, |n| {
        u32::try_from(n).unwrap_or(UNKNOWN_DATA_BYTES)
    });
    let riff = data.saturating_add(HEADER_BYTES as u32 - 8);
    let mut out = [0u8; HEADER_BYTES];
    let fields: [(usize, &[u8]); 13] = [
        (0, b"RIFF"),
        (4, &riff.to_le_bytes()),
        (8, b"WAVE"),
        (12, b"fmt "),
        (16, &16u32.to_le_bytes()),
        // PCM, one channel.
        (20, &1u16.to_le_bytes()),
        (22, &1u16.to_le_bytes()),
        (24, &rate.to_le_bytes()),
        (28, &(rate * 2).to_le_bytes()),
        // Two bytes a frame, sixteen bits a sample.
        (32, &2u16.to_le_bytes()),
        (34, &16u16.to_le_bytes()),
        (36, b"data"),
        (40, &data.to_le_bytes()),
    ];
    for (at, bytes) in fields {
        out[at..at + bytes.len()].copy_from_slice(bytes);
    }
    out
}

/// A whole mono 16-bit WAV file of `pcm`.
pub fn write(pcm: &Pcm) -> Vec<u8> {
    let body = pcm.to_pcm16();
    let mut out = Vec::with_capacity(HEADER_BYTES + body.len());
    out.extend_from_slice(&header(pcm.rate, Some(body.len())));
    out.extend_from_slice(&body);
    out
}

/// Reads 16-bit PCM WAV, averaging the channels of a multi-channel file.
///
/// # Errors
/// [`WavError`] when the bytes are not WAV, lack a chunk or hold another encoding.
pub fn read(bytes: &[u8]) -> Result<Pcm, WavError> {
    if bytes.len() < 12 || &bytes[..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err(WavError::NotWav);
    }
    let mut format = None;
    let mut at = 12;
    while let Some(head) = bytes.get(at..at + 8) {
        let size = u32::from_le_bytes([head[4], head[5], head[6], head[7]]) as usize;
        let body_start = at + 8;
        let body_end = body_start.saturating_add(size).min(bytes.len());
        let body = &bytes[body_start..body_end];
        match &head[..4] {
            b"fmt " => format = Some(Format::parse(body)?),
            b"data" => {
                let format = format.ok_or(WavError::MissingChunk("fmt"))?;
                return Ok(format.decode(body));
            }
            _ => {}
        }
        // Chunks are padded to an even length.
        at = body_end + (size & 1);
    }
    Err(WavError::MissingChunk(if format.is_some() {
        "data"
    } else {
        "fmt"
    }))
}

#[derive(Debug, Clone, Copy)]
struct Format {
    channels: usize,
    rate: u32,
}

impl Format {
    fn parse(body: &[u8]) -> Result<Self, WavError> {
        let field = |at: usize| {
            body.get(at..at + 2)
                .map(|b| u16::from_le_bytes([b[0], b[1]]))
        };
        let (Some(tag), Some(channels), Some(bits)) = (field(0), field(2), field(14)) else {
            return Err(WavError::Unsupported("a truncated format chunk".to_owned()));
        };
        let rate = body
            .get(4..8)
            .map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
        // 0xFFFE is the extensible header, which espeak-ng does not write but others do.
        if !(tag == 1 || tag == 0xFFFE) || bits != 16 || channels == 0 || rate == 0 {
            return Err(WavError::Unsupported(format!(
                "format {tag:#06x} with {bits}-bit samples and {channels} channel(s) at {rate} Hz"
            )));
        }
        Ok(Self {
            channels: usize::from(channels),
            rate,
        })
    }

    fn decode(self, body: &[u8]) -> Pcm {
        let frame = 2 * self.channels;
        let samples = body
            .chunks_exact(frame)
            .map(|frame| {
                let sum: f32 = frame
                    .chunks_exact(2)
                    .map(|b| f32::from(i16::from_le_bytes([b[0], b[1]])))
                    .sum();
                sum / (self.channels as f32 * f32::from(i16::MAX))
            })
            .collect();
        Pcm {
            samples,
            rate: self.rate,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_file_reads_back_with_its_rate_and_samples() {
        let pcm = Pcm {
            samples: vec![0.0, 0.5, -0.5, 1.0, -1.0],
            rate: 22_050,
        };

        let back = read(&write(&pcm)).expect("valid WAV");

        assert_eq!(back.rate, 22_050);
        for (a, b) in back.samples.iter().zip(&pcm.samples) {
            assert!((a - b).abs() < 1e-4, "{a} vs {b}");
        }
    }

    #[test]
    fn a_streamed_header_with_unknown_length_reads_to_the_end() {
        let mut bytes = header(16_000, None).to_vec();
        bytes.extend_from_slice(&[0x00, 0x40, 0x00, 0xC0]);

        let pcm = read(&bytes).expect("valid WAV");

        assert_eq!(pcm.samples.len(), 2);
        assert_eq!(
            u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]) % 2,
            0
        );
    }

    #[test]
    fn what_is_not_16_bit_pcm_wav_is_refused_by_name() {
        assert_eq!(read(b"ID3 not a wav"), Err(WavError::NotWav));
        let mut float = header(8_000, Some(0)).to_vec();
        float[20] = 3;
        assert!(matches!(read(&float), Err(WavError::Unsupported(_))));
        assert_eq!(
            read(&header(8_000, Some(0))[..36]),
            Err(WavError::MissingChunk("data"))
        );
    }
}
