//! Decoding an uploaded file into 16 kHz mono samples with symphonia.
//!
//! The container is found from the bytes; each packet of the audio track is decoded, its
//! channels averaged, and the result resampled as it comes, so the file is never held at
//! its source rate. The length limit is checked against the header before the first
//! packet when the header gives a length that can be trusted, and after every packet.
//!
//! Damaged data is judged, not just skipped. A packet that fails to decode is replaced by
//! silence of its length, so that later timestamps stay right, and the file is kept when
//! at most a tenth of its packets failed and, if its header gives its length, it delivered
//! at least nine tenths of that length. Past either bound, or when nothing decodes, the
//! file is refused as damaged: a transcript with holes would mislead more than a request
//! to upload the file again.

use std::io::Cursor;
use std::panic::{self, AssertUnwindSafe};

use symphonia::core::codecs::audio::{
    AudioCodecId, AudioCodecParameters, AudioDecoder, AudioDecoderOptions, well_known as codec,
};
use symphonia::core::errors::Error;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, FormatReader, Track, TrackType, well_known};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;

use super::edits::{self, Presentation};
use super::mix::{MAX_GAP_SECONDS, Sink};
use super::sniff::{Sniffed, sniff};
use super::{Audio, AudioError, Clock, Limits, SAMPLE_RATE, SOURCE_RATES, SourceInfo};

/// The file is refused when more of its packets than this fail to decode.
const MAX_DAMAGED_FRACTION: f64 = 0.1;

/// The file is refused when it delivers less than this part of the length in its header.
const MIN_DELIVERED_FRACTION: f64 = 0.9;

/// Turns the bytes of an uploaded file into 16 kHz mono audio.
///
/// `format_hint` is the file name, its extension or its MIME type when the caller knows
/// one; the bytes decide the format, and the hint only helps the probe and the messages.
///
/// # Errors
/// An [`AudioError`] naming what is wrong: nothing uploaded, not audio, a container or
/// codec that is not accepted, a damaged file, audio longer than `limits.max_seconds`, or
/// a file without an audio track.
pub fn decode(
    bytes: &[u8],
    format_hint: Option<&str>,
    limits: &Limits,
) -> Result<Audio, AudioError> {
    if bytes.is_empty() {
        return Err(AudioError::Empty);
    }
    let sniffed = sniff(bytes);
    match sniffed {
        Sniffed::Refused(container) => return Err(AudioError::UnsupportedContainer { container }),
        Sniffed::NotAudio(kind) => return Err(unrecognised(format_hint, Some(kind))),
        Sniffed::Accepted(_) | Sniffed::Unknown => {}
    }
    // Symphonia aims never to panic, but on hostile input that is a hope rather than a
    // proof, and a panic here would take every other request of the process down with it.
    panic::catch_unwind(AssertUnwindSafe(|| {
        decode_probed(bytes, format_hint, limits, sniffed)
    }))
    .unwrap_or_else(|_| {
        Err(AudioError::Corrupt {
            reason: "its data is malformed in a way the decoder cannot follow".to_owned(),
        })
    })
}

