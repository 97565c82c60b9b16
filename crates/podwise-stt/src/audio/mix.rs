//! From decoded buffers to 16 kHz mono: channels averaged, the rate converted as the
//! buffers come, and the length counted against the limit before anything is kept.

use symphonia::core::audio::GenericAudioBufferRef;

use super::resample::Resampler;
use super::{AudioError, SAMPLE_RATE, SOURCE_RATES};

/// Damaged audio is replaced by at most this much silence at a time: a longer gap is more
/// likely a wrong length or timestamp than lost sound.
pub(crate) const MAX_GAP_SECONDS: f64 = 10.0;

/// Collects the decoded audio of one track.
#[derive(Debug)]
pub(crate) struct Sink {
    max_seconds: f64,
    out: Vec<f32>,
    /// The rate the source is at now, with its converter; a stream may change rate.
    current: Option<(u32, Resampler)>,
    /// The rate the header gives, used for silence before the first buffer.
    header_rate: Option<u32>,
    /// The rate and channel count of the first buffer.
    first: Option<(u32, usize)>,
    /// How much source audio has come in, over every rate.
    seconds: f64,
    planes: Vec<Vec<f32>>,
    mono: Vec<f32>,
}

impl Sink {
    /// A sink refusing more than `max_seconds`, with room for `declared` seconds.
    pub(crate) fn new(max_seconds: f64, header_rate: Option<u32>, declared: Option<f64>) -> Self {
        // Up to ten minutes are set aside from the header's word; past that the buffer
        // grows as audio actually arrives, so a small file with a lying header cannot
        // reserve gigabytes. (Saturating cast.)
        let seconds = declared.unwrap_or(0.0).min(600.0);
        let capacity = (seconds * f64::from(SAMPLE_RATE)) as usize + 1;
        Self {
            max_seconds,
            out: Vec::with_capacity(capacity),
            current: None,
            header_rate,
            first: None,
            seconds: 0.0,
            planes: Vec::new(),
            mono: Vec::new(),
        }
    }

    /// The source rate now, once known.
    pub(crate) fn rate(&self) -> Option<u32> {
        self.current
            .as_ref()
            .map(|(rate, _)| *rate)
            .or(self.header_rate)
    }

    pub(crate) fn first_rate(&self) -> Option<u32> {
        self.first.map(|(rate, _)| rate)
    }

    pub(crate) fn first_channels(&self) -> Option<usize> {
        self.first.map(|(_, channels)| channels)
    }

    /// How much audio has come in, in seconds.
    pub(crate) fn seconds(&self) -> f64 {
        self.seconds
    }

    /// Adds one decoded buffer, averaging its channels.
    ///
    /// # Errors
    /// When the buffer's rate is outside [`SOURCE_RATES`], or the audio so far passes the
    /// limit.
    pub(crate) fn push(&mut self, buffer: &GenericAudioBufferRef<'_>) -> Result<(), AudioError> {
        let rate = buffer.spec().rate();
        let channels = buffer.spec().channels().count();
        if !SOURCE_RATES.contains(&rate) {
            return Err(AudioError::UnsupportedSampleRate { sample_rate: rate });
        }
        self.first.get_or_insert((rate, channels));
        let frames = buffer.frames();
        if frames == 0 || channels == 0 {
            return Ok(());
        }

        buffer.copy_to_vecs_planar::<f32>(&mut self.planes);
        self.mono.clear();
        self.mono.resize(frames, 0.0);
        for plane in &self.planes {
            for (mixed, &sample) in self.mono.iter_mut().zip(plane) {
                // A float file can hold NaN or values past full scale; neither is sound.
                *mixed += if sample.is_finite() {
                    sample.clamp(-1.0, 1.0)
                } else {
                    0.0
                };
            }
        }
        let scale = 1.0 / self.planes.len().max(1) as f32;
        self.mono.iter_mut().for_each(|s| *s *= scale);
        self.feed(rate)
    }

    /// Adds `seconds` of silence in place of audio that could not be decoded.
    ///
    /// # Errors
    /// When the audio so far passes the limit.
    pub(crate) fn push_silence(&mut self, seconds: f64) -> Result<(), AudioError> {
        let Some(rate) = self.rate() else {
            return Ok(());
        };
        let mut frames = (seconds.clamp(0.0, MAX_GAP_SECONDS) * f64::from(rate)).round() as usize;
        // A second at a time, so that a long gap is refused before it is allocated.
        while frames > 0 {
            let now = frames.min(rate as usize);
            self.mono.clear();
            self.mono.resize(now, 0.0);
            self.feed(rate)?;
            frames -= now;
        }
        Ok(())
    }

    /// Counts `self.mono` against the limit, then converts it.
    fn feed(&mut self, rate: u32) -> Result<(), AudioError> {
        self.seconds += self.mono.len() as f64 / f64::from(rate);
        if self.seconds > self.max_seconds {
            return Err(AudioError::TooLong {
                seconds: self.seconds,
                max_seconds: self.max_seconds,
            });
        }
        match &mut self.current {
            Some((current, resampler)) if *current == rate => {
                resampler.push(&self.mono, &mut self.out);
            }
            current => {
                if let Some((_, previous)) = current.take() {
                    previous.finish(&mut self.out);
                }
                let mut resampler = Resampler::new(rate, SAMPLE_RATE);
                resampler.push(&self.mono, &mut self.out);
                *current = Some((rate, resampler));
            }
        }
        Ok(())
    }

    /// The 16 kHz samples, in [-1, 1].
    pub(crate) fn finish(mut self) -> Vec<f32> {
        if let Some((_, resampler)) = self.current.take() {
            resampler.finish(&mut self.out);
        }
        // The filter rings a little past full scale next to a clipped input.
        self.out.iter_mut().for_each(|s| *s = s.clamp(-1.0, 1.0));
        self.out
    }
}
