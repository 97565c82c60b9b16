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

    pub(crate) fn rows(&self) -> usize {
        self.rows
    }

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

/// `Σ a·b` in eight interleaved partial sums.
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let (a8, b8) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = a8
        .remainder()
        .iter()
        .zip(b8.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (a, b) in a8.zip(b8) {
        for i in 0..8 {
            lanes[i] = a[i].mul_add(b[i], lanes[i]);
        }
    }
    lanes.iter().sum::<f32>() + tail
}

#[cfg(test)]
mod tests {
    use super::super::testing::{Rng, activations};
    use super::super::{Activations, Matrix};
    use super::*;

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
