//! 6-bit weights with a scale per 16 columns: GGUF's Q6_K, which Q4_K_M files use for the
//! output head and some of the value and down projections ([`super::kquants`] decodes
//! it).
//!
//! A tile is laid out as a Q8 tile ([`super::q8`]), eight rows by 32 columns as int8
//! values `q - 32`, with two scales per row: columns 0..16, which the first four chunks
//! hold, and 16..32. The values stay within ±32, so `maddubs` pairs stay within
//! 2 × 32 × 127 and the four chunks of a half sum in 16-bit lanes before one widening.

use std::ops::Range;

use super::kquants::{Q6K_BYTES, decode_q6_k};
use super::scales::{F32Scales, Scales};
use super::{ActRow, Activations, BLOCK, GROUP, Output, TileKernel, run_tiles};

/// Eight rows by one block of 32 columns.
#[derive(Debug, Clone, Copy)]
#[repr(C, align(32))]
pub(crate) struct Q6Tile {
    /// Chunk `k`, bytes `4r..4r + 4`: row `r`'s columns `4k..4k + 4`.
    quants: [[i8; 32]; 8],
    /// The scales of columns 0..16 and of columns 16..32.
    scales: [F32Scales; 2],
}

const EMPTY: Q6Tile = Q6Tile {
    quants: [[0; 32]; 8],
    scales: [F32Scales::ZERO; 2],
};

/// A matrix of [`Q6Tile`]s, row group by row group, each group's blocks in column order.
#[derive(Debug)]
pub(crate) struct Q6Matrix {
    rows: usize,
    cols: usize,
    tiles: Vec<Q6Tile>,
}

impl Q6Matrix {
    /// Repacks a row-major GGUF Q6_K tensor (`cols` a multiple of 256).
    pub(crate) fn from_q6_k(bytes: &[u8], rows: usize, cols: usize) -> Self {
        assert!(cols.is_multiple_of(256));
        assert_eq!(bytes.len(), rows * cols / 256 * Q6K_BYTES);
        let nb = cols / BLOCK;
        let mut tiles = vec![EMPTY; rows.div_ceil(GROUP) * nb];
        let (mut values, mut scales) = ([0; 256], [0.0; 16]);
        for (i, block) in bytes.chunks_exact(Q6K_BYTES).enumerate() {
            let (row, first) = (i / (cols / 256), i % (cols / 256) * 8);
            let (g, lane) = (row / GROUP, row % GROUP);
            decode_q6_k(block, &mut values, &mut scales);
            for j in 0..8 {
                let tile = &mut tiles[g * nb + first + j];
                let values = &values[BLOCK * j..][..BLOCK];
                for k in 0..8 {
                    tile.quants[k][4 * lane..4 * lane + 4].copy_from_slice(&values[4 * k..][..4]);
                }
                tile.scales[0].set(lane, scales[2 * j]);
                tile.scales[1].set(lane, scales[2 * j + 1]);
            }
        }
        Self { rows, cols, tiles }
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
            for (c, o) in out.iter_mut().enumerate() {
                let q = tile.quants[c / 4][4 * lane + c % 4];
                *o = tile.scales[c / 16].get(lane) * f32::from(q);
            }
        }
    }

    /// Computes row groups `groups` for every token of `acts` into `out`.
    pub(crate) fn compute(&self, acts: &Activations, groups: Range<usize>, out: &mut Output<'_>) {
        run_tiles(self, acts, groups, self.rows, out);
    }

    /// The tiles of row group `g`; none past the last group.
    fn group(&self, g: usize) -> &[Q6Tile] {
        let nb = self.cols / BLOCK;
        self.tiles.get(g * nb..(g + 1) * nb).unwrap_or_default()
    }
}

