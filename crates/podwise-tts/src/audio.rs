//! Audio as the service handles it between the engines and the wire: mono samples in
//! [-1, 1] at a known rate ([`Pcm`]), converted to another rate with [`resample`] and
//! written out as WAV, raw PCM or FLAC by [`encode`].
//!
//! Every engine hands back `f32` samples; 16-bit integers appear only when the audio
//! leaves the service, so resampling and joining never round twice.

mod flac;
mod format;
mod resample;
pub mod wav;

pub use format::{OutputFormat, encode};
pub use resample::resample;

/// Mono audio: samples in [-1, 1] at `rate` hertz.
#[derive(Clone, PartialEq)]
pub struct Pcm {
    pub samples: Vec<f32>,
    pub rate: u32,
}

impl Pcm {
    /// No samples at `rate`.
    pub fn empty(rate: u32) -> Self {
        Self {
            samples: Vec::new(),
            rate,
        }
    }

    /// How long the audio lasts, in seconds.
    pub fn seconds(&self) -> f64 {
        seconds_of(self.samples.len(), self.rate)
    }

    /// Appends `other`, converting it to this audio's rate first if it has another.
    pub fn append(&mut self, other: &Pcm) {
        if other.rate == self.rate {
            self.samples.extend_from_slice(&other.samples);
        } else {
            self.samples
                .extend(resample(&other.samples, other.rate, self.rate));
        }
    }

    /// Appends `seconds` of silence.
    pub fn append_silence(&mut self, seconds: f64) {
        let count = (seconds * f64::from(self.rate)).round() as usize;
        self.samples.resize(self.samples.len() + count, 0.0);
    }

    /// Drops the near-silence at the start and (or) the end, keeping `keep_seconds` of it,
    /// so that runs joined inside one sentence do not leave a gap between words.
    pub fn trim_silence(&mut self, start: bool, end: bool, keep_seconds: f64) {
        let keep = (keep_seconds * f64::from(self.rate)) as usize;
        let loud = |s: &f32| s.abs() > SILENCE;
        if end {
            let last = self.samples.iter().rposition(loud).map_or(0, |at| at + 1);
            self.samples.truncate((last + keep).min(self.samples.len()));
        }
        if start {
            let first = self
                .samples
                .iter()
                .position(loud)
                .unwrap_or(self.samples.len());
            self.samples.drain(..first.saturating_sub(keep));
        }
    }

    /// The samples as little-endian signed 16-bit integers, the body of a WAV file.
    pub fn to_pcm16(&self) -> Vec<u8> {
        self.samples
            .iter()
            .flat_map(|&s| to_i16(s).to_le_bytes())
            .collect()
    }

    /// The root mean square of the samples: 0 for silence, about 0.1 for ordinary speech.
    pub fn rms(&self) -> f64 {
        rms(&self.samples)
    }
}

/// The samples are counted, not listed: a minute of speech is over a million numbers.
impl std::fmt::Debug for Pcm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pcm")
            .field("samples", &format_args!("[{} samples]", self.samples.len()))
            .field("rate", &self.rate)
            .finish()
    }
}

/// Below this amplitude a sample counts as silence (about -50 dBFS).
const SILENCE: f32 = 0.003;

/// A sample as a 16-bit integer, clipped rather than wrapped at full scale.
pub fn to_i16(sample: f32) -> i16 {
    (sample.clamp(-1.0, 1.0) * f32::from(i16::MAX)).round() as i16
}

/// The root mean square of `samples`.
pub fn rms(samples: &[f32]) -> f64 {
    let sum: f64 = samples.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    (sum / samples.len().max(1) as f64).sqrt()
}

/// How long `count` samples at `rate` last, in seconds.
pub fn seconds_of(count: usize, rate: u32) -> f64 {
    count as f64 / f64::from(rate.max(1))
}
