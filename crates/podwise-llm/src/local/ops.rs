//! The elementwise steps of a Llama-family layer: RMS normalisation, rotary position
//! embedding, the SwiGLU activation and softmax, on f32 rows.
//!
//! Each follows candle's definition operation for operation where that fixes the result
//! (the rotary angles in particular are computed in f32 exactly as candle does), so the
//! forward pass differs from candle's mainly where the matrix products round differently.
//! The exception is `exp`, which libm computes one value per call: [`exp`] here is a
//! polynomial LLVM vectorises, within two units in the last place of libm's.

/// How rotary embedding pairs the dimensions of a head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RopeStyle {
    /// Dimensions `2i` and `2i + 1` rotate together: the layout of llama GGUF files, whose
    /// converter permutes the query and key weights into it.
    Interleaved,
    /// Dimensions `i` and `i + d/2` rotate together (GPT-NeoX, Qwen2).
    Halves,
}

/// The rotation of every position: the frequency of each dimension pair.
#[derive(Debug, Clone)]
pub(crate) struct Rope {
    style: RopeStyle,
    frequencies: Vec<f32>,
}

impl Rope {
    /// Rotary embedding for heads of `head_dim` dimensions with base `base`.
    pub(crate) fn new(style: RopeStyle, head_dim: usize, base: f32) -> Self {
        let frequencies = (0..head_dim)
            .step_by(2)
            .map(|i| 1.0 / base.powf(i as f32 / head_dim as f32))
            .collect();
        Self { style, frequencies }
    }

    /// Writes the cosines and sines of `position`'s angles (`head_dim / 2` each).
    pub(crate) fn angles(&self, position: usize, cos: &mut [f32], sin: &mut [f32]) {
        let p = position as f32;
        for ((f, c), s) in self.frequencies.iter().zip(cos).zip(sin) {
            let angle = p * f;
            *c = angle.cos();
            *s = angle.sin();
        }
    }

    /// Rotates every head in `heads` (consecutive, `2 × cos.len()` wide) in place.
    pub(crate) fn apply(&self, heads: &mut [f32], cos: &[f32], sin: &[f32]) {
        let half = cos.len();
        for head in heads.chunks_exact_mut(2 * half) {
            match self.style {
                RopeStyle::Interleaved => {
                    for (pair, (c, s)) in head.chunks_exact_mut(2).zip(cos.iter().zip(sin)) {
                        let (x0, x1) = (pair[0], pair[1]);
                        pair[0] = x0 * c - x1 * s;
                        pair[1] = x0 * s + x1 * c;
                    }
                }
                RopeStyle::Halves => {
                    let (first, second) = head.split_at_mut(half);
                    for ((a, b), (c, s)) in first.iter_mut().zip(second).zip(cos.iter().zip(sin)) {
                        let (x0, x1) = (*a, *b);
                        *a = x0 * c - x1 * s;
                        *b = x0 * s + x1 * c;
                    }
                }
            }
        }
    }
}

/// `out = x / rms(x) × weight` for each row of `weight.len()` values.
pub(crate) fn rms_norm(x: &[f32], weight: &[f32], eps: f32, out: &mut [f32]) {
    let dim = weight.len();
    for (x, out) in x.chunks_exact(dim).zip(out.chunks_exact_mut(dim)) {
        let mut lanes = [0.0f32; 8];
        let x8 = x.chunks_exact(8);
        let tail: f32 = x8.remainder().iter().map(|v| v * v).sum();
        for v in x8 {
            for i in 0..8 {
                lanes[i] = v[i].mul_add(v[i], lanes[i]);
            }
        }
        let mean = (lanes.iter().sum::<f32>() + tail) / dim as f32;
        let scale = 1.0 / (mean + eps).sqrt();
        for ((o, v), w) in out.iter_mut().zip(x).zip(weight) {
            *o = v * scale * w;
        }
    }
}

/// `out = silu(gate) × up` for each token: `gate_up` holds, per token, `ffn` gate values
/// followed by `ffn` up values, and `out` gets `ffn` values per token.
pub(crate) fn swiglu(gate_up: &[f32], ffn: usize, out: &mut [f32]) {
    for (row, out) in gate_up.chunks_exact(2 * ffn).zip(out.chunks_exact_mut(ffn)) {
        let (gate, up) = row.split_at(ffn);
        for ((o, &g), &u) in out.iter_mut().zip(gate).zip(up) {
            *o = g / (1.0 + exp(-g)) * u;
        }
    }
}

