//! Matrix-vector products over quantised GGUF weights: where local generation spends its
//! time.
//!
//! Each weight matrix is repacked at load into tiles of eight rows by one block of 32
//! columns ([`q4`], [`q6`], [`q8`]), laid out in the order the kernels read them, so one product
//! is one sequential pass over memory. The activations are quantised once per product to
//! int8 blocks ([`Activations`]) and meet the weights in integer multiply-adds: the eight
//! rows of a tile sit in the eight 32-bit lanes of an AVX2 register, so their block scales
//! apply with one vector multiply and no horizontal sums are needed. During prompt
//! processing every tile, once loaded, serves all the prompt's tokens.
//!
//! Each format also has a scalar kernel that adds the same terms in the same order; builds
//! without AVX2 run it, and the tests hold the vector kernels to it bit for bit.

mod activations;
pub(crate) mod dense;
mod kquants;
pub(crate) mod q4;
pub(crate) mod q6;
pub(crate) mod q8;
pub(crate) mod scales;

use std::ops::Range;

use rayon::prelude::*;

pub(crate) use self::activations::{ActRow, Activations};
use self::dense::DenseMatrix;
use self::q4::Q4Matrix;
use self::q6::Q6Matrix;
use self::q8::Q8Matrix;
use self::scales::{F16Scales, F32Scales};

/// Columns per quantisation block, in every GGUF format the kernels read.
pub(crate) const BLOCK: usize = 32;

/// Rows per tile: one per 32-bit lane of an AVX2 register.
pub(crate) const GROUP: usize = 8;

/// A weight matrix of `rows` outputs by `cols` inputs, in the layout its kernel reads.
#[derive(Debug)]
pub(crate) enum Matrix {
    /// 4-bit weights with a scale and a minimum per block (GGUF Q4_1 and Q4_0).
    Q4(Q4Matrix<F16Scales>),
    /// The same with f32 scales and minimums (GGUF Q4_K).
    Q4K(Q4Matrix<F32Scales>),
    /// 6-bit weights with a scale per 16 columns (GGUF Q6_K).
    Q6(Q6Matrix),
    /// 8-bit weights with a scale per block (GGUF Q8_0, and formats requantised to it).
    Q8(Q8Matrix),
    /// Plain floats (GGUF F32 and F16).
    Dense(DenseMatrix),
}

impl Matrix {
    /// The number of outputs.
    pub(crate) fn rows(&self) -> usize {
        match self {
            Self::Q4(m) => m.rows(),
            Self::Q4K(m) => m.rows(),
            Self::Q6(m) => m.rows(),
            Self::Q8(m) => m.rows(),
            Self::Dense(m) => m.rows(),
        }
    }

    /// The number of inputs.
    pub(crate) fn cols(&self) -> usize {
        match self {
            Self::Q4(m) => m.cols(),
            Self::Q4K(m) => m.cols(),
            Self::Q6(m) => m.cols(),
            Self::Q8(m) => m.cols(),
            Self::Dense(m) => m.cols(),
        }
    }

    /// Writes row `row`, dequantised, into `out` (`cols` long): an embedding lookup.
    pub(crate) fn row(&self, row: usize, out: &mut [f32]) {
        match self {
            Self::Q4(m) => m.row(row, out),
            Self::Q4K(m) => m.row(row, out),
            Self::Q6(m) => m.row(row, out),
            Self::Q8(m) => m.row(row, out),
            Self::Dense(m) => m.row(row, out),
        }
    }

    /// The same matrix dequantised to floats: the exact arithmetic tests compare with.
    #[cfg(test)]
    pub(crate) fn dequantized(&self) -> Self {
        let (rows, cols) = (self.rows(), self.cols());
        let mut values = vec![0.0; rows * cols];
        for (r, row) in values.chunks_exact_mut(cols).enumerate() {
            self.row(r, row);
        }
        Self::Dense(DenseMatrix::new(values, rows, cols))
    }

