//! Sample-rate conversion with a band-limited (windowed-sinc) polyphase filter.
//!
//! Whisper hears 16 kHz; podcasts come at 44.1 or 48 kHz, phone recordings at 8 kHz. A
//! cheap converter (linear interpolation, dropping samples) folds the energy above 8 kHz
//! back into the band speech lives in, and that hiss costs recognition accuracy. This one
//! low-passes below the lower Nyquist frequency with a Kaiser-windowed sinc (80 dB down in
//! the stopband, flat to 0.84 of Nyquist) and computes each output sample at its exact
//! rational position in the input, so lengths and timestamps do not drift.
//!
//! It is written here rather than taken from a crate because the service needs only this
//! one fixed-ratio case, offline and in one pass: about 200 lines with no dependency,
//! whose quality the tests below pin down (tone amplitude, aliasing, passband, timing).

/// How far below the passband the stopband lies, in dB: below what a 16-bit recording can
/// hold in its quietest bit, so aliases vanish into the source's own noise.
const ATTENUATION_DB: f64 = 80.0;

/// The width of the transition band, as a fraction of the lower rate's Nyquist frequency.
/// The stopband starts at Nyquist (so nothing aliases) and the passband ends at 84% of it:
/// 6.7 kHz at 16 kHz out, above the formants and most of the sibilance Whisper uses.
const TRANSITION: f64 = 0.16;

/// The most filter phases kept. A ratio with more (an unusual rate like 44 056 Hz) rounds
/// each output position to the nearest of these, an error below 1/8000 of an input sample.
const MAX_PHASES: u64 = 4096;

/// Resamples `samples` from `from_rate` to `to_rate` hertz in one pass.
///
/// The output has `ceil(len * to_rate / from_rate)` samples, and output sample `n` stands
/// for the instant `n / to_rate` seconds, as input sample `n` did for `n / from_rate`. A
/// rate of 0 gives no samples.
pub fn resample(samples: &[f32], from_rate: u32, to_rate: u32) -> Vec<f32> {
    let mut resampler = Resampler::new(from_rate, to_rate);
    let mut out = Vec::new();
    resampler.push(samples, &mut out);
    resampler.finish(&mut out);
    out
}

/// A converter fed in pieces, so decoding never holds the whole file at its source rate.
#[derive(Debug)]
pub(crate) struct Resampler {
    /// Input samples advanced per output sample is `step_num / step_den`, in lowest terms.
    step_num: u64,
    step_den: u64,
    /// `taps` coefficients for each of `phases` fractional positions, row after row.
    table: Vec<f32>,
    phases: u64,
    taps: usize,
    /// Input not yet consumed; `input[0]` has index `input_start` in the input padded with
    /// `taps / 2 - 1` leading zeros.
    input: Vec<f32>,
    input_start: u64,
    /// Real (unpadded) input samples received, and output samples produced so far.
    received: u64,
    produced: u64,
    /// No conversion (equal rates) or no output (a zero rate).
    mode: Mode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Filter,
    Copy,
    Nothing,
}

impl Resampler {
    pub(crate) fn new(from_rate: u32, to_rate: u32) -> Self {
        let mode = match (from_rate, to_rate) {
            (0, _) | (_, 0) => Mode::Nothing,
            (from, to) if from == to => Mode::Copy,
            _ => Mode::Filter,
        };
        let (from, to) = (u64::from(from_rate.max(1)), u64::from(to_rate.max(1)));
        let common = gcd(from, to);
        let (step_num, step_den) = (from / common, to / common);
        let phases = step_den.min(MAX_PHASES);

        let (table, taps) = if mode == Mode::Filter {
            design(from as f64, to as f64, phases)
        } else {
            (Vec::new(), 2)
        };
        Self {
            step_num,
            step_den,
            table,
            phases,
            taps,
            input: vec![0.0; taps / 2 - 1],
            input_start: 0,
            received: 0,
            produced: 0,
            mode,
        }
    }

