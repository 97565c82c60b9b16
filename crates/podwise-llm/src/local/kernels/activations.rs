//! The inputs of a matrix product quantised per block of 32 to int8, once per product,
//! for the integer kernels: what llama.cpp calls Q8_1 (a scale and a scaled sum per
//! block), kept in f32.

use super::BLOCK;

/// One token's quantised input: per block of 32 values, the int8 values, their scale and
/// `scale × Σ values` (what a weight format with a minimum needs).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ActRow<'a> {
    pub(crate) quants: &'a [[i8; BLOCK]],
    pub(crate) scales: &'a [f32],
    pub(crate) sums: &'a [f32],
}

/// The inputs of a product, quantised per block of 32 to int8 with scale `max |x| / 127`.
///
/// The buffers grow to the largest product and are reused, so decoding allocates nothing.
#[derive(Debug, Default)]
pub(crate) struct Activations {
    pub(super) tokens: usize,
    blocks: usize,
    quants: Vec<[i8; BLOCK]>,
    scales: Vec<f32>,
    sums: Vec<f32>,
}

impl Activations {
    /// Quantises `x`, which holds `x.len() / cols` tokens' inputs of `cols` values.
    /// Widths that are not whole blocks only meet dense matrices and are not quantised.
    pub(crate) fn quantize(&mut self, x: &[f32], cols: usize) {
        debug_assert_eq!(x.len() % cols, 0);
        self.tokens = x.len() / cols;
        if !cols.is_multiple_of(BLOCK) {
            self.blocks = 0;
            return;
        }
        self.blocks = cols / BLOCK;
        let n = x.len() / BLOCK;
        self.quants.resize(n, [0; BLOCK]);
        self.scales.resize(n, 0.0);
        self.sums.resize(n, 0.0);
        for (i, values) in x.as_chunks::<BLOCK>().0.iter().enumerate() {
            let (scale, sum) = quantize_block(values, &mut self.quants[i]);
            self.scales[i] = scale;
            self.sums[i] = scale * sum as f32;
        }
    }

    /// The blocks of tokens `t..t + T`.
    pub(super) fn rows<const T: usize>(&self, t: usize) -> [ActRow<'_>; T] {
        std::array::from_fn(|i| self.row(t + i))
    }

    /// Token `t`'s blocks.
    pub(crate) fn row(&self, t: usize) -> ActRow<'_> {
        let blocks = t * self.blocks..(t + 1) * self.blocks;
        ActRow {
            quants: &self.quants[blocks.clone()],
            scales: &self.scales[blocks.clone()],
            sums: &self.sums[blocks],
        }
    }
}

/// Quantises one block to `-127..=127` and returns its scale and the sum of its quantised
/// values. Never -128, so the Q8 kernel may negate a value: `|v| × 127 / max |v|` rounds to
/// at most 127.
#[inline]
fn quantize_block(values: &[f32; BLOCK], out: &mut [i8; BLOCK]) -> (f32, i32) {
    let amax = lanes::max_abs(values);
    let scale = amax / 127.0;
    let inverse = if scale > 0.0 { 127.0 / amax } else { 0.0 };
    (scale, lanes::scaled_to_i8(values, inverse, out))
}

#[cfg(target_feature = "avx2")]
mod lanes {
    use safe_arch::{
        add_i32_m256i, bitandnot_m256, cast_to_m128_from_m256, convert_to_i32_m256i_from_m256,
        extract_m128_from_m256, load_unaligned_m256, m256, m256i, max_m128, max_m256, mul_m256,
        pack_i16_to_i8_m256i, pack_i32_to_i16_m256i, set_i32_m256i, set_splat_m256,
        shuffle_av_i32_all_m256i, store_unaligned_m256i,
    };

    use super::BLOCK;

    fn load(values: &[f32; BLOCK]) -> [m256; 4] {
        let (chunks, _) = values.as_chunks::<8>();
        std::array::from_fn(|i| load_unaligned_m256(&chunks[i]))
    }

    /// The largest magnitude in `values`.
    #[inline(always)]
    pub(super) fn max_abs(values: &[f32; BLOCK]) -> f32 {
        let sign = set_splat_m256(-0.0);
        let [a, b, c, d] = load(values).map(|v| bitandnot_m256(sign, v));
        let m = max_m256(max_m256(a, b), max_m256(c, d));
        let m = max_m128(cast_to_m128_from_m256(m), extract_m128_from_m256::<1>(m)).to_array();
        m[0].max(m[1]).max(m[2].max(m[3]))
    }

