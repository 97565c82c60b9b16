//! The log-mel spectrogram Whisper reads: 25 ms Hann windows every 10 ms over a 30 s window
//! of 16 kHz audio, 80 (or 128) mel bands of the power spectrum, then Whisper's own
//! normalisation (log10, a floor 8 below the loudest value, then `(x + 4) / 4`).
//!
//! The filters are the Slaney-style mel filterbank librosa builds (and Whisper ships as
//! `mel_filters.npz`), computed here rather than read from a file. The 400-point transform
//! is a small mixed-radix FFT that runs two real frames through one complex transform.

use std::f64::consts::PI;

/// Samples per second Whisper expects.
pub(crate) const SAMPLE_RATE: usize = 16_000;
/// Samples in one window: 30 s.
pub(crate) const WINDOW_SAMPLES: usize = 30 * SAMPLE_RATE;
/// FFT length: 25 ms.
const N_FFT: usize = 400;
/// Samples between frames: 10 ms.
pub(crate) const HOP: usize = 160;
/// Spectrogram frames in one window.
pub(crate) const FRAMES: usize = WINDOW_SAMPLES / HOP;
/// Frequency bins of a real transform of N_FFT samples.
const BINS: usize = N_FFT / 2 + 1;

#[derive(Debug, Clone, Copy, Default)]
struct Complex {
    re: f32,
    im: f32,
}

impl Complex {
    fn mul(self, o: Self) -> Self {
        Self {
            re: self.re * o.re - self.im * o.im,
            im: self.re * o.im + self.im * o.re,
        }
    }

    fn add(self, o: Self) -> Self {
        Self {
            re: self.re + o.re,
            im: self.im + o.im,
        }
    }
}

/// A complex FFT of one fixed length whose prime factors are all small.
#[derive(Debug)]
struct Fft {
    n: usize,
    /// `exp(-2 pi i k / n)` for k in 0..n.
    twiddles: Vec<Complex>,
}

/// Largest radix the butterfly's stack buffer holds.
const MAX_RADIX: usize = 8;

impl Fft {
    fn new(n: usize) -> Self {
        let twiddles = (0..n)
            .map(|k| {
                let angle = -2.0 * PI * k as f64 / n as f64;
                Complex {
                    re: angle.cos() as f32,
                    im: angle.sin() as f32,
                }
            })
            .collect();
        Self { n, twiddles }
    }

    /// Transforms `input` into `out` (both of length n).
    fn run(&self, input: &[Complex], out: &mut [Complex]) {
        self.step(input, 1, out);
    }

    /// Decimation in time: `out` receives the transform of `input[0], input[stride], ...`.
    fn step(&self, input: &[Complex], stride: usize, out: &mut [Complex]) {
        let n = out.len();
        if n == 1 {
            out[0] = input[0];
            return;
        }
        let radix = (2..=MAX_RADIX).find(|&r| n.is_multiple_of(r)).unwrap_or(n);
        let m = n / radix;
        for r in 0..radix {
            self.step(
                &input[r * stride..],
                stride * radix,
                &mut out[r * m..(r + 1) * m],
            );
        }
        // Twiddles of this level are every (N / n)-th of the table.
        let step = self.n / n;
        let mut column = [Complex::default(); MAX_RADIX];
        let dft = |column: &mut [Complex], k: usize, out: &mut [Complex]| {
            for (r, c) in column.iter_mut().enumerate() {
                *c = out[r * m + k];
            }
            for q in 0..radix {
                let mut sum = column[0];
                for (r, &c) in column.iter().enumerate().skip(1) {
                    let power = (r * (k + q * m)) % n;
                    sum = sum.add(c.mul(self.twiddles[power * step]));
                }
                out[q * m + k] = sum;
            }
        };
        if radix <= MAX_RADIX {
            for k in 0..m {
                dft(&mut column[..radix], k, out);
            }
        } else {
            // A large prime factor: a plain DFT over a heap buffer (not reached for 400).
            let mut column = vec![Complex::default(); radix];
            for k in 0..m {
                dft(&mut column, k, out);
            }
        }
    }
}

/// Slaney's mel scale: linear below 1 kHz, logarithmic above.
fn hz_to_mel(hz: f64) -> f64 {
    let (f_sp, min_log_hz, min_log_mel, log_step) = slaney();
    if hz < min_log_hz {
        hz / f_sp
    } else {
        min_log_mel + (hz / min_log_hz).ln() / log_step
    }
}

fn mel_to_hz(mel: f64) -> f64 {
    let (f_sp, min_log_hz, min_log_mel, log_step) = slaney();
    if mel < min_log_mel {
        mel * f_sp
    } else {
        min_log_hz * (log_step * (mel - min_log_mel)).exp()
    }
}

fn slaney() -> (f64, f64, f64, f64) {
    let f_sp = 200.0 / 3.0;
    let min_log_hz = 1000.0;
    (f_sp, min_log_hz, min_log_hz / f_sp, 6.4f64.ln() / 27.0)
}