/// `e^x` for `x` in `-87..=88` (clamped to it outside), to about one part in 10^7, in
/// operations that LLVM vectorises when the call is inlined into a loop over a slice.
#[inline(always)]
pub(crate) fn exp(x: f32) -> f32 {
    // Adding 1.5 × 2^23 rounds x / ln 2 to the integer n in the low mantissa bits.
    const SHIFTER: f32 = 12_582_912.0;
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    let x = x.clamp(-87.0, 88.0);
    let shifted = x.mul_add(std::f32::consts::LOG2_E, SHIFTER);
    let n = shifted - SHIFTER;
    // e^x = 2^n × e^r with |r| <= ln 2 / 2, r taken in two steps to keep its low bits.
    let r = n.mul_add(-LN2_LO, n.mul_add(-LN2_HI, x));
    // Taylor to degree 7: the first term dropped is below 10^-8 of the result.
    let mut p: f32 = 1.0 / 5040.0;
    for c in [
        1.0 / 720.0,
        1.0 / 120.0,
        1.0 / 24.0,
        1.0 / 6.0,
        0.5,
        1.0,
        1.0,
    ] {
        p = p.mul_add(r, c);
    }
    let exponent = (shifted.to_bits() as i32 - SHIFTER.to_bits() as i32 + 127) << 23;
    p * f32::from_bits(exponent as u32)
}

/// Turns `scores` into probabilities in place.
pub(crate) fn softmax(scores: &mut [f32]) {
    let max = scores.iter().fold(f32::NEG_INFINITY, |m, &s| m.max(s));
    let mut sum = 0.0;
    for s in scores.iter_mut() {
        *s = exp(*s - max);
        sum += *s;
    }
    let inverse = 1.0 / sum;
    for s in scores.iter_mut() {
        *s *= inverse;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_rotary_layouts_rotate_the_same_pairs_by_the_same_angles() {
        let (head_dim, position) = (8, 5);
        let interleaved = Rope::new(RopeStyle::Interleaved, head_dim, 10_000.0);
        let halves = Rope::new(RopeStyle::Halves, head_dim, 10_000.0);
        let (mut cos, mut sin) = ([0.0; 4], [0.0; 4]);
        interleaved.angles(position, &mut cos, &mut sin);
        let x: Vec<f32> = (0..head_dim).map(|i| i as f32 - 3.5).collect();
        // Pair i is (2i, 2i + 1) in one layout and (i, i + 4) in the other.
        let mut a = x.clone();
        interleaved.apply(&mut a, &cos, &sin);
        let mut b: Vec<f32> = (0..head_dim).map(|i| x[2 * (i % 4) + i / 4]).collect();
        halves.apply(&mut b, &cos, &sin);
        for i in 0..4 {
            assert_eq!((a[2 * i], a[2 * i + 1]), (b[i], b[i + 4]));
        }
    }

    #[test]
    fn position_zero_is_not_rotated() {
        let rope = Rope::new(RopeStyle::Interleaved, 4, 10_000.0);
        let (mut cos, mut sin) = ([0.0; 2], [0.0; 2]);
        rope.angles(0, &mut cos, &mut sin);
        let mut x = [1.0, -2.0, 3.0, 0.5];
        rope.apply(&mut x, &cos, &sin);
        assert_eq!(x, [1.0, -2.0, 3.0, 0.5]);
    }

    #[test]
    fn rms_norm_scales_each_row_to_unit_root_mean_square() {
        let x = [3.0, 4.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0];
        let mut out = [0.0; 8];
        rms_norm(&x, &[1.0, 1.0, 2.0, 1.0], 0.0, &mut out);
        assert_eq!(out[..2], [1.2, 1.6]);
        assert_eq!(out[4..], [1.0, 1.0, 2.0, 1.0]);
    }

    #[test]
    fn swiglu_gates_each_up_value_by_the_silu_of_its_gate() {
        let gate_up = [0.0, 2.0, 5.0, -1.0];
        let mut out = [0.0; 2];
        swiglu(&gate_up, 2, &mut out);
        let silu = |x: f32| x / (1.0 + (-x).exp());
        assert_eq!(out, [0.0, -silu(2.0)]);
    }

    #[test]
    fn exp_is_within_two_ulps_of_libm_over_its_range() {
        let mut worst = 0.0f32;
        for i in 0..=1_750_000 {
            let x = -87.0 + i as f32 * 1e-4;
            let (ours, libm) = (exp(x), x.exp());
            worst = worst.max((ours - libm).abs() / libm);
        }
        assert!(worst < 2.0 * f32::EPSILON, "relative error {worst}");
        assert_eq!(exp(0.0), 1.0);
        assert!(exp(-1000.0) < 1e-37 && exp(1000.0) > 1e38);
    }

    #[test]
    fn softmax_sums_to_one_and_keeps_the_order() {
        let mut s = [1.0, 3.0, 2.0, -50.0];
        softmax(&mut s);
        assert!((s.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(s[1] > s[2] && s[2] > s[0] && s[0] > s[3]);
    }
}