fn decode_probed(
    bytes: &[u8],
    format_hint: Option<&str>,
    limits: &Limits,
    sniffed: Sniffed,
) -> Result<Audio, AudioError> {
    let (mut format, container) = open(bytes, format_hint, sniffed)?;
    let track = format
        .default_track(TrackType::Audio)
        .cloned()
        .ok_or(AudioError::NoAudioTrack)?;
    let params = track
        .codec_params
        .as_ref()
        .and_then(|params| params.audio())
        .ok_or(AudioError::NoAudioTrack)?
        .clone();
    let unsupported = |codec: String| AudioError::UnsupportedCodec { container, codec };
    let registered = symphonia::default::get_codecs()
        .get_audio_decoder(params.codec)
        .ok_or_else(|| unsupported(codec_name(params.codec).to_owned()))?;
    let codec = registered.codec.info.short_name;
    let mut decoder = (registered.factory)(&params, &AudioDecoderOptions::default())
        .map_err(|e| unsupported(format!("{codec} in a form it cannot read ({e})")))?;

    if let Some(rate) = params.sample_rate.filter(|r| !SOURCE_RATES.contains(r)) {
        return Err(AudioError::UnsupportedSampleRate { sample_rate: rate });
    }
    let declared = declared_seconds(&track, container).filter(|_| !streamed_wav(bytes));
    let at_most = pcm_seconds_at_most(&params, codec, bytes.len());
    let length = declared.map(|seconds| at_most.map_or(seconds, |most| seconds.min(most)));
    if let Some(seconds) = length.filter(|&seconds| seconds > limits.max_seconds) {
        return Err(AudioError::TooLong {
            seconds,
            max_seconds: limits.max_seconds,
        });
    }

    let mut sink = Sink::new(limits.max_seconds, params.sample_rate, length);
    let tally = read_track(&mut *format, &track, &mut *decoder, &mut sink)?;
    if let Some(what) = tally.unsupported {
        return Err(unsupported(format!(
            "{codec} with a feature it lacks ({what})"
        )));
    }
    judge(&tally, sink.seconds(), declared)?;

    let (first_rate, first_channels) = (sink.first_rate(), sink.first_channels());
    let mut samples = sink.finish();
    if container == "mp4"
        && let Some(presentation) = edits::presentation(bytes, track.id)
    {
        trim(&mut samples, presentation);
    }
    let channels = params
        .channels
        .as_ref()
        .map(|c| c.count())
        .or(first_channels);
    let source = SourceInfo {
        container,
        codec: codec.to_owned(),
        sample_rate: params.sample_rate.or(first_rate).unwrap_or(0),
        channels: channels.map_or(0, |count| u16::try_from(count).unwrap_or(u16::MAX)),
        duration_seconds: super::seconds(samples.len()),
        damaged_packets: tally.damaged,
    };
    Ok(Audio { samples, source })
}

/// Finds the container from the bytes, and its name for [`SourceInfo::container`].
fn open<'a>(
    bytes: &'a [u8],
    format_hint: Option<&str>,
    sniffed: Sniffed,
) -> Result<(Box<dyn FormatReader + 'a>, &'static str), AudioError> {
    let source = MediaSourceStream::new(Box::new(Cursor::new(bytes)), Default::default());
    let mut hint = Hint::new();
    if let Some(given) = format_hint {
        if given.contains('/') {
            hint.mime_type(given);
        } else {
            hint.with_extension(given.rsplit('.').next().unwrap_or(given));
        }
    }
    let probed = symphonia::default::get_probe().probe(
        &hint,
        source,
        FormatOptions::default(),
        MetadataOptions::default(),
    );
    let sniffed_name = match sniffed {
        Sniffed::Accepted(container) => Some(container),
        Sniffed::Refused(_) | Sniffed::NotAudio(_) | Sniffed::Unknown => None,
    };
    match (probed, sniffed_name) {
        (Ok(format), _) => {
            let container = container_name(&*format).or(sniffed_name).unwrap_or("audio");
            Ok((format, container))
        }
        (Err(error), Some(container)) => Err(unreadable(container, error)),
        (Err(_), None) => Err(unrecognised(format_hint, None)),
    }
}

/// What reading a track's packets found.
#[derive(Debug, Default)]
struct Tally {
    /// Packets decoded.
    good: u64,
    /// Packets that failed to decode, or that the timestamps show missing.
    damaged: u64,
    /// The demuxer's error, when it stopped before the end.
    stopped: Option<Error>,
    /// A feature of the codec the decoder lacks, when that showed before any audio.
    unsupported: Option<&'static str>,
}