/// One triangular filter: its first non-zero bin and its weights from there.
#[derive(Debug, Clone, PartialEq)]
struct Filter {
    first: usize,
    weights: Vec<f32>,
}

/// The area-normalised triangular filters over 0..8 kHz, as librosa's
/// `mel(sr=16000, n_fft=400, n_mels, htk=False, norm="slaney")`.
fn filterbank(n_mels: usize) -> Vec<Filter> {
    let nyquist = SAMPLE_RATE as f64 / 2.0;
    let top = hz_to_mel(nyquist);
    let edges: Vec<f64> = (0..n_mels + 2)
        .map(|i| mel_to_hz(top * i as f64 / (n_mels + 1) as f64))
        .collect();
    (0..n_mels)
        .map(|m| {
            let (low, centre, high) = (edges[m], edges[m + 1], edges[m + 2]);
            let norm = 2.0 / (high - low);
            let weight = |bin: usize| {
                let hz = bin as f64 * nyquist / (BINS - 1) as f64;
                let rising = (hz - low) / (centre - low);
                let falling = (high - hz) / (high - centre);
                (rising.min(falling).max(0.0) * norm) as f32
            };
            let first = (0..BINS).find(|&b| weight(b) > 0.0).unwrap_or(0);
            let last = (0..BINS).rev().find(|&b| weight(b) > 0.0).unwrap_or(first);
            Filter {
                first,
                weights: (first..=last).map(weight).collect(),
            }
        })
        .collect()
}

/// The same filters as a dense `n_mels` x 201 row-major matrix (one row per band, one
/// column per FFT bin), the layout other Whisper runtimes store in their model files.
#[cfg(feature = "whisper-cpp-reference")]
pub(crate) fn filter_matrix(n_mels: usize) -> (usize, Vec<f32>) {
    let mut dense = vec![0f32; n_mels * BINS];
    for (m, filter) in filterbank(n_mels).iter().enumerate() {
        let row = &mut dense[m * BINS + filter.first..][..filter.weights.len()];
        row.copy_from_slice(&filter.weights);
    }
    (BINS, dense)
}

/// Computes Whisper's input from audio; built once per model, reused for every window.
#[derive(Debug)]
pub(crate) struct MelSpectrogram {
    n_mels: usize,
    fft: Fft,
    window: Vec<f32>,
    filters: Vec<Filter>,
}

impl MelSpectrogram {
    pub(crate) fn new(n_mels: usize) -> Self {
        // A periodic Hann window, as torch.hann_window(400) gives.
        let window = (0..N_FFT)
            .map(|i| (0.5 - 0.5 * (2.0 * PI * i as f64 / N_FFT as f64).cos()) as f32)
            .collect();
        Self {
            n_mels,
            fft: Fft::new(N_FFT),
            window,
            filters: filterbank(n_mels),
        }
    }

    pub(crate) fn n_mels(&self) -> usize {
        self.n_mels
    }

    /// The normalised log-mel spectrogram of up to 30 s of audio (zero-padded to 30 s),
    /// `n_mels` rows of [`FRAMES`] values, row-major.
    pub(crate) fn compute(&self, samples: &[f32]) -> Vec<f32> {
        let padded = reflect_padded(samples);
        let mut mel = vec![0f32; self.n_mels * FRAMES];
        let mut input = vec![Complex::default(); N_FFT];
        let mut spectrum = vec![Complex::default(); N_FFT];
        let mut power = [vec![0f32; BINS], vec![0f32; BINS]];
        for pair in (0..FRAMES).step_by(2) {
            // Frame `pair` rides in the real part, frame `pair + 1` in the imaginary part.
            for (i, c) in input.iter_mut().enumerate() {
                let w = self.window[i];
                let at = pair * HOP + i;
                c.re = padded[at] * w;
                c.im = padded.get(at + HOP).map_or(0.0, |x| x * w);
            }
            self.fft.run(&input, &mut spectrum);
            for k in 0..BINS {
                let z = spectrum[k];
                let zc = spectrum[(N_FFT - k) % N_FFT];
                let (a_re, a_im) = ((z.re + zc.re) * 0.5, (z.im - zc.im) * 0.5);
                let (b_re, b_im) = ((z.im + zc.im) * 0.5, (zc.re - z.re) * 0.5);
                power[0][k] = a_re * a_re + a_im * a_im;
                power[1][k] = b_re * b_re + b_im * b_im;
            }
            for (offset, power) in power.iter().enumerate() {
                let frame = pair + offset;
                if frame >= FRAMES {
                    break;
                }
                for (m, filter) in self.filters.iter().enumerate() {
                    let bins = &power[filter.first..filter.first + filter.weights.len()];
                    let energy: f32 = bins.iter().zip(&filter.weights).map(|(p, w)| p * w).sum();
                    mel[m * FRAMES + frame] = energy;
                }
            }
        }
        normalise(&mut mel);
        mel
    }
}