    /// Converts `samples`, appending to `out` every output sample they complete.
    pub(crate) fn push(&mut self, samples: &[f32], out: &mut Vec<f32>) {
        match self.mode {
            Mode::Nothing => return,
            Mode::Copy => return out.extend_from_slice(samples),
            Mode::Filter => {}
        }
        self.received += samples.len() as u64;
        self.input.extend_from_slice(samples);
        self.emit(u64::MAX, out);
    }

    /// Converts what is left, as if the input were followed by silence, and appends the
    /// last output samples.
    pub(crate) fn finish(mut self, out: &mut Vec<f32>) {
        if self.mode != Mode::Filter {
            return;
        }
        let total = (self.received * self.step_den).div_ceil(self.step_num);
        self.input.resize(self.input.len() + self.taps / 2 + 1, 0.0);
        self.emit(total, out);
    }

    /// Produces output samples while the input covers their filter, up to `limit` in all.
    fn emit(&mut self, limit: u64, out: &mut Vec<f32>) {
        let available = self.input_start + self.input.len() as u64;
        while self.produced < limit {
            let (first, phase) = self.position(self.produced);
            if first + self.taps as u64 > available {
                break;
            }
            let at = (first - self.input_start) as usize;
            let row = phase as usize * self.taps;
            let (Some(window), Some(coefficients)) = (
                self.input.get(at..at + self.taps),
                self.table.get(row..row + self.taps),
            ) else {
                break;
            };
            out.push(dot(window, coefficients));
            self.produced += 1;
        }

        // Drop consumed input now and then, not after every sample, to keep it linear.
        let (next_first, _) = self.position(self.produced);
        let consumed = next_first.saturating_sub(self.input_start) as usize;
        if consumed > 16_384 || consumed == self.input.len() {
            let consumed = consumed.min(self.input.len());
            self.input.drain(..consumed);
            self.input_start += consumed as u64;
        }
    }

    /// The padded index of the first input sample under output `n`'s filter, and which
    /// phase of the filter lines up with it.
    fn position(&self, n: u64) -> (u64, u64) {
        let exact = n * self.step_num;
        let (whole, rest) = (exact / self.step_den, exact % self.step_den);
        if self.phases == self.step_den {
            return (whole, rest);
        }
        let phase = (rest * self.phases + self.step_den / 2) / self.step_den;
        if phase == self.phases {
            (whole + 1, 0)
        } else {
            (whole, phase)
        }
    }
}

/// The coefficients of every phase, and the number of taps in each.
fn design(from: f64, to: f64, phases: u64) -> (Vec<f32>, usize) {
    let nyquist = from.min(to) / 2.0;
    // In cycles per input sample: the -6 dB point sits mid-transition.
    let cutoff = nyquist * (1.0 - TRANSITION / 2.0) / from;
    let width = nyquist * TRANSITION / from;
    // Kaiser's estimates of the window length and shape for this attenuation and width.
    let length = (ATTENUATION_DB - 7.95) / (14.36 * width) + 1.0;
    let half = (length / 2.0).ceil().max(2.0) as usize;
    let beta = 0.1102 * (ATTENUATION_DB - 8.7);

    let taps = 2 * half;
    let mut table = Vec::with_capacity(phases as usize * taps);
    for phase in 0..phases {
        let fraction = phase as f64 / phases as f64;
        let start = table.len();
        for tap in 0..taps {
            // Distance in input samples from this tap to the output instant.
            let distance = tap as f64 - (half as f64 - 1.0) - fraction;
            let window = kaiser(distance / half as f64, beta);
            table.push((2.0 * cutoff * sinc(2.0 * cutoff * distance) * window) as f32);
        }
        // Each phase passes a constant through unchanged, so silence and DC stay exact.
        let row = &mut table[start..];
        let sum: f32 = row.iter().sum();
        if sum.abs() > f32::EPSILON {
            row.iter_mut().for_each(|c| *c /= sum);
        }
    }
    (table, taps)
}

fn sinc(x: f64) -> f64 {
    if x.abs() < 1e-12 {
        1.0
    } else {
        let px = std::f64::consts::PI * x;
        px.sin() / px
    }
}

