//! Float weights (GGUF F32, and F16 widened at load): small models store their output head
//! or embeddings this way. No quantisation of the inputs, so no loss beyond f32 rounding.
//!
//! The dot product keeps eight partial sums in an array, a shape LLVM turns into vector
//! fused multiply-adds on its own; these matrices are rare enough not to need more.

use std::ops::Range;

use super::{GROUP, Output};

/// A row-major matrix of f32.
#[derive(Debug)]
pub(crate) struct DenseMatrix {
    rows: usize,
    cols: usize,
    values: Vec<f32>,
}

impl DenseMatrix {
    /// Wraps row-major `values` of `rows × cols`.
    pub(crate) fn new(values: Vec<f32>, rows: usize, cols: usize) -> Self {
        assert_eq!(values.len(), rows * cols);
        Self { rows, cols, values }
    }

    /// The number of outputs.
    pub(crate) fn rows(&self) -> usize {
        self.rows
    }

    /// The number of inputs.
    pub(crate) fn cols(&self) -> usize {
        self.cols
    }

    /// Copies row `row` into `out`.
    pub(crate) fn row(&self, row: usize, out: &mut [f32]) {
        out.copy_from_slice(&self.values[row * self.cols..][..self.cols]);
    }

    /// Computes the rows of `groups` (eight rows each) for the `tokens` inputs in `x`.
    pub(crate) fn compute(
        &self,
        x: &[f32],
        tokens: usize,
        groups: Range<usize>,
        out: &mut Output<'_>,
    ) {
        let first = groups.start * GROUP;
        let rows = first..(groups.end * GROUP).min(self.rows);
        for r in rows {
            let weights = &self.values[r * self.cols..][..self.cols];
            for t in 0..tokens {
                let value = dot(weights, &x[t * self.cols..][..self.cols]);
                out.put(t, r - first, &[value]);
            }
        }
    }
}

/// `Σ a·b`: eight lanes of partial sums over the slices' whole chunks of eight, added
/// pairwise (lanes `i` and `i + 4`, then `i` and `i + 2`, then the last two), plus the
/// products of the tail. Both versions below add in exactly this order.
#[inline]
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let (a8, a_tail) = a.as_chunks::<8>();
    let (b8, b_tail) = b.as_chunks::<8>();
    let tail: f32 = a_tail.iter().zip(b_tail).map(|(x, y)| x * y).sum();
    lanes::dot(a8, b8) + tail
}

#[cfg(target_feature = "avx2")]
mod lanes {
    use safe_arch::{
        add_m128, cast_to_m128_from_m256, extract_m128_from_m256, fused_mul_add_m256,
        load_unaligned_m256, m256, zeroed_m256,
    };

    /// [`super::dot`] over whole chunks of eight.
    #[inline(always)]
    pub(super) fn dot(a: &[[f32; 8]], b: &[[f32; 8]]) -> f32 {
        let mut acc = zeroed_m256();
        for (x, y) in a.iter().zip(b) {
            acc = fused_mul_add_m256(load_unaligned_m256(x), load_unaligned_m256(y), acc);
        }
        sum(acc)
    }

    /// The eight lanes added pairwise, as the scalar version does.
    #[inline(always)]
    fn sum(v: m256) -> f32 {
        let quads = add_m128(cast_to_m128_from_m256(v), extract_m128_from_m256::<1>(v));
        let q = quads.to_array();
        (q[0] + q[2]) + (q[1] + q[3])
    }
}

#[cfg(any(test, not(target_feature = "avx2")))]
mod scalar {
    /// The AVX2 version lane by lane.
    pub(super) fn dot(a: &[[f32; 8]], b: &[[f32; 8]]) -> f32 {
        let mut lanes = [0.0f32; 8];
        for (x, y) in a.iter().zip(b) {
            for i in 0..8 {
                lanes[i] = x[i].mul_add(y[i], lanes[i]);
            }
        }
        let quads: [f32; 4] = std::array::from_fn(|i| lanes[i] + lanes[i + 4]);
        (quads[0] + quads[2]) + (quads[1] + quads[3])
    }
}

#[cfg(not(target_feature = "avx2"))]
use self::scalar as lanes;

#[cfg(test)]
mod tests {
    use super::super::testing::{Rng, activations};
    use super::super::{Activations, Matrix};
    use super::*;

    #[test]
    fn the_vector_dot_product_matches_the_scalar_one_bit_for_bit() {
        let mut rng = Rng::new(12);
        let a: Vec<f32> = (0..72).map(|_| rng.unit()).collect();
        let b: Vec<f32> = (0..72).map(|_| rng.unit() * 30.0).collect();
        let (a8, _) = a.as_chunks::<8>();
        let (b8, _) = b.as_chunks::<8>();
        assert_eq!(lanes::dot(a8, b8).to_bits(), scalar::dot(a8, b8).to_bits());
    }

    #[test]
    fn products_agree_with_a_double_precision_sum() {
        let mut rng = Rng::new(11);
        let (rows, cols, tokens) = (13, 75, 2);
        let values: Vec<f32> = (0..rows * cols).map(|_| rng.unit()).collect();
        let matrix = Matrix::Dense(DenseMatrix::new(values.clone(), rows, cols));
        let x = activations(&mut rng, tokens, cols);
        let mut acts = Activations::default();
        acts.quantize(&x, cols);
        let mut out = vec![0.0; tokens * rows];
        matrix.matmul(&x, &acts, Output::new(&mut out, rows));
        for r in 0..rows {
            for t in 0..tokens {
                let expected: f64 = (0..cols)
                    .map(|c| f64::from(values[r * cols + c]) * f64::from(x[t * cols + c]))
                    .sum();
                let got = f64::from(out[t * rows + r]);
                assert!((got - expected).abs() < 1e-4 * expected.abs().max(1.0));
            }
        }
    }
}
