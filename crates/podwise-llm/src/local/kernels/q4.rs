//! 4-bit weights with a scale and a minimum per block of 32: GGUF's Q4_1 (weight =
//! nibble × scale + minimum), Q4_0 as the case minimum = -8 × scale, and Q4_K, whose
//! 256-column blocks are eight such blocks with 6-bit scales and minimums under an f16
//! pair ([`super::kquants`]).
//!
//! A tile holds eight rows by one block. Its 128 bytes of nibbles are ordered so that one
//! 32-byte load gives each row's lane four bytes whose low nibbles are columns `8k..8k+4`
//! and high nibbles columns `8k+4..8k+8`: masking and shifting then yields two registers
//! whose lanes line up with the same four activations broadcast to every lane. `maddubs`
//! multiplies unsigned nibbles by signed activations without saturating (15 × 127 × 2 per
//! pair), so a whole block sums in 16-bit lanes (at most 8 × 3810) before one widening.
//!
//! For Q4_0 and Q4_1 the scales and minimums stay in f16, as in the file, which keeps a
//! tile at GGUF's 20 bytes per row and block; Q4_K's need f32 ([`super::scales`]).

use std::ops::Range;

use super::kquants::{Q4K_BYTES, decode_q4_k};
use super::scales::{F16Scales, F32Scales, Scales};
use super::{ActRow, Activations, BLOCK, GROUP, Output, TileKernel, f16_at, run_tiles};

/// Eight rows by one block of 32 columns.
#[derive(Debug, Clone, Copy)]
#[repr(C, align(32))]
pub(crate) struct Q4Tile<S> {
    /// Chunk `k`, byte `4r + i`: row `r`'s column `8k + i` in the low nibble and column
    /// `8k + 4 + i` in the high nibble.
    nibbles: [[i8; 32]; 4],
    scales: S,
    mins: S,
}

/// A matrix of [`Q4Tile`]s, row group by row group, each group's blocks in column order.
#[derive(Debug)]
pub(crate) struct Q4Matrix<S> {
    rows: usize,
    cols: usize,
    tiles: Vec<Q4Tile<S>>,
}

/// One block of 32 columns decoded: its nibbles in column order, scale and minimum.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Block {
    pub(crate) nibbles: [u8; BLOCK],
    pub(crate) scale: f32,
    pub(crate) min: f32,
}

impl Q4Matrix<F16Scales> {
    /// Repacks a row-major GGUF Q4_1 tensor: per block an f16 scale, an f16 minimum and 16
    /// bytes whose low nibbles are columns 0..16 and high nibbles 16..32.
    pub(crate) fn from_q4_1(bytes: &[u8], rows: usize, cols: usize) -> Self {
        Self::build(bytes, 20, rows, cols, |stored, blocks| {
            for (b, out) in stored.chunks_exact(20).zip(blocks) {
                let (scale, min) = (f16_at(&b[0..2]), f16_at(&b[2..4]));
                *out = Block {
                    nibbles: spread(&b[4..20]),
                    scale,
                    min,
                };
            }
        })
    }

    /// Repacks a row-major GGUF Q4_0 tensor: per block an f16 scale and 16 bytes of
    /// nibbles stored with an offset of 8.
    pub(crate) fn from_q4_0(bytes: &[u8], rows: usize, cols: usize) -> Self {
        Self::build(bytes, 18, rows, cols, |stored, blocks| {
            for (b, out) in stored.chunks_exact(18).zip(blocks) {
                // -8 × scale is exact in f16: a power of two times an f16 far from overflow.
                let scale = f16_at(&b[0..2]);
                *out = Block {
                    nibbles: spread(&b[2..18]),
                    scale,
                    min: -8.0 * scale,
                };
            }
        })
    }
}