/// The Kaiser window at `x` in [-1, 1].
fn kaiser(x: f64, beta: f64) -> f64 {
    if x.abs() > 1.0 {
        return 0.0;
    }
    bessel_i0(beta * (1.0 - x * x).sqrt()) / bessel_i0(beta)
}

/// The modified Bessel function of the first kind, order 0, by its power series.
fn bessel_i0(x: f64) -> f64 {
    let (mut sum, mut term) = (1.0, 1.0);
    let quarter_square = x * x / 4.0;
    for k in 1..64 {
        term *= quarter_square / f64::from(k * k);
        sum += term;
        if term < sum * 1e-16 {
            break;
        }
    }
    sum
}

/// A dot product in eight lanes, so the compiler can keep it in vector registers.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let (a_chunks, b_chunks) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = a_chunks
        .remainder()
        .iter()
        .zip(b_chunks.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in a_chunks.zip(b_chunks) {
        for ((lane, x), y) in lanes.iter_mut().zip(x).zip(y) {
            *lane += x * y;
        }
    }
    lanes.iter().sum::<f32>() + tail
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(hertz: f64, rate: u32, seconds: f64, amplitude: f64) -> Vec<f32> {
        let len = (seconds * f64::from(rate)) as usize;
        let step = std::f64::consts::TAU * hertz / f64::from(rate);
        (0..len)
            .map(|n| (amplitude * (step * n as f64).sin()) as f32)
            .collect()
    }

    /// Fits `a cos + b sin` at `hertz` to the middle of `samples` (the edges, where the
    /// filter meets the padding, are left out) by least squares: the sinusoid's amplitude
    /// and the RMS of what is left over.
    fn fit(samples: &[f32], rate: u32, hertz: f64) -> (f64, f64) {
        let skip = samples.len() / 10;
        let middle = &samples[skip..samples.len() - skip];
        let step = std::f64::consts::TAU * hertz / f64::from(rate);
        let basis = |n: usize| {
            let t = step * (n + skip) as f64;
            (t.cos(), t.sin())
        };
        let (mut cc, mut ss, mut cs, mut yc, mut ys) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for (n, &y) in middle.iter().enumerate() {
            let (c, s) = basis(n);
            let y = f64::from(y);
            (cc, ss, cs, yc, ys) = (cc + c * c, ss + s * s, cs + c * s, yc + y * c, ys + y * s);
        }
        let det = cc * ss - cs * cs;
        let (a, b) = ((yc * ss - ys * cs) / det, (ys * cc - yc * cs) / det);
        let residual: f64 = middle
            .iter()
            .enumerate()
            .map(|(n, &y)| {
                let (c, s) = basis(n);
                (f64::from(y) - a * c - b * s).powi(2)
            })
            .sum();
        (a.hypot(b), (residual / middle.len() as f64).sqrt())
    }

    fn rms(samples: &[f32]) -> f64 {
        let sum: f64 = samples.iter().map(|&s| f64::from(s).powi(2)).sum();
        (sum / samples.len().max(1) as f64).sqrt()
    }

    #[test]
    fn a_1khz_tone_at_44_1_and_48_khz_comes_out_at_1khz_with_its_amplitude() {
        for rate in [44_100, 48_000] {
            let out = resample(&tone(1000.0, rate, 1.0, 0.5), rate, 16_000);

            assert_eq!(out.len(), 16_000, "{rate} Hz");
            let (amplitude, residual) = fit(&out, 16_000, 1000.0);
            assert!(
                (amplitude - 0.5).abs() < 0.0005,
                "{rate} Hz: amplitude {amplitude}"
            );
            // Anything that is not the 1 kHz tone (aliases, distortion) is 100 dB down.
            assert!(residual < 0.5 * 1e-5, "{rate} Hz: residual {residual}");
            let crossings = out[1..].windows(2).filter(|w| (w[0] < 0.0) != (w[1] < 0.0));
            assert!((1998..=2001).contains(&crossings.count()), "{rate} Hz");
        }
    }

    #[test]
    fn tones_above_8_khz_are_removed_rather_than_folded_into_the_speech_band() {
        for (rate, hertz) in [(48_000, 9_000.0), (48_000, 12_000.0), (48_000, 20_000.0)] {
            let out = resample(&tone(hertz, rate, 1.0, 0.5), rate, 16_000);
            let skip = out.len() / 10;

            // What is left, relative to the tone: 80 dB down or more.
            let left = rms(&out[skip..out.len() - skip]) / (0.5 / 2f64.sqrt());
            assert!(left < 1e-4, "{hertz} Hz at {rate}: {left}");
        }
        let out = resample(&tone(9_500.0, 44_100, 1.0, 0.5), 44_100, 16_000);
        let skip = out.len() / 10;
        assert!(
            rms(&out[skip..out.len() - skip]) < 0.5 * 1e-4,
            "9.5 kHz at 44.1 kHz"
        );
    }

    #[test]
    fn the_speech_band_passes_flat_up_to_6_khz() {
        for rate in [44_100, 48_000] {
            for hertz in [100.0, 3_000.0, 6_000.0] {
                let out = resample(&tone(hertz, rate, 1.0, 0.5), rate, 16_000);

                let (amplitude, _) = fit(&out, 16_000, hertz);
                let db = 20.0 * (amplitude / 0.5).log10();
                assert!(db.abs() < 0.01, "{hertz} Hz at {rate}: {db} dB");
            }
        }
    }

    #[test]
    fn eight_khz_audio_is_upsampled_without_an_image_above_4_khz() {
        let out = resample(&tone(1000.0, 8_000, 1.0, 0.5), 8_000, 16_000);

        assert_eq!(out.len(), 16_000);
        let (amplitude, residual) = fit(&out, 16_000, 1000.0);
        assert!((amplitude - 0.5).abs() < 0.0005, "amplitude {amplitude}");
        assert!(residual < 0.5 * 1e-5, "residual {residual}");
        // Naive upsampling leaves a mirror image of the tone at 8 - 1 = 7 kHz.
        let (image, _) = fit(&out, 16_000, 7000.0);
        assert!(image < 0.5 * 1e-5, "image {image}");
    }

    #[test]
    fn an_impulse_comes_out_at_the_same_instant() {
        let mut input = vec![0.0; 44_100];
        input[22_050] = 1.0;

        let out = resample(&input, 44_100, 16_000);

        let peak = out
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(at, _)| at);
        assert_eq!(peak, Some(8_000));
    }

    #[test]
    fn the_output_length_follows_the_ratio_for_any_rate() {
        for rate in [8_000, 11_025, 22_050, 32_000, 44_056, 96_000, 192_000] {
            for len in [0, 1, 7, 1000, 12_345] {
                let out = resample(&vec![0.1; len], rate, 16_000);

                let expected = (len as u64 * 16_000).div_ceil(u64::from(rate));
                assert_eq!(out.len() as u64, expected, "{len} samples at {rate} Hz");
            }
        }
    }

    #[test]
    fn feeding_the_input_in_pieces_gives_the_same_samples_as_one_pass() {
        let input = tone(440.0, 44_100, 0.7, 0.8);
        let whole = resample(&input, 44_100, 16_000);

        let mut resampler = Resampler::new(44_100, 16_000);
        let mut pieces = Vec::new();
        let mut rest = &input[..];
        for size in [1, 2, 1000, 3, 17_000, 4096].iter().cycle() {
            let (piece, tail) = rest.split_at((*size).min(rest.len()));
            resampler.push(piece, &mut pieces);
            rest = tail;
            if rest.is_empty() {
                break;
            }
        }
        resampler.finish(&mut pieces);

        assert_eq!(pieces, whole);
    }

    #[test]
    fn a_constant_stays_constant_and_equal_rates_copy() {
        let out = resample(&vec![0.25; 48_000], 48_000, 16_000);
        assert!(out[100..15_900].iter().all(|&s| (s - 0.25).abs() < 1e-5));

        assert_eq!(resample(&[0.1, 0.2], 16_000, 16_000), vec![0.1, 0.2]);
        assert!(resample(&[0.1, 0.2], 0, 16_000).is_empty());
    }
}