/// Decodes every packet of `track` into `sink`, with silence where audio is missing.
fn read_track(
    format: &mut dyn FormatReader,
    track: &Track,
    decoder: &mut dyn AudioDecoder,
    sink: &mut Sink,
) -> Result<Tally, AudioError> {
    let mut tally = Tally::default();
    // Where the next packet should start, in the track's time base: some demuxers (FLAC,
    // Ogg) step over damaged data themselves, and only the timestamps show the hole.
    let mut next_ts: Option<i64> = None;
    loop {
        let packet = match format.next_packet() {
            Ok(Some(packet)) => packet,
            // A chained Ogg stream starts over with new tracks; the first one is the upload.
            Ok(None) | Err(Error::ResetRequired) => break,
            Err(Error::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(error) => {
                tally.stopped = Some(error);
                break;
            }
        };
        if packet.track_id != track.id {
            continue;
        }

        let (ts, dur) = (packet.pts.get(), packet.dur.get());
        if let Some(expected) = next_ts {
            let gap = ts.saturating_sub(expected).max(0).unsigned_abs();
            let seconds = ts_seconds(track, gap, sink.rate());
            // Under half a packet is rounding; over the cap, a jump in the timestamps.
            if dur > 0 && gap.saturating_mul(2) >= dur && seconds <= MAX_GAP_SECONDS {
                tally.damaged = tally.damaged.saturating_add(gap.div_ceil(dur));
                sink.push_silence(seconds)?;
            }
        }
        // A packet's duration leaves out the frames trimmed for gapless playback.
        let span = dur
            .saturating_add(packet.trim_start.get())
            .saturating_add(packet.trim_end.get());
        next_ts = Some(ts.saturating_add_unsigned(span));

        match decoder.decode(&packet) {
            Ok(buffer) => {
                tally.good += 1;
                sink.push(&buffer)?;
            }
            Err(Error::Unsupported(what)) if tally.good == 0 => {
                tally.unsupported = Some(what);
                break;
            }
            Err(_) => {
                tally.damaged = tally.damaged.saturating_add(1);
                sink.push_silence(ts_seconds(track, dur, sink.rate()))?;
            }
        }
    }
    Ok(tally)
}

/// Applies the rules of the module's documentation to what decoding produced.
fn judge(tally: &Tally, seconds: f64, declared: Option<f64>) -> Result<(), AudioError> {
    let corrupt = |reason: String| Err(AudioError::Corrupt { reason });
    let (good, damaged) = (tally.good, tally.damaged);
    let total = good.saturating_add(damaged);
    if good == 0 && damaged > 0 {
        return corrupt(format!(
            "none of its {damaged} audio packets can be decoded"
        ));
    }
    if damaged as f64 > MAX_DAMAGED_FRACTION * total as f64 {
        return corrupt(format!(
            "{damaged} of its {total} audio packets are damaged"
        ));
    }
    if let Some(declared) = declared.filter(|&d| seconds < MIN_DELIVERED_FRACTION * d) {
        return corrupt(format!(
            "it stops after {} of the {} its header announces, as if the upload was cut short",
            Clock(seconds),
            Clock(declared)
        ));
    }
    match &tally.stopped {
        Some(error) if good == 0 => corrupt(format!("its audio data cannot be read ({error})")),
        _ => Ok(()),
    }
}

/// Keeps only the part of a track its edit list presents.
fn trim(samples: &mut Vec<f32>, presentation: Presentation) {
    let at_rate = |seconds: f64| (seconds * f64::from(SAMPLE_RATE)).round() as usize;
    let skip = at_rate(presentation.skip_seconds).min(samples.len());
    samples.drain(..skip);
    if let Some(keep) = presentation.keep_seconds {
        samples.truncate(at_rate(keep));
    }
}

/// The length the header gives, when it can be trusted: the MP3 and ADTS readers estimate
/// it from the bit rate, which a variable bit rate makes wrong. (Ogg's comes from its last
/// page: right for the limit, but a file cut short looks whole by it.)
fn declared_seconds(track: &Track, container: &str) -> Option<f64> {
    if matches!(container, "mp3" | "aac") {
        return None;
    }
    let params = track.codec_params.as_ref()?.audio()?;
    let rate = f64::from(params.sample_rate.filter(|&rate| rate > 0)?);
    match (track.num_frames, track.duration, track.time_base) {
        (Some(frames), _, _) => Some(frames as f64 / rate),
        (None, Some(duration), Some(base)) => {
            Some(duration.get() as f64 * f64::from(base.numer.get()) / f64::from(base.denom.get()))
        }
        _ => None,
    }
}

/// The data size at or above which a WAV header is taken to say "length unknown": 2 GiB,
/// more than any upload. A program writing WAV to a pipe cannot go back to fill in the
/// size, so it writes a placeholder there: ffmpeg 0xFFFFFFFF (which symphonia already
/// reads as unknown), espeak-ng 0x7FFFF000, Podwise's own TTS service 0xFFFFFFDA.
const STREAMED_WAV_DATA_BYTES: u32 = 0x7FFF_0000;

/// Whether `bytes` are a WAV file whose data chunk claims a placeholder size rather than
/// a length: such a file is read to its end, and is not "cut short" by its header.
fn streamed_wav(bytes: &[u8]) -> bool {
    if bytes.len() < 12 || &bytes[..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return false;
    }
    let mut at = 12;
    while let Some(header) = bytes.get(at..at + 8) {
        let size = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        if &header[..4] == b"data" {
            return size >= STREAMED_WAV_DATA_BYTES;
        }
        at += 8 + size as usize + (size as usize & 1);
    }
    false
}

/// How long PCM audio in `byte_len` bytes can last at most, whatever its header says: a
/// header claiming hours over a few bytes is a cut or damaged file, not a long one.
fn pcm_seconds_at_most(params: &AudioCodecParameters, codec: &str, byte_len: usize) -> Option<f64> {
    if !codec.starts_with("pcm") {
        return None;
    }
    let rate = f64::from(params.sample_rate.filter(|&rate| rate > 0)?);
    let bits = params
        .bits_per_coded_sample
        .or(params.bits_per_sample)
        .unwrap_or(8);
    let channels = params.channels.as_ref().map_or(1, |c| c.count()).max(1);
    let frame_bytes = (bits.div_ceil(8).max(1) as usize).saturating_mul(channels);
    Some((byte_len / frame_bytes) as f64 / rate)
}

/// Seconds of a `duration` in the track's time base.
fn ts_seconds(track: &Track, duration: u64, rate: Option<u32>) -> f64 {
    match (track.time_base, rate) {
        (Some(base), _) => {
            duration as f64 * f64::from(base.numer.get()) / f64::from(base.denom.get())
        }
        (None, Some(rate)) if rate > 0 => duration as f64 / f64::from(rate),
        _ => 0.0,
    }
}

fn container_name(format: &dyn FormatReader) -> Option<&'static str> {
    let id = format.format_info().format;
    let names = [
        (well_known::FORMAT_ID_WAVE, "wav"),
        (well_known::FORMAT_ID_MP3, "mp3"),
        (well_known::FORMAT_ID_FLAC, "flac"),
        (well_known::FORMAT_ID_OGG, "ogg"),
        (well_known::FORMAT_ID_ISOMP4, "mp4"),
        (well_known::FORMAT_ID_ADTS, "aac"),
    ];
    names
        .iter()
        .find(|(known, _)| *known == id)
        .map(|(_, name)| *name)
}