impl Q4Matrix<F32Scales> {
    /// Repacks a row-major GGUF Q4_K tensor (`cols` a multiple of 256).
    pub(crate) fn from_q4_k(bytes: &[u8], rows: usize, cols: usize) -> Self {
        Self::build(
            bytes,
            Q4K_BYTES * BLOCK / 256,
            rows,
            cols,
            |stored, blocks| {
                for (b, out) in stored
                    .chunks_exact(Q4K_BYTES)
                    .zip(blocks.chunks_exact_mut(8))
                {
                    decode_q4_k(b, out);
                }
            },
        )
    }
}

impl<S: Scales> Q4Matrix<S> {
    /// Repacks `rows` rows stored one after the other, `block_bytes` per 32 columns on
    /// average; `decode` turns one row's bytes into its blocks.
    fn build(
        bytes: &[u8],
        block_bytes: usize,
        rows: usize,
        cols: usize,
        decode: impl Fn(&[u8], &mut [Block]),
    ) -> Self {
        assert!(cols.is_multiple_of(BLOCK));
        let nb = cols / BLOCK;
        assert_eq!(bytes.len(), rows * nb * block_bytes);
        let groups = rows.div_ceil(GROUP);
        let empty = Q4Tile {
            nibbles: [[0; 32]; 4],
            scales: S::ZERO,
            mins: S::ZERO,
        };
        let mut tiles = vec![empty; groups * nb];
        let mut blocks = vec![Block::default(); nb];
        for (row, stored) in bytes.chunks_exact(nb * block_bytes).enumerate() {
            let (g, lane) = (row / GROUP, row % GROUP);
            decode(stored, &mut blocks);
            for (b, block) in blocks.iter().enumerate() {
                let Block {
                    nibbles,
                    scale,
                    min,
                } = *block;
                let tile = &mut tiles[g * nb + b];
                tile.scales.set(lane, scale);
                tile.mins.set(lane, min);
                for k in 0..4 {
                    for i in 0..4 {
                        let packed = nibbles[8 * k + i] | (nibbles[8 * k + 4 + i] << 4);
                        tile.nibbles[k][4 * lane + i] = packed as i8;
                    }
                }
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
            for k in 0..4 {
                for i in 0..4 {
                    let byte = tile.nibbles[k][4 * lane + i] as u8;
                    let (scale, min) = (tile.scales.get(lane), tile.mins.get(lane));
                    let value = |n: u8| f32::from(n).mul_add(scale, min);
                    out[8 * k + i] = value(byte & 0x0f);
                    out[8 * k + 4 + i] = value(byte >> 4);
                }
            }
        }
    }

    /// Computes row groups `groups` for every token of `acts` into `out`.
    pub(crate) fn compute(&self, acts: &Activations, groups: Range<usize>, out: &mut Output<'_>) {
        run_tiles(self, acts, groups, self.rows, out);
    }

    /// The tiles of row group `g`; none past the last group.
    fn group(&self, g: usize) -> &[Q4Tile<S>] {
        let nb = self.cols / BLOCK;
        self.tiles.get(g * nb..(g + 1) * nb).unwrap_or_default()
    }
}

impl<S: Scales> TileKernel for Q4Matrix<S> {
    #[inline]
    fn tile<const T: usize>(&self, group: usize, acts: &[ActRow<'_>; T]) -> [[f32; GROUP]; T] {
        kernel::tile(self.group(group), self.group(group + 1), acts)
    }
}

/// GGUF's 16 bytes of nibbles as 32 values in column order.
fn spread(packed: &[u8]) -> [u8; BLOCK] {
    let mut out = [0; BLOCK];
    for (j, &b) in packed.iter().enumerate() {
        out[j] = b & 0x0f;
        out[j + 16] = b >> 4;
    }
    out
}

#[cfg(target_feature = "avx2")]
use self::avx2 as kernel;
#[cfg(not(target_feature = "avx2"))]
use self::scalar as kernel;

#[cfg(target_feature = "avx2")]
mod avx2 {
    use safe_arch::{
        add_i16_m256i, bitand_m256i, convert_to_m256_from_i32_m256i, fused_mul_add_m256,
        load_unaligned_m256i, m256, m256i, mul_i16_horizontal_add_m256i, mul_m256,
        mul_u8i8_add_horizontal_saturating_m256i, set_splat_i8_m256i, set_splat_i16_m256i,
        set_splat_i32_m256i, set_splat_m256, shr_imm_u16_m256i, zeroed_m256, zeroed_m256i,
    };