impl TileKernel for Q6Matrix {
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
        abs_i8_m256i, add_i16_m256i, convert_to_m256_from_i32_m256i, fused_mul_add_m256,
        load_unaligned_m256i, m256, m256i, mul_i16_horizontal_add_m256i, mul_m256,
        mul_u8i8_add_horizontal_saturating_m256i, set_splat_i16_m256i, set_splat_i32_m256i,
        set_splat_m256, sign_apply_i8_m256i, zeroed_m256, zeroed_m256i,
    };

    use super::super::scales::Scales;
    use super::super::{ActRow, GROUP, word};
    use super::Q6Tile;

    /// The tile kernel, prefetching the next group as the Q4 kernel does.
    #[inline(always)]
    pub(super) fn tile<const T: usize>(
        tiles: &[Q6Tile],
        next: &[Q6Tile],
        acts: &[ActRow<'_>; T],
    ) -> [[f32; GROUP]; T] {
        if next.len() == tiles.len() {
            blocks::<T, true>(tiles, next, acts)
        } else {
            blocks::<T, false>(tiles, tiles, acts)
        }
    }

    #[inline(always)]
    fn blocks<const T: usize, const PREFETCH: bool>(
        tiles: &[Q6Tile],
        next: &[Q6Tile],
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
            // Per token, the 16-bit sums of columns 0..16 and of columns 16..32.
            let mut halves: [[m256i; 2]; T] = [[zeroed_m256i(); 2]; T];
            for k in 0..8 {
                let w = load_unaligned_m256i(&tile.quants[k]);
                let magnitude = abs_i8_m256i(w);
                for t in 0..T {
                    let a = set_splat_i32_m256i(word(&quants[t][b], k));
                    let pairs = mul_u8i8_add_horizontal_saturating_m256i(
                        magnitude,
                        sign_apply_i8_m256i(a, w),
                    );
                    halves[t][k / 4] = add_i16_m256i(halves[t][k / 4], pairs);
                }
            }
            let w_scales = [tile.scales[0].lanes(), tile.scales[1].lanes()];
            for t in 0..T {
                let a_scale = set_splat_m256(scales[t][b]);
                for (half, w_scale) in halves[t].iter().zip(w_scales) {
                    let dot =
                        convert_to_m256_from_i32_m256i(mul_i16_horizontal_add_m256i(*half, ones));
                    acc[t] = fused_mul_add_m256(dot, mul_m256(w_scale, a_scale), acc[t]);
                }
            }
        }
        acc.map(|a| a.to_array())
    }
}

#[cfg(any(test, not(target_feature = "avx2")))]
mod scalar {
    use super::super::scales::Scales;
    use super::super::{ActRow, GROUP};
    use super::Q6Tile;

    /// The tile kernel lane by lane, with the vector kernel's order of float operations.
    pub(super) fn tile<const T: usize>(
        tiles: &[Q6Tile],
        _next: &[Q6Tile],
        acts: &[ActRow<'_>; T],
    ) -> [[f32; GROUP]; T] {
        let mut acc = [[0.0f32; GROUP]; T];
        for (b, tile) in tiles.iter().enumerate() {
            for (t, act) in acts.iter().enumerate() {
                for (r, acc) in acc[t].iter_mut().enumerate() {
                    for (h, scales) in tile.scales.iter().enumerate() {
                        let mut dot = 0i32;
                        for k in 4 * h..4 * h + 4 {
                            for i in 0..4 {
                                let w = i32::from(tile.quants[k][4 * r + i]);
                                dot += w * i32::from(act.quants[b][4 * k + i]);
                            }
                        }
                        *acc = (dot as f32).mul_add(scales.get(r) * act.scales[b], *acc);
                    }
                }
            }
        }
        acc
    }
}

#[cfg(test)]
mod tests {
    use candle_core::quantized::{GgmlDType, QTensor};
    use candle_core::{Device, Tensor};

    use super::super::testing::{Rng, activations};
    use super::super::{Activations, Matrix};
    use super::*;

    fn random_q6_k(rng: &mut Rng, rows: usize, cols: usize) -> Vec<u8> {
        let values: Vec<f32> = (0..rows * cols)
            .map(|i| rng.unit() * (1 + i % 7) as f32)
            .collect();
        let t = Tensor::from_slice(&values, (rows, cols), &Device::Cpu).expect("a tensor");
        let q = QTensor::quantize(&t, GgmlDType::Q6K).expect("candle quantises");
        q.data().expect("the bytes").into_owned()
    }

    #[test]
    fn the_kernel_matches_the_scalar_kernel_bit_for_bit() {
        let mut rng = Rng::new(41);
        let (rows, cols) = (16, 512);
        let matrix = Q6Matrix::from_q6_k(&random_q6_k(&mut rng, rows, cols), rows, cols);
        let x = activations(&mut rng, 3, cols);
        let mut acts = Activations::default();
        acts.quantize(&x, cols);
        for g in 0..2 {
            let (tiles, next) = (matrix.group(g), matrix.group(g + 1));
            let one = kernel::tile(tiles, next, &[acts.row(2)]);
            assert_eq!(one, scalar::tile(tiles, next, &[acts.row(2)]));
            let three: [ActRow<'_>; 3] = std::array::from_fn(|t| acts.row(t));
            let vector = kernel::tile(tiles, next, &three);
            assert_eq!(vector, scalar::tile(tiles, next, &three));
            assert_eq!(vector[2], one[0]);
        }
    }

    #[test]
    fn products_agree_with_dequantised_weights_times_quantised_inputs() {
        let mut rng = Rng::new(42);
        let (rows, cols, tokens) = (13, 256, 5);
        let matrix = Matrix::Q6(Q6Matrix::from_q6_k(
            &random_q6_k(&mut rng, rows, cols),
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