/// The window zero-padded to 30 s, then mirrored by half an FFT at both ends so the first
/// and last frames are centred on the first and last samples (torch.stft's `center=True`).
fn reflect_padded(samples: &[f32]) -> Vec<f32> {
    let half = N_FFT / 2;
    let len = samples.len().min(WINDOW_SAMPLES);
    let mut audio = samples[..len].to_vec();
    audio.resize(WINDOW_SAMPLES, 0.0);
    let mut padded = Vec::with_capacity(WINDOW_SAMPLES + N_FFT);
    padded.extend((1..=half).rev().map(|i| audio[i]));
    padded.extend_from_slice(&audio);
    padded.extend((1..=half).map(|i| audio[WINDOW_SAMPLES - 1 - i]));
    padded
}

/// Whisper's scaling: log10 with a floor, clamped to 8 (80 dB) below the peak, then
/// shifted and scaled to roughly -1..1.
fn normalise(mel: &mut [f32]) {
    let mut peak = f32::MIN;
    for v in mel.iter_mut() {
        *v = v.max(1e-10).log10();
        peak = peak.max(*v);
    }
    let floor = peak - 8.0;
    for v in mel.iter_mut() {
        *v = (v.max(floor) + 4.0) / 4.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fft_matches_a_direct_dft() {
        let n = N_FFT;
        let input: Vec<Complex> = (0..n)
            .map(|i| Complex {
                re: ((i * 7) % 13) as f32 - 6.0,
                im: ((i * 3) % 5) as f32 - 2.0,
            })
            .collect();
        let mut out = vec![Complex::default(); n];
        Fft::new(n).run(&input, &mut out);
        for k in [0, 1, 7, 199, 200, 333, 399] {
            let (mut re, mut im) = (0f64, 0f64);
            for (j, x) in input.iter().enumerate() {
                let a = -2.0 * PI * (j * k % n) as f64 / n as f64;
                re += f64::from(x.re) * a.cos() - f64::from(x.im) * a.sin();
                im += f64::from(x.re) * a.sin() + f64::from(x.im) * a.cos();
            }
            assert!((f64::from(out[k].re) - re).abs() < 1e-2, "bin {k}: {re}");
            assert!((f64::from(out[k].im) - im).abs() < 1e-2, "bin {k}: {im}");
        }
    }

    /// Reference values from librosa's algorithm (`ramps` and `fdiff` over
    /// `mel_frequencies`), evaluated separately in Python when this test was written.
    #[test]
    fn the_filterbank_matches_librosas_slaney_filters() {
        let filters = filterbank(80);
        let at = |m: usize, bin: usize| {
            let f = &filters[m];
            bin.checked_sub(f.first)
                .and_then(|i| f.weights.get(i))
                .copied()
                .unwrap_or(0.0)
        };
        // The lowest filter spans 0..74.5 Hz: only bin 1 (40 Hz) falls inside.
        assert_eq!(filters[0].first, 1);
        assert_eq!(filters[0].weights.len(), 1);
        assert!((at(0, 1) - 0.024_862_594).abs() < 1e-7, "{}", at(0, 1));
        let middle = [(42, 0.005_411_105), (43, 0.014_735_566), (44, 0.006_518_19)];
        for (bin, weight) in middle {
            assert!(
                (at(40, bin) - weight).abs() < 1e-7,
                "bin {bin}: {}",
                at(40, bin)
            );
        }
        assert_eq!(filters[40].weights.len(), 3);
        // The top filter falls to zero at the Nyquist frequency.
        assert!(
            (at(79, 199) - 0.000_448_759).abs() < 1e-7,
            "{}",
            at(79, 199)
        );
        assert_eq!(at(79, 200), 0.0);
        // Slaney normalisation makes every filter's area (in Hz) about 1.
        for (m, f) in filters.iter().enumerate() {
            let area: f32 = f.weights.iter().sum::<f32>() * 40.0;
            assert!((area - 1.0).abs() < 0.2, "filter {m} has area {area}");
        }
    }

    #[test]
    fn a_pure_tone_is_loudest_in_the_band_around_its_pitch() {
        let mel = MelSpectrogram::new(80);
        let tone: Vec<f32> = (0..SAMPLE_RATE)
            .map(|i| (2.0 * PI * 1000.0 * i as f64 / SAMPLE_RATE as f64).sin() as f32 * 0.5)
            .collect();
        let spectrogram = mel.compute(&tone);
        let frame = 50;
        let loudest = (0..80)
            .max_by(|&a, &b| {
                spectrogram[a * FRAMES + frame].total_cmp(&spectrogram[b * FRAMES + frame])
            })
            .expect("80 bands");
        // 1 kHz is mel 15 of 45.25 on Slaney's scale; band m is centred on mel
        // 45.25 * (m + 1) / 81, so band 26 (centred on 1006 Hz).
        assert_eq!(loudest, 26);
        // Past the tone (after 1 s) the spectrogram sits on its floor of (peak - 8 + 4) / 4.
        let peak = spectrogram.iter().copied().fold(f32::MIN, f32::max);
        let late = spectrogram[26 * FRAMES + 2000];
        assert!(
            (late - (peak - 2.0)).abs() < 1e-5,
            "late {late}, peak {peak}"
        );
    }
}
