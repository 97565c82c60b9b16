//! Splitting long audio into windows Whisper can take one at a time, cut at pauses.
//!
//! Whisper reads at most 30 s at once. A cut in the middle of a word loses that word in
//! both windows, so each window ends at the quietest moment of its last third (20 to 30 s
//! for Whisper's limit): the middle of the longest stretch whose short-time energy is at
//! its lowest. When nothing in that stretch is clearly quieter than the rest (music, a
//! noisy room, continuous speech), the window is cut hard at the limit instead.

use std::ops::Range;

use super::SAMPLE_RATE;

/// Energy is measured over frames of 10 ms.
const FRAME: usize = SAMPLE_RATE as usize / 100;

/// Each frame's energy is averaged with this many frames on either side (110 ms in all),
/// so that a gap between two syllables does not pass for a pause.
const SMOOTHING: usize = 5;

/// Cuts are looked for in the last third of a window.
const SEARCH_FROM: f64 = 2.0 / 3.0;

/// A stretch counts as a pause when it is 10 dB quieter than the median of the search
/// region, or quieter than -60 dBFS whatever the rest (mean squares).
const PAUSE_RATIO: f64 = 0.1;
const SILENCE: f64 = 1e-6;

/// A stretch of `samples` to transcribe as one Whisper window (≤ 30 s).
///
/// `start` and `end` are sample offsets at [`SAMPLE_RATE`]: the window is
/// `samples[start..end]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// The first sample of the window.
    pub start: usize,
    /// One past the last sample of the window.
    pub end: usize,
}

impl Window {
    /// When the window starts, in seconds from the start of the audio.
    pub fn start_seconds(&self) -> f64 {
        super::seconds(self.start)
    }

    /// When the window ends, in seconds from the start of the audio.
    pub fn end_seconds(&self) -> f64 {
        super::seconds(self.end)
    }

    /// The window's samples as a range, to index the audio with.
    pub fn range(&self) -> Range<usize> {
        self.start..self.end
    }

    /// How many samples the window holds.
    pub fn len(&self) -> usize {
        self.end.saturating_sub(self.start)
    }

