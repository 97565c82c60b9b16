//! Matrices held as 8-bit integers with one f32 scale per block of 32 (the layout of
//! ggml's Q8_0), multiplied by f32 rows on this model's own threads.
//!
//! candle has Q8_0 kernels, but it runs them on a process-wide pool sized from the
//! environment rather than on the threads a model was given: on a busy two-core machine
//! that pool's spinning made decoding three to five times slower. These kernels use the
//! calling rayon pool, and keep the activations in f32 (candle rounds them to 8 bits too).

use rayon::prelude::*;

/// Values per scale.
const BLOCK: usize = 32;
/// Weight rows one rayon task computes, for a single input row.
const ROWS_PER_TASK: usize = 64;

/// A `[rows, cols]` matrix in 8-bit blocks.
#[derive(Debug)]
pub(crate) struct Q8Matrix {
    rows: usize,
    cols: usize,
    quants: Vec<i8>,
    /// `rows * cols / 32` scales, row-major.
    scales: Vec<f32>,
}

impl Q8Matrix {
    /// Quantizes a row-major `[rows, cols]` f32 matrix; `cols` must be a multiple of 32.
    pub(crate) fn quantize(values: &[f32], rows: usize, cols: usize) -> Result<Self, String> {
        if !cols.is_multiple_of(BLOCK) || values.len() != rows * cols {
            return Err(format!(
                "a [{rows}, {cols}] matrix cannot be stored in blocks of {BLOCK}"
            ));
        }
        let mut quants = Vec::with_capacity(values.len());
        let mut scales = Vec::with_capacity(values.len() / BLOCK);
        for block in values.chunks_exact(BLOCK) {
            let peak = block.iter().fold(0f32, |m, v| m.max(v.abs()));
            let scale = peak / 127.0;
            let inverse = if scale > 0.0 { 1.0 / scale } else { 0.0 };
            quants.extend(block.iter().map(|v| (v * inverse).round() as i8));
            scales.push(scale);
        }
        Ok(Self {
            rows,
            cols,
            quants,
            scales,
        })
    }

    pub(crate) fn rows(&self) -> usize {
        self.rows
    }

    pub(crate) fn cols(&self) -> usize {
        self.cols
    }

    /// `x W^T` for `x` holding `n` rows of `cols` values: `n` rows of `rows` values.
    pub(crate) fn forward(&self, x: &[f32], n: usize) -> Vec<f32> {
        let mut out = vec![0f32; n * self.rows];
        if n == 1 {
            // One row (a decoding step): split the weight rows across threads.
            out.par_chunks_mut(ROWS_PER_TASK)
                .enumerate()
                .for_each(|(task, out)| {
                    for (k, o) in out.iter_mut().enumerate() {
                        *o = self.dot(task * ROWS_PER_TASK + k, x);
                    }
                });
        } else {
            // Many rows (a prompt): one input row per task, all weight rows each.
            out.par_chunks_mut(self.rows)
                .zip(x.par_chunks(self.cols))
                .for_each(|(out, x)| {
                    for (r, o) in out.iter_mut().enumerate() {
                        *o = self.dot(r, x);
                    }
                });
        }
        out
    }

    /// Weight row `row` dotted with `x`, in eight lanes so it vectorises.
    #[inline]
    fn dot(&self, row: usize, x: &[f32]) -> f32 {
        let blocks = self.cols / BLOCK;
        let quants = &self.quants[row * self.cols..(row + 1) * self.cols];
        let scales = &self.scales[row * blocks..(row + 1) * blocks];
        let mut total = [0f32; 8];
        for ((q, x), &scale) in quants
            .chunks_exact(BLOCK)
            .zip(x.chunks_exact(BLOCK))
            .zip(scales)
        {
            let mut lanes = [0f32; 8];
            for (q, x) in q.chunks_exact(8).zip(x.chunks_exact(8)) {
                for ((l, &q), &x) in lanes.iter_mut().zip(q).zip(x) {
                    *l += f32::from(q) * x;
                }
            }
            for (t, l) in total.iter_mut().zip(lanes) {
                *t += scale * l;
            }
        }
        total.iter().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matrix(rows: usize, cols: usize) -> Vec<f32> {
        (0..rows * cols)
            .map(|i| ((i * 7919) % 201) as f32 / 100.0 - 1.0)
            .collect()
    }

    fn exact(w: &[f32], x: &[f32], rows: usize, cols: usize) -> Vec<f32> {
        x.chunks(cols)
            .flat_map(|x| (0..rows).map(move |r| (0..cols).map(|c| w[r * cols + c] * x[c]).sum()))
            .collect()
    }

    #[test]
    fn products_match_f32_within_the_rounding_of_eight_bits() {
        let (rows, cols) = (130, 96);
        let w = matrix(rows, cols);
        let q = Q8Matrix::quantize(&w, rows, cols).expect("96 is a multiple of 32");
        for n in [1, 3] {
            let x: Vec<f32> = (0..n * cols).map(|i| (i % 13) as f32 / 6.0 - 1.0).collect();
            let got = q.forward(&x, n);
            let want = exact(&w, &x, rows, cols);
            assert_eq!(got.len(), n * rows);
            for (g, w) in got.iter().zip(&want) {
                // Each weight is off by at most half a step of 1/127 of its block's peak.
                assert!((g - w).abs() < 0.05, "{g} vs {w}");
            }
        }
    }

    #[test]
    fn a_width_that_is_not_whole_blocks_is_refused() {
        assert!(Q8Matrix::quantize(&[0.0; 40], 1, 40).is_err());
    }
}
