//! 8-bit weights with a scale per block of 32: GGUF's Q8_0, which SmolLM2 uses for its
//! embedding and tied output head, and the form Q5_0 and Q5_1 are requantised to.
//!
//! A tile holds eight rows by one block in eight 32-byte chunks; chunk `k` gives each
//! row's lane its columns `4k..4k+4`, to meet those four activations broadcast to every
//! lane. `maddubs` wants one unsigned operand, so it multiplies `|w|` by the activation
//! with `w`'s sign applied; the activations stop at ±127, so the sign flip cannot
//! overflow and a pair of products stays within 2 × 128 × 127, short of saturating. The
//! scales stay in f16, as in the file ([`super::scales`]).

use std::ops::Range;

use super::scales::{F16Scales, Scales};
use super::{ActRow, Activations, BLOCK, GROUP, Output, TileKernel, f16_at, run_tiles};

/// Eight rows by one block of 32 columns.
#[derive(Debug, Clone, Copy)]
#[repr(C, align(32))]
pub(crate) struct Q8Tile {
    /// Chunk `k`, bytes `4r..4r + 4`: row `r`'s columns `4k..4k + 4`.
    quants: [[i8; 32]; 8],
    scales: F16Scales,
}

const EMPTY: Q8Tile = Q8Tile {
    quants: [[0; 32]; 8],
    scales: F16Scales::ZERO,
};

/// A matrix of [`Q8Tile`]s, row group by row group, each group's blocks in column order.
#[derive(Debug)]
pub(crate) struct Q8Matrix {
    rows: usize,
    cols: usize,
    tiles: Vec<Q8Tile>,
}

impl Q8Matrix {
    /// Repacks a row-major GGUF Q8_0 tensor: per block an f16 scale and 32 int8 values.
    pub(crate) fn from_q8_0(bytes: &[u8], rows: usize, cols: usize) -> Self {
        assert!(cols.is_multiple_of(BLOCK));
        assert_eq!(bytes.len(), rows * cols / BLOCK * 34);
        let mut matrix = Self::empty(rows, cols);
        let nb = cols / BLOCK;
        for (i, block) in bytes.chunks_exact(34).enumerate() {
            let mut quants = [0; BLOCK];
            for (q, &b) in quants.iter_mut().zip(&block[2..]) {
                *q = b as i8;
            }
            matrix.set(i / nb, i % nb, f16_at(&block[0..2]), &quants);
        }
        matrix
    }

    /// Quantises row-major floats to Q8_0 as candle and ggml do (scale `max |x| / 127`
    /// rounded to f16 after the values are divided by it), so that a model stored in a
    /// format without a kernel computes with exactly the weights it had before.
    pub(crate) fn quantize(values: &[f32], rows: usize, cols: usize) -> Self {
        assert!(cols.is_multiple_of(BLOCK));
        assert_eq!(values.len(), rows * cols);
        let mut matrix = Self::empty(rows, cols);
        let nb = cols / BLOCK;
        for (i, block) in values.chunks_exact(BLOCK).enumerate() {
            let amax = block.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            let scale = amax / 127.0;
            let inverse = if scale != 0.0 { 1.0 / scale } else { 0.0 };
            let mut quants = [0; BLOCK];
            for (q, &v) in quants.iter_mut().zip(block) {
                *q = (v * inverse).round() as i8;
            }
            let stored = half::f16::from_f32(scale).to_f32();
            matrix.set(i / nb, i % nb, stored, &quants);
        }
        matrix
    }

    fn empty(rows: usize, cols: usize) -> Self {
        Self {
            rows,
            cols,
            tiles: vec![EMPTY; rows.div_ceil(GROUP) * (cols / BLOCK)],
        }
    }

    fn set(&mut self, row: usize, b: usize, scale: f32, quants: &[i8; BLOCK]) {
        let nb = self.cols / BLOCK;
        let (g, lane) = (row / GROUP, row % GROUP);
        let tile = &mut self.tiles[g * nb + b];
        tile.scales.set(lane, scale);
        for k in 0..8 {
            tile.quants[k][4 * lane..4 * lane + 4].copy_from_slice(&quants[4 * k..4 * k + 4]);
        }
    }

    /// The number of outputs.
    pub(crate) fn rows(&self) -> usize {
        self.rows
    }

    /// The number of inputs.
    pub(crate) fn cols(&self) -> usize {
        self.cols
    }

    /// Writes row `row` dequantised into `out`.
    pub(crate) fn row(&self, row: usize, out: &mut [f32]) {
        let nb = self.cols / BLOCK;
        let (g, lane) = (row / GROUP, row % GROUP);
        for (b, out) in out.chunks_exact_mut(BLOCK).enumerate() {
            let tile = &self.tiles[g * nb + b];
            for k in 0..8 {
                for i in 0..4 {
                    out[4 * k + i] =
                        f32::from(tile.quants[k][4 * lane + i]) * tile.scales.get(lane);
                }
            }
        }
    }