/// The usual name of a codec no decoder is built in for.
fn codec_name(id: AudioCodecId) -> &'static str {
    let names = [
        (codec::CODEC_ID_OPUS, "Opus"),
        (codec::CODEC_ID_SPEEX, "Speex"),
        (codec::CODEC_ID_ALAC, "Apple Lossless (ALAC)"),
        (codec::CODEC_ID_AC3, "Dolby Digital (AC-3)"),
        (codec::CODEC_ID_EAC3, "Dolby Digital Plus (E-AC-3)"),
        (codec::CODEC_ID_DCA, "DTS"),
        (codec::CODEC_ID_WMA, "Windows Media Audio"),
        (codec::CODEC_ID_MP1, "MPEG layer 1"),
        (codec::CODEC_ID_MP2, "MPEG layer 2"),
        (codec::CODEC_ID_ADPCM_MS, "ADPCM"),
        (codec::CODEC_ID_ADPCM_IMA_WAV, "ADPCM"),
        (codec::CODEC_ID_ADPCM_IMA_QT, "ADPCM"),
        (codec::CODEC_ID_ADPCM_G722, "G.722"),
        (codec::CODEC_ID_ADPCM_G726, "G.726"),
        (codec::CODEC_ID_WAVPACK, "WavPack"),
        (codec::CODEC_ID_MONKEYS_AUDIO, "Monkey's Audio"),
        (codec::CODEC_ID_TTA, "True Audio"),
        (codec::CODEC_ID_TRUEHD, "Dolby TrueHD"),
    ];
    names
        .iter()
        .find(|(known, _)| *known == id)
        .map_or("an unknown codec", |(_, name)| *name)
}

/// How a container that was recognised but could not be opened is reported.
fn unreadable(container: &'static str, error: Error) -> AudioError {
    let name = super::display_name(container);
    match error {
        Error::Unsupported(what) if !what.contains("missing") => AudioError::UnsupportedCodec {
            container,
            codec: format!("a kind of {name} data it cannot read ({what})"),
        },
        Error::IoError(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => AudioError::Corrupt {
            reason: format!("its {name} header is cut short"),
        },
        other => AudioError::Corrupt {
            reason: format!("its {name} header cannot be read ({other})"),
        },
    }
}

fn unrecognised(hint: Option<&str>, looks_like: Option<&'static str>) -> AudioError {
    AudioError::UnrecognisedFormat {
        hint: hint.map(str::to_owned),
        looks_like,
    }
}
