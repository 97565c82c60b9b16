//! The one-minute preview a listener hears at onboarding, cut from the episode's audio
//! without decoding it: a WAV is cut at a sample frame after its header is rewritten for
//! the shorter length; an MP3 is cut at a frame boundary, which every player accepts as
//! a whole file. Other containers get no preview (the episode is still ingested), since
//! cutting them needs a decoder and an encoder this service does not carry.

use bytes::Bytes;

/// How long a preview runs.
pub const PREVIEW_SECONDS: u32 = 60;

/// A preview and its content type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preview {
    pub bytes: Bytes,
    pub content_type: &'static str,
    pub extension: &'static str,
}

/// The first `seconds` of `audio`, when its container can be cut without decoding.
pub fn cut(audio: &[u8], seconds: u32) -> Option<Preview> {
    if audio.starts_with(b"RIFF") && audio.get(8..12) == Some(b"WAVE") {
        return cut_wav(audio, seconds).map(|bytes| Preview {
            bytes,
            content_type: "audio/wav",
            extension: "wav",
        });
    }
    let mp3 = audio.starts_with(b"ID3") || first_mp3_frame(audio, 0).is_some_and(|at| at == 0);
    if mp3 {
        return cut_mp3(audio, seconds).map(|bytes| Preview {
            bytes,
            content_type: "audio/mpeg",
            extension: "mp3",
        });
    }
    None
}

fn cut_wav(audio: &[u8], seconds: u32) -> Option<Bytes> {
    let mut at = 12;
    let mut byte_rate = None;
    let mut block_align = 1u32;
    let mut header_end = None;
    let mut data_len = 0usize;
    while at + 8 <= audio.len() {
        let id = &audio[at..at + 4];
        let size = u32::from_le_bytes(audio[at + 4..at + 8].try_into().ok()?) as usize;
        let body = at + 8;
        if id == b"fmt " {
            let fmt = audio.get(body..body + 16)?;
            byte_rate = Some(u32::from_le_bytes(fmt[8..12].try_into().ok()?));
            block_align = u32::from(u16::from_le_bytes(fmt[12..14].try_into().ok()?)).max(1);
        } else if id == b"data" {
            header_end = Some(body);
            data_len = size.min(audio.len() - body);
            break;
        }
        // Chunks are padded to an even length.
        at = body.checked_add(size)?.checked_add(size & 1)?;
    }
    let (byte_rate, header_end) = (byte_rate?, header_end?);
    let wanted = (u64::from(byte_rate) * u64::from(seconds)) as usize;
    let kept = wanted.min(data_len) / block_align as usize * block_align as usize;
    let mut out = Vec::with_capacity(header_end + kept);
    out.extend_from_slice(&audio[..header_end]);
    out.extend_from_slice(&audio[header_end..header_end + kept]);
    let riff_size = u32::try_from(out.len() - 8).ok()?;
    out[4..8].copy_from_slice(&riff_size.to_le_bytes());
    let data_size = u32::try_from(kept).ok()?;
    out[header_end - 4..header_end].copy_from_slice(&data_size.to_le_bytes());
    Some(Bytes::from(out))
}

/// Bitrates of MPEG-1 Layer III frames, in kbit/s, by the header's index.
const MP3_BITRATES: [u32; 16] = [
    0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 0,
];
const MP3_SAMPLE_RATES: [u32; 4] = [44_100, 48_000, 32_000, 0];
/// Samples in one MPEG-1 Layer III frame.
const MP3_FRAME_SAMPLES: u32 = 1152;

/// The length in bytes of an MPEG-1 Layer III frame whose header starts at `at`.
fn mp3_frame_len(audio: &[u8], at: usize) -> Option<usize> {
    let header = audio.get(at..at + 4)?;
    let sync = header[0] == 0xFF && header[1] & 0xFE == 0xFA;
    if !sync {
        return None;
    }
    let bitrate = MP3_BITRATES[usize::from(header[2] >> 4)];
    let sample_rate = MP3_SAMPLE_RATES[usize::from((header[2] >> 2) & 0x3)];
    if bitrate == 0 || sample_rate == 0 {
        return None;
    }
    let padding = u32::from((header[2] >> 1) & 1);
    Some((144 * bitrate * 1000 / sample_rate + padding) as usize)
}

/// Where the first frame at or after `from` starts (an ID3v2 tag is skipped whole).
fn first_mp3_frame(audio: &[u8], from: usize) -> Option<usize> {
    let mut at = from;
    if audio.get(at..at + 3) == Some(b"ID3") {
        let size = audio.get(at + 6..at + 10)?;
        // The tag's size is four 7-bit bytes.
        let size = size
            .iter()
            .fold(0usize, |sum, b| (sum << 7) | usize::from(b & 0x7F));
        at += 10 + size;
    }
    (at..audio.len().saturating_sub(4)).find(|&i| mp3_frame_len(audio, i).is_some())
}