    /// Computes row groups `groups` for every token of `acts` into `out`.
    pub(crate) fn compute(&self, acts: &Activations, groups: Range<usize>, out: &mut Output<'_>) {
        run_tiles(self, acts, groups, self.rows, out);
    }

    /// The tiles of row group `g`; none past the last group.
    fn group(&self, g: usize) -> &[Q8Tile] {
        let nb = self.cols / BLOCK;
        self.tiles.get(g * nb..(g + 1) * nb).unwrap_or_default()
    }
}

impl TileKernel for Q8Matrix {
    #[inline]
    fn tile<const T: usize>(&self, group: usize, acts: &[ActRow<'_>; T]) -> [[f32; GROUP]; T] {
        kernel::tile(self.group(group), self.group(group + 1), acts)
    }
}

#[cfg(target_feature = "avx2")]
use self::avx2 as kernel;
#[cfg(not(target_feature = "avx2"))]
use self::scalar as kernel;

#[cfg(target_feature = "avx2")]
mod avx2 {
    use safe_arch::{
        abs_i8_m256i, add_i32_m256i, convert_to_m256_from_i32_m256i, fused_mul_add_m256,
        load_unaligned_m256i, m256, m256i, mul_i16_horizontal_add_m256i, mul_m256,
        mul_u8i8_add_horizontal_saturating_m256i, set_splat_i16_m256i, set_splat_i32_m256i,
        set_splat_m256, sign_apply_i8_m256i, zeroed_m256, zeroed_m256i,
    };

    use super::super::scales::Scales;
    use super::super::{ActRow, GROUP, word};
    use super::Q8Tile;