    /// Rounds `values × inverse` to the nearest integer, ties to even (the conversion's
    /// default mode, which the scalar version's `round_ties_even` matches), into `out`.
    #[inline(always)]
    pub(super) fn scaled_to_i8(values: &[f32; BLOCK], inverse: f32, out: &mut [i8; BLOCK]) -> i32 {
        let inverse = set_splat_m256(inverse);
        let [a, b, c, d]: [m256i; 4] =
            load(values).map(|v| convert_to_i32_m256i_from_m256(mul_m256(v, inverse)));
        let total: [i32; 8] = add_i32_m256i(add_i32_m256i(a, b), add_i32_m256i(c, d)).into();
        // Packing works within 128-bit lanes; the shuffle puts the four-byte groups back
        // in order.
        let packed = pack_i16_to_i8_m256i(pack_i32_to_i16_m256i(a, b), pack_i32_to_i16_m256i(c, d));
        let order = set_i32_m256i(7, 3, 6, 2, 5, 1, 4, 0);
        store_unaligned_m256i(out, shuffle_av_i32_all_m256i(packed, order));
        total.iter().sum()
    }
}

#[cfg(any(test, not(target_feature = "avx2")))]
mod scalar {
    use super::BLOCK;

    /// The AVX2 version one value at a time.
    pub(super) fn max_abs(values: &[f32; BLOCK]) -> f32 {
        values.iter().fold(0.0f32, |m, v| m.max(v.abs()))
    }

    /// The AVX2 version one value at a time; the clamp never acts (see `quantize_block`).
    pub(super) fn scaled_to_i8(values: &[f32; BLOCK], inverse: f32, out: &mut [i8; BLOCK]) -> i32 {
        let mut sum = 0;
        for (q, &v) in out.iter_mut().zip(values) {
            *q = (v * inverse).round_ties_even().clamp(-127.0, 127.0) as i8;
            sum += i32::from(*q);
        }
        sum
    }
}

#[cfg(not(target_feature = "avx2"))]
use self::scalar as lanes;

#[cfg(test)]
mod tests {
    use super::super::testing::{Rng, activations};
    use super::*;

    #[test]
    fn quantised_activations_round_trip_within_half_a_step() {
        let mut rng = Rng::new(1);
        let x = activations(&mut rng, 3, 96);
        let mut acts = Activations::default();
        acts.quantize(&x, 96);
        assert_eq!(acts.tokens, 3);
        for t in 0..3 {
            let row = acts.row(t);
            for b in 0..3 {
                let sum: i32 = row.quants[b].iter().map(|&q| i32::from(q)).sum();
                assert_eq!(row.sums[b], row.scales[b] * sum as f32);
                for (j, &q) in row.quants[b].iter().enumerate() {
                    assert!(q > -128);
                    let v = x[t * 96 + b * BLOCK + j];
                    assert!((f32::from(q) * row.scales[b] - v).abs() <= row.scales[b] * 0.5001);
                }
            }
        }
    }

    #[test]
    fn a_block_of_zeros_quantises_to_zero_with_zero_scale() {
        let mut acts = Activations::default();
        acts.quantize(&[0.0; BLOCK], BLOCK);
        let row = acts.row(0);
        assert_eq!(
            (row.quants[0], row.scales[0], row.sums[0]),
            ([0; BLOCK], 0.0, 0.0)
        );
    }

    #[test]
    fn the_vector_quantiser_matches_the_scalar_one_exactly() {
        let mut rng = Rng::new(13);
        let x = activations(&mut rng, 40, BLOCK);
        for values in x.as_chunks::<BLOCK>().0 {
            let (mut vector, mut scalar) = ([0; BLOCK], [0; BLOCK]);
            let inverse = 127.0 / scalar::max_abs(values);
            assert_eq!(lanes::max_abs(values), scalar::max_abs(values));
            assert_eq!(
                lanes::scaled_to_i8(values, inverse, &mut vector),
                scalar::scaled_to_i8(values, inverse, &mut scalar)
            );
            assert_eq!(vector, scalar);
        }
    }
}