fn cut_mp3(audio: &[u8], seconds: u32) -> Option<Bytes> {
    let start = first_mp3_frame(audio, 0)?;
    let sample_rate = MP3_SAMPLE_RATES[usize::from((audio[start + 2] >> 2) & 0x3)];
    let frames =
        (u64::from(seconds) * u64::from(sample_rate)).div_ceil(u64::from(MP3_FRAME_SAMPLES));
    let mut at = start;
    for _ in 0..frames {
        match mp3_frame_len(audio, at) {
            Some(len) if at + len <= audio.len() => at += len,
            _ => break,
        }
    }
    (at > start).then(|| Bytes::copy_from_slice(&audio[..at]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wav(seconds: u32, rate: u32, channels: u16) -> Vec<u8> {
        let frames = seconds * rate;
        let block = 2 * u32::from(channels);
        let data_len = frames * block;
        let mut out = Vec::new();
        out.extend_from_slice(b"RIFF");
        out.extend_from_slice(&(36 + data_len + 12).to_le_bytes());
        out.extend_from_slice(b"WAVE");
        // An extra chunk before the format, as some encoders write.
        out.extend_from_slice(b"LIST");
        out.extend_from_slice(&4u32.to_le_bytes());
        out.extend_from_slice(b"INFO");
        out.extend_from_slice(b"fmt ");
        out.extend_from_slice(&16u32.to_le_bytes());
        out.extend_from_slice(&1u16.to_le_bytes());
        out.extend_from_slice(&channels.to_le_bytes());
        out.extend_from_slice(&rate.to_le_bytes());
        out.extend_from_slice(&(rate * block).to_le_bytes());
        out.extend_from_slice(&(block as u16).to_le_bytes());
        out.extend_from_slice(&16u16.to_le_bytes());
        out.extend_from_slice(b"data");
        out.extend_from_slice(&data_len.to_le_bytes());
        out.extend((0..data_len).map(|i| (i % 251) as u8));
        out
    }

    #[test]
    fn a_wav_is_cut_to_the_minute_with_a_header_that_says_so() {
        let audio = wav(90, 8_000, 2);
        let preview = cut(&audio, 60).expect("a preview");
        assert_eq!(preview.content_type, "audio/wav");
        let data_at = preview.bytes.len() - 60 * 8_000 * 4;
        assert_eq!(&preview.bytes[data_at - 8..data_at - 4], b"data");
        let declared = u32::from_le_bytes(
            preview.bytes[data_at - 4..data_at]
                .try_into()
                .expect("four bytes"),
        );
        assert_eq!(declared, 60 * 8_000 * 4);
        let riff = u32::from_le_bytes(preview.bytes[4..8].try_into().expect("four bytes")) as usize;
        assert_eq!(riff, preview.bytes.len() - 8);
        assert_eq!(
            &preview.bytes[data_at..],
            &audio[data_at..data_at + 60 * 8_000 * 4]
        );
    }

    #[test]
    fn a_short_wav_is_kept_whole() {
        let audio = wav(5, 16_000, 1);
        assert_eq!(
            cut(&audio, 60).expect("a preview").bytes.as_ref(),
            &audio[..]
        );
    }

    /// Frames of 128 kbit/s at 44.1 kHz, unpadded: 417 bytes each.
    fn mp3(frames: usize) -> Vec<u8> {
        let mut out = b"ID3\x04\x00\x00\x00\x00\x00\x05hello".to_vec();
        for _ in 0..frames {
            let mut frame = vec![0u8; 417];
            frame[..4].copy_from_slice(&[0xFF, 0xFB, 0x90, 0x00]);
            out.extend(frame);
        }
        out
    }

    #[test]
    fn an_mp3_is_cut_at_the_frame_that_ends_the_minute() {
        let audio = mp3(4_000);
        let preview = cut(&audio, 60).expect("a preview");
        assert_eq!(preview.content_type, "audio/mpeg");
        let frames = (60 * 44_100_usize).div_ceil(1152);
        assert_eq!(preview.bytes.len(), 15 + frames * 417);
        assert_eq!(&preview.bytes[..], &audio[..preview.bytes.len()]);
    }

    #[test]
    fn other_or_broken_audio_gets_no_preview() {
        assert_eq!(cut(b"OggS\x00\x02 not cut without a decoder", 60), None);
        assert_eq!(cut(b"RIFF\x10\x00\x00\x00WAVEjunk", 60), None);
        assert_eq!(cut(b"", 60), None);
    }
}