    /// Multiplies the matrix by each token's input: `x` holds the tokens' inputs one after
    /// another and `acts` the same inputs quantised, and the products go to `out`.
    ///
    /// The rows are split over the threads of the current rayon pool.
    pub(crate) fn matmul(&self, x: &[f32], acts: &Activations, mut out: Output<'_>) {
        debug_assert_eq!(x.len(), acts.tokens * self.cols());
        let groups = self.rows().div_ceil(GROUP);
        let threads = rayon::current_num_threads().min(groups / 4).max(1);
        if threads == 1 {
            self.compute(x, acts, 0..groups, &mut out);
            return;
        }
        let per_thread = groups.div_ceil(threads);
        let range = |i: usize| i * per_thread..((i + 1) * per_thread).min(groups);
        if acts.tokens == 1 {
            // One token's outputs are contiguous: each thread writes its part in place.
            let accumulate = out.accumulate;
            let rows = self.rows();
            out.data[..rows]
                .par_chunks_mut(per_thread * GROUP)
                .enumerate()
                .for_each(|(i, data)| {
                    let stride = data.len();
                    let mut part = Output {
                        data,
                        stride,
                        accumulate,
                    };
                    self.compute(x, acts, range(i), &mut part);
                });
            return;
        }
        let ranges: Vec<Range<usize>> = (0..groups.div_ceil(per_thread)).map(range).collect();
        // Each thread fills its own rows for every token into a buffer of its own, as the
        // rows of one thread are not contiguous in `out` once there are several tokens.
        let parts: Vec<Vec<f32>> = ranges
            .par_iter()
            .map(|range| {
                let width = (range.end * GROUP).min(self.rows()) - range.start * GROUP;
                let mut part = vec![0.0; acts.tokens * width];
                let mut local = Output::new(&mut part, width);
                self.compute(x, acts, range.clone(), &mut local);
                part
            })
            .collect();
        for (range, part) in ranges.iter().zip(&parts) {
            let first = range.start * GROUP;
            let width = part.len() / acts.tokens;
            for (t, values) in part.chunks_exact(width).enumerate() {
                out.put(t, first, values);
            }
        }
    }

    /// Computes the row groups `groups` for every token; `out`'s row 0 is the first row
    /// of `groups`.
    fn compute(&self, x: &[f32], acts: &Activations, groups: Range<usize>, out: &mut Output<'_>) {
        match self {
            Self::Q4(m) => m.compute(acts, groups, out),
            Self::Q4K(m) => m.compute(acts, groups, out),
            Self::Q6(m) => m.compute(acts, groups, out),
            Self::Q8(m) => m.compute(acts, groups, out),
            Self::Dense(m) => m.compute(x, acts.tokens, groups, out),
        }
    }
}

/// Where a product goes: output `r` of token `t` is `data[t * stride + r]`, written or,
/// for a residual connection, added.
#[derive(Debug)]
pub(crate) struct Output<'a> {
    data: &'a mut [f32],
    stride: usize,
    accumulate: bool,
}

impl<'a> Output<'a> {
    /// Products overwrite `data`.
    pub(crate) fn new(data: &'a mut [f32], stride: usize) -> Self {
        Self {
            data,
            stride,
            accumulate: false,
        }
    }

    /// Products are added to what `data` holds.
    pub(crate) fn adding(data: &'a mut [f32], stride: usize) -> Self {
        Self {
            data,
            stride,
            accumulate: true,
        }
    }

    /// Stores `values` as outputs `first..` of token `token`.
    fn put(&mut self, token: usize, first: usize, values: &[f32]) {
        let to = &mut self.data[token * self.stride + first..][..values.len()];
        if self.accumulate {
            for (o, v) in to.iter_mut().zip(values) {
                *o += v;
            }
        } else {
            to.copy_from_slice(values);
        }
    }
}