    /// True for a window without samples; [`split_on_silence`] never returns one.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Splits 16 kHz `samples` into windows of at most `max_window_seconds`, cut at pauses.
///
/// The windows cover the samples completely, in order and without overlap. Audio no longer
/// than the limit is one window; no samples give no window. A limit under 10 ms (or NaN)
/// is raised to 10 ms.
pub fn split_on_silence(samples: &[f32], max_window_seconds: f64) -> Vec<Window> {
    // Saturating cast: an infinite limit is one window, NaN becomes 0 and is raised.
    let max = ((max_window_seconds * f64::from(SAMPLE_RATE)) as usize).max(FRAME);
    if samples.is_empty() {
        return Vec::new();
    }
    if samples.len() <= max {
        return vec![Window {
            start: 0,
            end: samples.len(),
        }];
    }

    let energy = smoothed_energy(samples);
    let mut windows = Vec::with_capacity(samples.len() / max + 1);
    let mut start = 0;
    while samples.len() - start > max {
        let end = cut(&energy, start, max);
        windows.push(Window { start, end });
        start = end;
    }
    windows.push(Window {
        start,
        end: samples.len(),
    });
    windows
}

/// The mean square of each frame, averaged over its neighbours.
fn smoothed_energy(samples: &[f32]) -> Vec<f64> {
    let frames: Vec<f64> = samples
        .chunks(FRAME)
        .map(|frame| {
            let sum: f64 = frame.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
            sum / frame.len() as f64
        })
        .collect();
    let mut prefix = Vec::with_capacity(frames.len() + 1);
    prefix.push(0.0);
    for energy in &frames {
        prefix.push(prefix.last().copied().unwrap_or(0.0) + energy);
    }
    (0..frames.len())
        .map(|f| {
            let from = f.saturating_sub(SMOOTHING);
            let to = (f + SMOOTHING + 1).min(frames.len());
            (prefix[to] - prefix[from]) / (to - from) as f64
        })
        .collect()
}

/// Where the window starting at `start` ends: at a pause in its last third when there is
/// one, otherwise at `start + max`.
fn cut(energy: &[f64], start: usize, max: usize) -> usize {
    let limit = start + max;
    let earliest = start + (max as f64 * SEARCH_FROM) as usize;
    // A cut falls at the middle of a frame; these frames have their middle in range.
    let first = earliest.div_ceil(FRAME);
    let last = (limit.saturating_sub(FRAME / 2) / FRAME).min(energy.len().saturating_sub(1));
    let Some(region) = energy.get(first..=last).filter(|r| !r.is_empty()) else {
        return limit;
    };

    let quietest = region.iter().copied().fold(f64::INFINITY, f64::min);
    let mut sorted = region.to_vec();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    if quietest > SILENCE && quietest > PAUSE_RATIO * median {
        return limit;
    }

    // The longest run of frames near the quietest level is the pause; the later one wins a
    // tie, for a longer window.
    let threshold = quietest * 2.0 + 1e-12;
    let (mut best, mut run_start) = ((0, 0), None);
    for (i, &e) in region.iter().chain([&f64::INFINITY]).enumerate() {
        match (e <= threshold, run_start) {
            (true, None) => run_start = Some(i),
            (false, Some(from)) => {
                if i - from >= best.1 - best.0 {
                    best = (from, i);
                }
                run_start = None;
            }
            _ => {}
        }
    }
    let middle_frame = first + (best.0 + best.1 - 1) / 2;
    (middle_frame * FRAME + FRAME / 2).clamp(start + 1, limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: usize = SAMPLE_RATE as usize;

    /// A deterministic noise source (xorshift), for signals without a pattern.
    struct Noise(u64);

    impl Noise {
        fn next(&mut self) -> f32 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        }

        fn below(&mut self, n: usize) -> usize {
            ((self.next() + 1.0) / 2.0 * n as f32) as usize % n.max(1)
        }
    }

    /// Loud babble with quiet gaps at the given (start, end) seconds.
    fn speech_with_pauses(seconds: f64, pauses: &[(f64, f64)]) -> Vec<f32> {
        let mut noise = Noise(7);
        (0..(seconds * RATE as f64) as usize)
            .map(|n| {
                let t = n as f64 / RATE as f64;
                let quiet = pauses.iter().any(|&(from, to)| (from..to).contains(&t));
                // Syllables: the loudness swings four times a second, never to silence.
                let envelope = 0.3 + 0.25 * (t * 4.0 * std::f64::consts::TAU).sin();
                let level = if quiet { 0.001 } else { envelope as f32 };
                level * noise.next()
            })
            .collect()
    }

    #[test]
    fn audio_within_the_limit_is_one_window_and_no_audio_is_none() {
        let windows = split_on_silence(&vec![0.1; 10 * RATE], 30.0);
        assert_eq!(windows.len(), 1);
        assert_eq!(windows[0].range(), 0..10 * RATE);
        assert_eq!(windows[0].end_seconds(), 10.0);

        assert!(split_on_silence(&[], 30.0).is_empty());
    }

    #[test]
    fn long_audio_is_cut_inside_its_pauses() {
        let pauses = [
            (12.0, 12.5),
            (24.0, 24.4),
            (27.5, 27.7),
            (50.0, 50.6),
            (71.0, 71.3),
        ];
        let samples = speech_with_pauses(90.0, &pauses);

        let windows = split_on_silence(&samples, 30.0);

        let cuts: Vec<f64> = windows[1..].iter().map(Window::start_seconds).collect();
        // 12 s is too early for the first window, and 24.4 s beats 27.7 s by length.
        assert_eq!(cuts.len(), 3, "{cuts:?}");
        for (cut, (from, to)) in cuts.iter().zip([pauses[1], pauses[3], pauses[4]]) {
            assert!(
                (from..to).contains(cut),
                "cut at {cut} s, pause {from}..{to}"
            );
        }
    }

    #[test]
    fn continuous_noise_is_cut_hard_at_the_limit() {
        let mut noise = Noise(3);
        let samples: Vec<f32> = (0..75 * RATE).map(|_| 0.5 * noise.next()).collect();

        let windows = split_on_silence(&samples, 30.0);

        let lengths: Vec<usize> = windows.iter().map(Window::len).collect();
        assert_eq!(lengths, vec![30 * RATE, 30 * RATE, 15 * RATE]);
    }

    #[test]
    fn digital_silence_in_the_search_region_is_cut_in_its_middle() {
        let mut samples = speech_with_pauses(40.0, &[]);
        samples[22 * RATE..26 * RATE]
            .iter_mut()
            .for_each(|s| *s = 0.0);

        let windows = split_on_silence(&samples, 30.0);

        assert_eq!(windows.len(), 2);
        assert!((windows[0].end_seconds() - 24.0).abs() < 0.1, "{windows:?}");
    }

    #[test]
    fn windows_always_tile_the_audio_within_the_limit() {
        let mut noise = Noise(11);
        for case in 0..100 {
            // Stretches of babble and of quiet, of random lengths, at a random limit.
            let len = noise.below(100 * RATE);
            let mut samples = Vec::with_capacity(len);
            while samples.len() < len {
                let stretch = noise.below(8 * RATE) + 1;
                let level = [0.0, 0.001, 0.2, 0.9][noise.below(4)];
                samples.extend((0..stretch.min(len - samples.len())).map(|_| level * noise.next()));
            }
            let max_seconds = [30.0, 1.0, 0.004, 29.97, 200.0, f64::NAN][case % 6];

            let windows = split_on_silence(&samples, max_seconds);

            let max = ((max_seconds * RATE as f64) as usize).max(FRAME);
            let mut expected_start = 0;
            for window in &windows {
                assert_eq!(window.start, expected_start, "case {case}");
                assert!(
                    !window.is_empty() && window.len() <= max,
                    "case {case}: {window:?}"
                );
                expected_start = window.end;
            }
            assert_eq!(expected_start, samples.len(), "case {case}");
        }
    }
}