    use super::super::scales::Scales;
    use super::super::{ActRow, GROUP, word};
    use super::Q4Tile;

    /// The tile kernel: see the module documentation for the lane layout. While it works
    /// on block `b` it asks for block `b` of the `next` group: the hardware prefetcher
    /// alone left the loads waiting (decoding measured 25% faster with this).
    #[inline(always)]
    pub(super) fn tile<S: Scales, const T: usize>(
        tiles: &[Q4Tile<S>],
        next: &[Q4Tile<S>],
        acts: &[ActRow<'_>; T],
    ) -> [[f32; GROUP]; T] {
        // Two loops rather than a test per block: the last group has nothing to prefetch.
        if next.len() == tiles.len() {
            blocks::<S, T, true>(tiles, next, acts)
        } else {
            blocks::<S, T, false>(tiles, tiles, acts)
        }
    }

    #[inline(always)]
    fn blocks<S: Scales, const T: usize, const PREFETCH: bool>(
        tiles: &[Q4Tile<S>],
        next: &[Q4Tile<S>],
        acts: &[ActRow<'_>; T],
    ) -> [[f32; GROUP]; T] {
        let next = &next[..tiles.len()];
        let nb = tiles.len();
        let quants: [&[[i8; 32]]; T] = std::array::from_fn(|t| &acts[t].quants[..nb]);
        let scales: [&[f32]; T] = std::array::from_fn(|t| &acts[t].scales[..nb]);
        let sums: [&[f32]; T] = std::array::from_fn(|t| &acts[t].sums[..nb]);
        let low = set_splat_i8_m256i(0x0f);
        let ones = set_splat_i16_m256i(1);
        let mut acc: [m256; T] = [zeroed_m256(); T];
        for (b, tile) in tiles.iter().enumerate() {
            if PREFETCH {
                let ahead = &next[b];
                safe_arch::prefetch_t0(&ahead.nibbles[0]);
                safe_arch::prefetch_t0(&ahead.nibbles[2]);
                safe_arch::prefetch_t0(&ahead.scales);
            }
            let mut dots: [m256i; T] = [zeroed_m256i(); T];
            for k in 0..4 {
                let packed = load_unaligned_m256i(&tile.nibbles[k]);
                let lo = bitand_m256i(packed, low);
                let hi = bitand_m256i(shr_imm_u16_m256i::<4>(packed), low);
                for t in 0..T {
                    let a_lo = set_splat_i32_m256i(word(&quants[t][b], 2 * k));
                    let a_hi = set_splat_i32_m256i(word(&quants[t][b], 2 * k + 1));
                    let both = add_i16_m256i(
                        mul_u8i8_add_horizontal_saturating_m256i(lo, a_lo),
                        mul_u8i8_add_horizontal_saturating_m256i(hi, a_hi),
                    );
                    dots[t] = add_i16_m256i(dots[t], both);
                }
            }
            let w_scales = tile.scales.lanes();
            let w_mins = tile.mins.lanes();
            for t in 0..T {
                let dot =
                    convert_to_m256_from_i32_m256i(mul_i16_horizontal_add_m256i(dots[t], ones));
                let scale = mul_m256(w_scales, set_splat_m256(scales[t][b]));
                acc[t] = fused_mul_add_m256(dot, scale, acc[t]);
                acc[t] = fused_mul_add_m256(w_mins, set_splat_m256(sums[t][b]), acc[t]);
            }
        }
        acc.map(|a| a.to_array())
    }
}

#[cfg(any(test, not(target_feature = "avx2")))]
mod scalar {
    use super::super::scales::Scales;
    use super::super::{ActRow, BLOCK, GROUP};
    use super::Q4Tile;

    /// The tile kernel lane by lane, with the vector kernel's order of float operations.
    pub(super) fn tile<S: Scales, const T: usize>(
        tiles: &[Q4Tile<S>],
        _next: &[Q4Tile<S>],
        acts: &[ActRow<'_>; T],
    ) -> [[f32; GROUP]; T] {
        let mut acc = [[0.0f32; GROUP]; T];
        for (b, tile) in tiles.iter().enumerate() {
            for (t, act) in acts.iter().enumerate() {
                let q: &[i8; BLOCK] = &act.quants[b];
                for (r, acc) in acc[t].iter_mut().enumerate() {
                    let mut dot = 0i32;
                    for k in 0..4 {
                        for i in 0..4 {
                            let byte = tile.nibbles[k][4 * r + i] as u8;
                            dot += i32::from(byte & 0x0f) * i32::from(q[8 * k + i]);
                            dot += i32::from(byte >> 4) * i32::from(q[8 * k + 4 + i]);
                        }
                    }
                    *acc = (dot as f32).mul_add(tile.scales.get(r) * act.scales[b], *acc);
                    *acc = tile.mins.get(r).mul_add(act.sums[b], *acc);
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

    fn random_q4_1(rng: &mut Rng, rows: usize, cols: usize) -> Vec<u8> {
        let mut bytes = Vec::new();
        for _ in 0..rows * cols / BLOCK {
            bytes.extend(rng.f16_bytes(0.05));
            bytes.extend(rng.f16_bytes(0.4));
            bytes.extend((0..16).map(|_| rng.byte()));
        }
        bytes
    }

    /// Row `row` decoded straight from GGUF's definition of Q4_1.
    fn gguf_row(bytes: &[u8], row: usize, cols: usize) -> Vec<f32> {
        let nb = cols / BLOCK;
        let mut out = vec![0.0; cols];
        for b in 0..nb {
            let block = &bytes[(row * nb + b) * 20..][..20];
            let (d, m) = (f16_at(&block[0..2]), f16_at(&block[2..4]));
            for j in 0..16 {
                out[b * BLOCK + j] = f32::from(block[4 + j] & 0x0f) * d + m;
                out[b * BLOCK + j + 16] = f32::from(block[4 + j] >> 4) * d + m;
            }
        }
        out
    }

    #[test]
    fn repacked_rows_dequantise_to_the_gguf_values() {
        let mut rng = Rng::new(3);
        let (rows, cols) = (13, 96);
        let bytes = random_q4_1(&mut rng, rows, cols);
        let matrix = Q4Matrix::from_q4_1(&bytes, rows, cols);
        let mut row = vec![0.0; cols];
        for r in 0..rows {
            matrix.row(r, &mut row);
            for (a, b) in row.iter().zip(gguf_row(&bytes, r, cols)) {
                assert!(
                    (a - b).abs() <= 1e-6 * b.abs().max(1.0),
                    "row {r}: {a} vs {b}"
                );
            }
        }
    }

    #[test]
    fn q4_0_is_q4_1_with_a_minimum_of_minus_eight_scales() {
        let mut rng = Rng::new(4);
        let (rows, cols) = (8, 64);
        let mut q4_0 = Vec::new();
        let mut q4_1 = Vec::new();
        for _ in 0..rows * cols / BLOCK {
            let scale = rng.f16_bytes(0.1);
            let nibbles: Vec<u8> = (0..16).map(|_| rng.byte()).collect();
            q4_0.extend(scale);
            q4_0.extend(&nibbles);
            q4_1.extend(scale);
            q4_1.extend(half::f16::from_f32(-8.0 * f16_at(&scale)).to_le_bytes());
            q4_1.extend(&nibbles);
        }
        let (a, b) = (
            Q4Matrix::from_q4_0(&q4_0, rows, cols),
            Q4Matrix::from_q4_1(&q4_1, rows, cols),
        );
        let (mut ra, mut rb) = (vec![0.0; cols], vec![0.0; cols]);
        for r in 0..rows {
            a.row(r, &mut ra);
            b.row(r, &mut rb);
            assert_eq!(ra, rb);
        }
    }

    #[test]
    fn the_kernel_matches_the_scalar_kernel_bit_for_bit() {
        let mut rng = Rng::new(5);
        let (rows, cols) = (24, 576);
        let matrix = Q4Matrix::from_q4_1(&random_q4_1(&mut rng, rows, cols), rows, cols);
        let x = activations(&mut rng, 4, cols);
        let mut acts = Activations::default();
        acts.quantize(&x, cols);
        for g in 0..3 {
            let tiles = matrix.group(g);
            let next = matrix.group(g + 1);
            let one = kernel::tile(tiles, next, &[acts.row(2)]);
            assert_eq!(one, scalar::tile(tiles, next, &[acts.row(2)]));
            let four: [ActRow<'_>; 4] = std::array::from_fn(|t| acts.row(t));
            let vector = kernel::tile(tiles, next, &four);
            assert_eq!(vector, scalar::tile(tiles, next, &four));
            assert_eq!(
                vector[2], one[0],
                "a token's result does not depend on its company"
            );
        }
    }

    /// A Q4_K tensor as candle writes it.
    fn random_q4_k(rng: &mut Rng, rows: usize, cols: usize) -> Vec<u8> {
        use candle_core::quantized::{GgmlDType, QTensor};
        let values: Vec<f32> = (0..rows * cols)
            .map(|i| rng.unit() * (1 + i % 5) as f32)
            .collect();
        let device = candle_core::Device::Cpu;
        let t = candle_core::Tensor::from_slice(&values, (rows, cols), &device).expect("a tensor");
        let q = QTensor::quantize(&t, GgmlDType::Q4K).expect("candle quantises");
        q.data().expect("the bytes").into_owned()
    }

    #[test]
    fn the_kernel_with_f32_scales_matches_the_scalar_kernel_bit_for_bit() {
        let mut rng = Rng::new(14);
        let (rows, cols) = (16, 512);
        let matrix = Q4Matrix::from_q4_k(&random_q4_k(&mut rng, rows, cols), rows, cols);
        let x = activations(&mut rng, 4, cols);
        let mut acts = Activations::default();
        acts.quantize(&x, cols);
        for g in 0..2 {
            let (tiles, next) = (matrix.group(g), matrix.group(g + 1));
            let four: [ActRow<'_>; 4] = std::array::from_fn(|t| acts.row(t));
            assert_eq!(
                kernel::tile(tiles, next, &four),
                scalar::tile(tiles, next, &four)
            );
        }
    }

    #[test]
    fn q4_k_products_agree_with_dequantised_weights_times_quantised_inputs() {
        let mut rng = Rng::new(15);
        let (rows, cols) = (11, 256);
        let matrix = Matrix::Q4K(Q4Matrix::from_q4_k(
            &random_q4_k(&mut rng, rows, cols),
            rows,
            cols,
        ));
        check_products(&matrix, &mut rng, 3);
    }

    #[test]
    fn products_agree_with_dequantised_weights_times_quantised_inputs() {
        let mut rng = Rng::new(6);
        let (rows, cols, tokens) = (21, 160, 3);
        let matrix = Matrix::Q4(Q4Matrix::from_q4_1(
            &random_q4_1(&mut rng, rows, cols),
            rows,
            cols,
        ));
        check_products(&matrix, &mut rng, tokens);
    }

    /// `matrix` times random inputs against its dequantised rows times the same inputs
    /// dequantised, summed in f64.
    fn check_products(matrix: &Matrix, rng: &mut Rng, tokens: usize) {
        let (rows, cols) = (matrix.rows(), matrix.cols());
        let x = activations(rng, tokens, cols);
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