/// A kernel that computes one tile: eight rows for up to four tokens at once (more would
/// not keep their accumulators in registers).
pub(crate) trait TileKernel {
    /// The eight outputs of row group `group` for each of the `T` tokens of `acts`.
    fn tile<const T: usize>(&self, group: usize, acts: &[ActRow<'_>; T]) -> [[f32; GROUP]; T];
}

/// Runs `kernel` over the row groups `groups` and every token of `acts`, storing row `r`
/// of the matrix (`rows` in all) as output `r - groups.start * 8`. The last group of a
/// matrix may be partly padding, which is not stored.
pub(crate) fn run_tiles<K: TileKernel>(
    kernel: &K,
    acts: &Activations,
    groups: Range<usize>,
    rows: usize,
    out: &mut Output<'_>,
) {
    for g in groups.clone() {
        let first = (g - groups.start) * GROUP;
        let valid = (rows - g * GROUP).min(GROUP);
        let mut t = 0;
        // The group's weights stay in L1 while every token passes over them.
        while t < acts.tokens {
            t += match acts.tokens - t {
                1 => store(out, t, first, valid, &kernel.tile(g, &acts.rows::<1>(t))),
                2 => store(out, t, first, valid, &kernel.tile(g, &acts.rows::<2>(t))),
                3 => store(out, t, first, valid, &kernel.tile(g, &acts.rows::<3>(t))),
                _ => store(out, t, first, valid, &kernel.tile(g, &acts.rows::<4>(t))),
            };
        }
    }
}

fn store<const T: usize>(
    out: &mut Output<'_>,
    token: usize,
    first: usize,
    valid: usize,
    values: &[[f32; GROUP]; T],
) -> usize {
    for (i, v) in values.iter().enumerate() {
        out.put(token + i, first, &v[..valid]);
    }
    T
}

/// Reads the little-endian 32-bit word `k` of a block: four consecutive int8 values,
/// which the kernels broadcast to all eight lanes.
#[cfg(target_feature = "avx2")]
#[inline(always)]
pub(crate) fn word(block: &[i8; BLOCK], k: usize) -> i32 {
    let b = &block[4 * k..4 * k + 4];
    i32::from_le_bytes([b[0] as u8, b[1] as u8, b[2] as u8, b[3] as u8])
}

/// Reads the f16 at `bytes[0..2]` as f32.
pub(crate) fn f16_at(bytes: &[u8]) -> f32 {
    half::f16::from_le_bytes([bytes[0], bytes[1]]).to_f32()
}

#[cfg(test)]
pub(crate) mod testing {
    //! Random inputs for the kernel tests, reproducible from a seed.

    /// A xorshift generator: enough randomness for test inputs, and no dependency.
    #[derive(Debug)]
    pub(crate) struct Rng(u64);

    impl Rng {
        pub(crate) fn new(seed: u64) -> Self {
            Self(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
        }

        pub(crate) fn next_u32(&mut self) -> u32 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 >> 32) as u32
        }

        pub(crate) fn byte(&mut self) -> u8 {
            self.next_u32() as u8
        }

        /// Uniform in `-1..1`.
        pub(crate) fn unit(&mut self) -> f32 {
            (self.next_u32() >> 8) as f32 / (1 << 23) as f32 - 1.0
        }

        /// A GGUF f16 scale of magnitude up to about `max`.
        pub(crate) fn f16_bytes(&mut self, max: f32) -> [u8; 2] {
            half::f16::from_f32(self.unit() * max).to_le_bytes()
        }
    }

    /// `tokens × cols` activations with a few large values, as real hidden states have.
    pub(crate) fn activations(rng: &mut Rng, tokens: usize, cols: usize) -> Vec<f32> {
        (0..tokens * cols)
            .map(|i| {
                let v = rng.unit();
                if i % 97 == 5 { v * 40.0 } else { v }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{Rng, activations};
    use super::*;

    #[test]
    fn split_products_land_where_a_single_thread_puts_them() {
        let mut rng = Rng::new(2);
        let (rows, cols) = (200, 64);
        let values: Vec<f32> = (0..rows * cols).map(|_| rng.unit()).collect();
        let matrix = Matrix::Dense(DenseMatrix::new(values, rows, cols));
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .expect("a pool");
        // One token takes the in-place path, several the one with buffers per thread.
        for tokens in [1, 3] {
            let x = activations(&mut rng, tokens, cols);
            let mut acts = Activations::default();
            acts.quantize(&x, cols);
            let mut one = vec![0.0; tokens * rows];
            let all = 0..rows.div_ceil(GROUP);
            matrix.compute(&x, &acts, all, &mut Output::new(&mut one, rows));
            let mut split = vec![1.0; tokens * rows];
            pool.install(|| matrix.matmul(&x, &acts, Output::adding(&mut split, rows)));
            for (s, o) in split.iter().zip(&one) {
                assert_eq!(*s, o + 1.0);
            }
        }
    }
}