    /// The tile kernel: see the module documentation for the lane layout. While it works
    /// on block `b` it asks for block `b` of the `next` group, as the Q4 kernel does.
    #[inline(always)]
    pub(super) fn tile<const T: usize>(
        tiles: &[Q8Tile],
        next: &[Q8Tile],
        acts: &[ActRow<'_>; T],
    ) -> [[f32; GROUP]; T] {
        // Two loops rather than a test per block: the last group has nothing to prefetch.
        if next.len() == tiles.len() {
            blocks::<T, true>(tiles, next, acts)
        } else {
            blocks::<T, false>(tiles, tiles, acts)
        }
    }

    #[inline(always)]
    fn blocks<const T: usize, const PREFETCH: bool>(
        tiles: &[Q8Tile],
        next: &[Q8Tile],
        acts: &[ActRow<'_>; T],
    ) -> [[f32; GROUP]; T] {
        let next = &next[..tiles.len()];
        let nb = tiles.len();
        let quants: [&[[i8; 32]]; T] = std::array::from_fn(|t| &acts[t].quants[..nb]);
        let scales: [&[f32]; T] = std::array::from_fn(|t| &acts[t].scales[..nb]);
        let ones = set_splat_i16_m256i(1);
        let mut acc: [m256; T] = [zeroed_m256(); T];
        for (b, tile) in tiles.iter().enumerate() {
            if PREFETCH {
                let ahead = &next[b];
                for k in [0, 2, 4, 6] {
                    safe_arch::prefetch_t0(&ahead.quants[k]);
                }
                safe_arch::prefetch_t0(&ahead.scales);
            }
            let mut dots: [m256i; T] = [zeroed_m256i(); T];
            for k in 0..8 {
                let w = load_unaligned_m256i(&tile.quants[k]);
                let magnitude = abs_i8_m256i(w);
                for t in 0..T {
                    let a = set_splat_i32_m256i(word(&quants[t][b], k));
                    let pairs = mul_u8i8_add_horizontal_saturating_m256i(
                        magnitude,
                        sign_apply_i8_m256i(a, w),
                    );
                    dots[t] = add_i32_m256i(dots[t], mul_i16_horizontal_add_m256i(pairs, ones));
                }
            }
            let w_scales = tile.scales.lanes();
            for t in 0..T {
                let scale = mul_m256(w_scales, set_splat_m256(scales[t][b]));
                acc[t] = fused_mul_add_m256(convert_to_m256_from_i32_m256i(dots[t]), scale, acc[t]);
            }
        }
        acc.map(|a| a.to_array())
    }
}

#[cfg(any(test, not(target_feature = "avx2")))]
mod scalar {
    use super::super::scales::Scales;
    use super::super::{ActRow, GROUP};
    use super::Q8Tile;

    /// The tile kernel lane by lane, with the vector kernel's order of float operations.
    pub(super) fn tile<const T: usize>(
        tiles: &[Q8Tile],
        _next: &[Q8Tile],
        acts: &[ActRow<'_>; T],
    ) -> [[f32; GROUP]; T] {
        let mut acc = [[0.0f32; GROUP]; T];
        for (b, tile) in tiles.iter().enumerate() {
            for (t, act) in acts.iter().enumerate() {
                for (r, acc) in acc[t].iter_mut().enumerate() {
                    let mut dot = 0i32;
                    for k in 0..8 {
                        for i in 0..4 {
                            let w = i32::from(tile.quants[k][4 * r + i]);
                            dot += w * i32::from(act.quants[b][4 * k + i]);
                        }
                    }
                    *acc = (dot as f32).mul_add(tile.scales.get(r) * act.scales[b], *acc);
                }
            }
        }
        acc
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{Rng, activations};
    use super::super::{Activations, Matrix};
    use super::*;

    fn random_q8_0(rng: &mut Rng, rows: usize, cols: usize) -> Vec<u8> {
        let mut bytes = Vec::new();
        for i in 0..rows * cols / BLOCK {
            bytes.extend(rng.f16_bytes(0.02));
            // Some blocks hold -128, which ggml never writes but a file may.
            bytes.extend((0..32).map(|j| if (i + j) % 61 == 0 { 0x80 } else { rng.byte() }));
        }
        bytes
    }

    #[test]
    fn repacked_rows_dequantise_to_the_gguf_values() {
        let mut rng = Rng::new(7);
        let (rows, cols) = (11, 64);
        let bytes = random_q8_0(&mut rng, rows, cols);
        let matrix = Q8Matrix::from_q8_0(&bytes, rows, cols);
        let mut row = vec![0.0; cols];
        for r in 0..rows {
            matrix.row(r, &mut row);
            for (c, &v) in row.iter().enumerate() {
                let block = &bytes[(r * 2 + c / BLOCK) * 34..][..34];
                assert_eq!(
                    v,
                    f32::from(block[2 + c % BLOCK] as i8) * f16_at(&block[0..2])
                );
            }
        }
    }

    #[test]
    fn quantising_reproduces_what_candle_stores() {
        let mut rng = Rng::new(8);
        let (rows, cols) = (3, 64);
        let values = activations(&mut rng, rows, cols);
        let matrix = Q8Matrix::quantize(&values, rows, cols);
        let tensor =
            candle_core::Tensor::from_slice(&values, (rows, cols), &candle_core::Device::Cpu)
                .expect("a tensor");
        let quantized = candle_core::quantized::QTensor::quantize(
            &tensor,
            candle_core::quantized::GgmlDType::Q8_0,
        )
        .expect("candle quantises");
        let candle_values: Vec<f32> = quantized
            .dequantize(&candle_core::Device::Cpu)
            .and_then(|t| t.flatten_all())
            .and_then(|t| t.to_vec1())
            .expect("candle dequantises");
        let mut row = vec![0.0; cols];
        for r in 0..rows {
            matrix.row(r, &mut row);
            assert_eq!(row, candle_values[r * cols..(r + 1) * cols]);
        }
    }

    #[test]
    fn the_kernel_matches_the_scalar_kernel_bit_for_bit() {
        let mut rng = Rng::new(9);
        let (rows, cols) = (16, 576);
        let matrix = Q8Matrix::from_q8_0(&random_q8_0(&mut rng, rows, cols), rows, cols);
        let x = activations(&mut rng, 3, cols);
        let mut acts = Activations::default();
        acts.quantize(&x, cols);
        for g in 0..2 {
            let tiles = matrix.group(g);
            let next = matrix.group(g + 1);
            let one = kernel::tile(tiles, next, &[acts.row(1)]);
            assert_eq!(one, scalar::tile(tiles, next, &[acts.row(1)]));
            let three: [ActRow<'_>; 3] = std::array::from_fn(|t| acts.row(t));
            let vector = kernel::tile(tiles, next, &three);
            assert_eq!(vector, scalar::tile(tiles, next, &three));
            assert_eq!(vector[1], one[0]);
        }
    }

    #[test]
    fn products_agree_with_dequantised_weights_times_quantised_inputs() {
        let mut rng = Rng::new(10);
        let (rows, cols, tokens) = (19, 96, 5);
        let matrix = Matrix::Q8(Q8Matrix::from_q8_0(
            &random_q8_0(&mut rng, rows, cols),
            rows,
            cols,
        ));
        let x = activations(&mut rng, tokens, cols);
        let mut acts = Activations::default();
        acts.quantize(&x, cols);
        let mut out = vec![0.0; tokens * rows];
        matrix.matmul(&x, &acts, Output::new(&mut out, rows));
        let mut w = vec![0.0; cols];
        for r in 0..rows {
            matrix.row(r, &mut w);
            for t in 0..tokens {
                let act = acts.row(t);
                let expected: f64 = (0..cols)
                    .map(|c| {
                        let a = f32::from(act.quants[c / BLOCK][c % BLOCK]) * act.scales[c / BLOCK];
                        f64::from(w[c]) * f64::from(a)
                    })
                    .sum();
                let got = f64::from(out[t * rows + r]);
                assert!(
                    (got - expected).abs() < 1e-4 * expected.abs().max(1.0),
                    "{got} vs {expected}"
                );
            }
        }
    }
}
