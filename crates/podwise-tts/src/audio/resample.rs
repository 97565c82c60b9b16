//! Sample-rate conversion, for callers who ask for a rate other than the voice's own
//! (telephony at 8 kHz, a player that wants 48 kHz).
//!
//! Each output sample is a weighted sum of the input around its instant, weighted by a
//! Lanczos kernel (a sinc tapered by a wider sinc) evaluated at the exact distance. Going
//! down in rate, the kernel is widened so that it also low-passes below the new Nyquist
//! frequency, and what would alias is removed instead of folded back. Synthesised speech
//! is short and made once per request, so direct evaluation is fast enough (a few
//! milliseconds per second of audio) and needs no tables.

use std::f64::consts::PI;

/// Lobes of the kernel on each side: wider is sharper in frequency and slower.
const LOBES: f64 = 8.0;

/// Where the low-pass sits when the rate goes down, as a fraction of the new Nyquist
/// frequency: a little below it, since the kernel's roll-off is not a wall.
const CUTOFF: f64 = 0.92;

/// `samples` at `from` hertz converted to `to` hertz.
///
/// The output has `ceil(len * to / from)` samples and starts at the same instant. Equal
/// rates copy; a zero rate gives nothing.
pub fn resample(samples: &[f32], from: u32, to: u32) -> Vec<f32> {
    if from == 0 || to == 0 {
        return Vec::new();
    }
    if from == to {
        return samples.to_vec();
    }
    let ratio = f64::from(to) / f64::from(from);
    // Kernel width in input samples per unit of the kernel's argument.
    let scale = if ratio < 1.0 { ratio * CUTOFF } else { 1.0 };
    let reach = LOBES / scale;
    let last = samples.len() as isize - 1;
    let count = (samples.len() as u64 * u64::from(to)).div_ceil(u64::from(from)) as usize;

    (0..count)
        .map(|n| {
            let centre = n as f64 / ratio;
            let low = ((centre - reach).ceil() as isize).max(0);
            let high = ((centre + reach).floor() as isize).min(last);
            let (mut sum, mut weights) = (0.0, 0.0);
            for k in low..=high {
                let weight = lanczos((k as f64 - centre) * scale);
                sum += weight * f64::from(samples[k as usize]);
                weights += weight;
            }
            // Dividing by the weights keeps a constant constant, at the edges too.
            if weights.abs() > 1e-9 {
                (sum / weights) as f32
            } else {
                0.0
            }
        })
        .collect()
}

fn lanczos(x: f64) -> f64 {
    if x.abs() >= LOBES {
        0.0
    } else {
        sinc(x) * sinc(x / LOBES)
    }
}

fn sinc(x: f64) -> f64 {
    if x.abs() < 1e-9 {
        1.0
    } else {
        (PI * x).sin() / (PI * x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(hertz: f64, rate: u32, seconds: f64) -> Vec<f32> {
        let step = 2.0 * PI * hertz / f64::from(rate);
        (0..(seconds * f64::from(rate)) as usize)
            .map(|n| (0.5 * (step * n as f64).sin()) as f32)
            .collect()
    }

    /// RMS of the middle half, away from the edges.
    fn middle_rms(samples: &[f32]) -> f64 {
        let quarter = samples.len() / 4;
        crate::audio::rms(&samples[quarter..samples.len() - quarter])
    }

    #[test]
    fn speech_band_tones_keep_their_level_up_and_down() {
        for (from, to) in [(22_050, 16_000), (22_050, 8_000), (22_050, 48_000)] {
            let out = resample(&tone(1_000.0, from, 0.5), from, to);

            let level = middle_rms(&out) / (0.5 / 2f64.sqrt());
            assert!((level - 1.0).abs() < 0.01, "{from} -> {to}: {level}");
        }
    }

    #[test]
    fn tones_above_the_new_nyquist_frequency_are_removed_not_folded() {
        let out = resample(&tone(10_000.0, 22_050, 0.5), 22_050, 16_000);

        let level = middle_rms(&out) / (0.5 / 2f64.sqrt());
        assert!(level < 0.03, "10 kHz left at {level} of its level");
    }

    #[test]
    fn the_length_follows_the_ratio_and_equal_rates_copy() {
        for len in [0, 1, 99, 22_050] {
            let out = resample(&vec![0.2; len], 22_050, 16_000);
            assert_eq!(out.len() as u64, (len as u64 * 16_000).div_ceil(22_050));
            assert!(out.iter().all(|s| (s - 0.2).abs() < 1e-4));
        }
        assert_eq!(resample(&[0.1, 0.3], 22_050, 22_050), vec![0.1, 0.3]);
        assert!(resample(&[0.1], 0, 16_000).is_empty());
    }
}
