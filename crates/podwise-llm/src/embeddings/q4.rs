//! 4-bit weight matrices (Q4_0) multiplied by 8-bit activations (Q8_0): the hot path of
//! the e5 encoder.
//!
//! Weights arrive as Q4_0 blocks: 32 weights sharing one f16 scale, stored as nibbles
//! with an offset of 8. At load time each block's nibbles are spread into 32 bytes and its
//! scale widened to f32, so the inner loop never unpacks: it multiplies unsigned weight
//! bytes by signed activation bytes with AVX2's `maddubs`, and the offset of 8 is
//! corrected once per output from the activation blocks' sums. Several weight rows and
//! several tokens are computed together, so each loaded block feeds more than one product.

/// One Q4_0 block as stored: an f16 scale and 32 weights in 16 bytes (byte `j` holds
/// weight `j` in its low nibble and weight `j + 16` in its high nibble).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Q4Block {
    pub scale: f32,
    pub nibbles: [u8; 16],
}

impl Q4Block {
    /// The stored size of one block.
    pub const BYTES: usize = 18;

    /// Decodes one stored block; `bytes` is [`Q4Block::BYTES`] long.
    pub fn from_bytes(bytes: &[u8]) -> Self {
        let mut nibbles = [0; 16];
        nibbles.copy_from_slice(&bytes[2..18]);
        Self {
            scale: f16_to_f32(u16::from_le_bytes([bytes[0], bytes[1]])),
            nibbles,
        }
    }

    /// The 32 weights as unsigned bytes `0..=15`, in order (true weight = byte - 8).
    fn spread(&self) -> [u8; 32] {
        let mut out = [0; 32];
        for (j, &b) in self.nibbles.iter().enumerate() {
            out[j] = b & 0x0f;
            out[j + 16] = b >> 4;
        }
        out
    }

    /// Adds the block's 32 dequantised weights to `out`.
    pub fn add_to(&self, out: &mut [f32]) {
        for (o, q) in out.iter_mut().zip(self.spread()) {
            *o += (f32::from(q) - 8.0) * self.scale;
        }
    }
}

/// Widens an IEEE half to f32, subnormals included.
pub(crate) fn f16_to_f32(h: u16) -> f32 {
    let sign = u32::from(h & 0x8000) << 16;
    let exp = u32::from((h >> 10) & 0x1f);
    let man = u32::from(h & 0x3ff);
    let bits = match (exp, man) {
        (0, 0) => sign,
        // Subnormal half: its value is man * 2^-24, exact in f32.
        (0, m) => return f32::from_bits(sign) + (m as f32) * (1.0 / 16_777_216.0),
        (31, m) => sign | 0x7f80_0000 | (m << 13),
        (e, m) => sign | ((e + 127 - 15) << 23) | (m << 13),
    };
    f32::from_bits(bits)
}

const BLOCK: usize = 32;

/// A Q4_0 weight matrix with its bias, `rows` outputs by `cols` inputs, spread for the
/// kernel.
#[derive(Debug)]
pub(crate) struct Q4Matrix {
    rows: usize,
    cols: usize,
    /// `rows * cols / 32` blocks, row-major, each weight as a byte `0..=15` (kept as
    /// `i8`, the type the vector load takes; the kernel reads them as unsigned).
    weights: Vec<[i8; 32]>,
    /// One scale per block, same order.
    scales: Vec<f32>,
    /// The same scales block-major (`[cols / 32][rows]`), so that the offset correction
    /// runs along contiguous rows.
    scales_by_block: Vec<f32>,
    bias: Vec<f32>,
}

/// Activations quantised per 32-block to int8: what [`Q4Matrix::forward`] consumes.
#[derive(Debug)]
struct Q8Acts {
    blocks: Vec<[i8; 32]>,
    scales: Vec<f32>,
    /// Per block, `scale * sum(values)`, for the correction of the weights' offset of 8.
    offsets: Vec<f32>,
}

impl Q4Matrix {
    /// Builds a matrix from stored blocks (row-major) and a bias of length `rows`.
    pub fn new(blocks: &[Q4Block], bias: Vec<f32>, rows: usize, cols: usize) -> Self {
        assert!(cols.is_multiple_of(BLOCK) && blocks.len() * BLOCK == rows * cols);
        assert_eq!(bias.len(), rows);
        let scales: Vec<f32> = blocks.iter().map(|b| b.scale).collect();
        Self {
            rows,
            cols,
            weights: blocks.iter().map(|b| b.spread().map(|q| q as i8)).collect(),
            scales_by_block: transpose(&scales, rows, cols / BLOCK),
            scales,
            bias,
        }
    }

    /// Stacks matrices with the same input width into one, their outputs side by side,
    /// so that inputs shared by several projections are quantised and read once.
    pub fn stack(parts: Vec<Self>) -> Self {
        let cols = parts.first().map_or(0, |p| p.cols);
        assert!(parts.iter().all(|p| p.cols == cols));
        let mut out = Self {
            rows: 0,
            cols,
            weights: Vec::new(),
            scales: Vec::new(),
            scales_by_block: Vec::new(),
            bias: Vec::new(),
        };
        for p in parts {
            out.rows += p.rows;
            out.weights.extend(p.weights);
            out.scales.extend(p.scales);
            out.bias.extend(p.bias);
        }
        out.scales_by_block = transpose(&out.scales, out.rows, cols / BLOCK);
        out
    }

    /// The number of outputs per token.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// `out[t] = W · x[t] + bias` for each of the `x.len() / cols` tokens, split by
    /// tokens over up to `threads` threads.
    pub fn forward(&self, x: &[f32], out: &mut [f32], threads: usize) {
        let tokens = x.len() / self.cols;
        debug_assert_eq!(out.len(), tokens * self.rows);
        let acts = Q8Acts::quantise(x, self.cols);
        super::parallel::for_rows(out, self.rows, threads, |first, chunk| {
            self.forward_tokens(&acts, first, chunk);
        });
    }

    /// Computes the outputs of the tokens `first..` that `out` has room for.
    fn forward_tokens(&self, acts: &Q8Acts, first: usize, out: &mut [f32]) {
        let nb = self.cols / BLOCK;
        let tokens = out.len() / self.rows;
        let mut row = 0;
        while row < self.rows {
            let group = if self.rows - row >= 4 { 4 } else { 1 };
            let mut t = 0;
            while t < tokens {
                if tokens - t >= 2 && group == 4 {
                    self.tile::<4, 2>(acts, row, first + t, &mut out[t * self.rows..]);
                    t += 2;
                } else if group == 4 {
                    self.tile::<4, 1>(acts, row, first + t, &mut out[t * self.rows..]);
                    t += 1;
                } else {
                    self.tile::<1, 1>(acts, row, first + t, &mut out[t * self.rows..]);
                    t += 1;
                }
            }
            row += group;
        }

        // The stored weights are q + 8: take 8 · Σ_b scale_w · scale_a · Σ a back, and add
        // the bias. Along contiguous rows this is a small vectorised product.
        for (t, y) in out.chunks_exact_mut(self.rows).enumerate() {
            let offsets = &acts.offsets[(first + t) * nb..][..nb];
            let mut correction = self.bias.clone();
            for (b, &offset) in offsets.iter().enumerate() {
                let scales = &self.scales_by_block[b * self.rows..][..self.rows];
                for (c, &s) in correction.iter_mut().zip(scales) {
                    *c -= 8.0 * offset * s;
                }
            }
            for (y, c) in y.iter_mut().zip(&correction) {
                *y += c;
            }
        }
    }

    /// Writes the `R` products from `row` of the `T` tokens from `token` into `out`, whose
    /// first row belongs to `token`; offset and bias are not applied yet.
    fn tile<const R: usize, const T: usize>(
        &self,
        acts: &Q8Acts,
        row: usize,
        token: usize,
        out: &mut [f32],
    ) {
        let nb = self.cols / BLOCK;
        let w: [&[[i8; 32]]; R] = std::array::from_fn(|r| &self.weights[(row + r) * nb..][..nb]);
        let ws: [&[f32]; R] = std::array::from_fn(|r| &self.scales[(row + r) * nb..][..nb]);
        let a: [&[[i8; 32]]; T] = std::array::from_fn(|t| &acts.blocks[(token + t) * nb..][..nb]);
        let sa: [&[f32]; T] = std::array::from_fn(|t| &acts.scales[(token + t) * nb..][..nb]);
        let dots = kernel::dots::<R, T>(&w, &ws, &a, &sa);
        for (t, dots) in (0..T).map(|t| (t, dots.map(|d| d[t]))) {
            out[t * self.rows + row..][..R].copy_from_slice(&dots);
        }
    }
}

/// `m` (`rows × cols`, row-major) column-major.
fn transpose(m: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    (0..cols * rows)
        .map(|i| m[(i % rows) * cols + i / rows])
        .collect()
}

impl Q8Acts {
    /// Quantises each 32-value block of `x` to int8 with its own scale (max |x| / 127).
    fn quantise(x: &[f32], cols: usize) -> Self {
        debug_assert_eq!(x.len() % cols, 0);
        let n = x.len() / BLOCK;
        let mut acts = Self {
            blocks: vec![[0; 32]; n],
            scales: vec![0.0; n],
            offsets: vec![0.0; n],
        };
        for (i, block) in x.chunks_exact(BLOCK).enumerate() {
            let amax = block.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            let scale = amax / 127.0;
            let inverse = if scale > 0.0 { 1.0 / scale } else { 0.0 };
            let mut sum = 0i32;
            for (q, &v) in acts.blocks[i].iter_mut().zip(block) {
                *q = (v * inverse).round_ties_even().clamp(-128.0, 127.0) as i8;
                sum += i32::from(*q);
            }
            acts.scales[i] = scale;
            acts.offsets[i] = scale * sum as f32;
        }
        acts
    }
}

#[cfg(target_feature = "avx2")]
mod kernel {
    use safe_arch::{
        convert_to_m256_from_i32_m256i, fused_mul_add_m256, load_unaligned_m256i, m256, m256i,
        mul_i16_horizontal_add_m256i, mul_m256, mul_u8i8_add_horizontal_saturating_m256i,
        set_splat_i16_m256i, set_splat_m256, zeroed_m256,
    };

    /// `acc + scale · <w, a>` for one weight block and one activation block.
    #[inline(always)]
    fn step(w: m256i, a: m256i, scale: m256, acc: m256) -> m256 {
        // Unsigned 0..=15 times signed int8, in pairs, never saturates i16.
        let pairs = mul_u8i8_add_horizontal_saturating_m256i(w, a);
        let sums = mul_i16_horizontal_add_m256i(pairs, set_splat_i16_m256i(1));
        fused_mul_add_m256(convert_to_m256_from_i32_m256i(sums), scale, acc)
    }

    fn hsum(v: m256) -> f32 {
        v.to_array().iter().sum()
    }

    /// `Σ_b scale_w · scale_a · <w_b, a_b>` for `R` rows by `T` tokens, the weights still
    /// offset by 8. The 4 × 2 tile keeps its eight accumulators in named registers:
    /// written as an array indexed in loops, LLVM spilled them to the stack.
    #[inline(always)]
    pub(super) fn dots<const R: usize, const T: usize>(
        w: &[&[[i8; 32]]; R],
        ws: &[&[f32]; R],
        a: &[&[[i8; 32]]; T],
        sa: &[&[f32]; T],
    ) -> [[f32; T]; R] {
        let mut out = [[0.0; T]; R];
        if R == 4 && T == 2 {
            let tile = dots_4x2(
                [w[0], w[1], w[2], w[3]],
                [ws[0], ws[1], ws[2], ws[3]],
                [a[0], a[1]],
                [sa[0], sa[1]],
            );
            for r in 0..R {
                for t in 0..T {
                    out[r][t] = tile[r][t];
                }
            }
            return out;
        }
        for r in 0..R {
            for t in 0..T {
                let mut acc = zeroed_m256();
                for b in 0..ws[r].len() {
                    let scale = set_splat_m256(ws[r][b] * sa[t][b]);
                    let (wv, av) = (
                        load_unaligned_m256i(&w[r][b]),
                        load_unaligned_m256i(&a[t][b]),
                    );
                    acc = step(wv, av, scale, acc);
                }
                out[r][t] = hsum(acc);
            }
        }
        out
    }

    #[inline(always)]
    fn dots_4x2(
        w: [&[[i8; 32]]; 4],
        ws: [&[f32]; 4],
        a: [&[[i8; 32]]; 2],
        sa: [&[f32]; 2],
    ) -> [[f32; 2]; 4] {
        let nb = ws[0].len();
        let (w0, w1, w2, w3) = (&w[0][..nb], &w[1][..nb], &w[2][..nb], &w[3][..nb]);
        let (s0, s1, s2, s3) = (&ws[0][..nb], &ws[1][..nb], &ws[2][..nb], &ws[3][..nb]);
        let (a0, a1, t0, t1) = (&a[0][..nb], &a[1][..nb], &sa[0][..nb], &sa[1][..nb]);
        let z = zeroed_m256();
        let (mut c00, mut c01, mut c10, mut c11) = (z, z, z, z);
        let (mut c20, mut c21, mut c30, mut c31) = (z, z, z, z);
        for b in 0..nb {
            let (x0, x1) = (load_unaligned_m256i(&a0[b]), load_unaligned_m256i(&a1[b]));
            let (d0, d1) = (set_splat_m256(t0[b]), set_splat_m256(t1[b]));
            let (v, d) = (load_unaligned_m256i(&w0[b]), set_splat_m256(s0[b]));
            c00 = step(v, x0, mul_m256(d, d0), c00);
            c01 = step(v, x1, mul_m256(d, d1), c01);
            let (v, d) = (load_unaligned_m256i(&w1[b]), set_splat_m256(s1[b]));
            c10 = step(v, x0, mul_m256(d, d0), c10);
            c11 = step(v, x1, mul_m256(d, d1), c11);
            let (v, d) = (load_unaligned_m256i(&w2[b]), set_splat_m256(s2[b]));
            c20 = step(v, x0, mul_m256(d, d0), c20);
            c21 = step(v, x1, mul_m256(d, d1), c21);
            let (v, d) = (load_unaligned_m256i(&w3[b]), set_splat_m256(s3[b]));
            c30 = step(v, x0, mul_m256(d, d0), c30);
            c31 = step(v, x1, mul_m256(d, d1), c31);
        }
        [
            [hsum(c00), hsum(c01)],
            [hsum(c10), hsum(c11)],
            [hsum(c20), hsum(c21)],
            [hsum(c30), hsum(c31)],
        ]
    }
}

#[cfg(not(target_feature = "avx2"))]
mod kernel {
    /// Scalar equivalent of the AVX2 kernel, for builds without AVX2.
    pub(super) fn dots<const R: usize, const T: usize>(
        w: &[&[[i8; 32]]; R],
        ws: &[&[f32]; R],
        a: &[&[[i8; 32]]; T],
        sa: &[&[f32]; T],
    ) -> [[f32; T]; R] {
        let mut acc = [[0.0f32; T]; R];
        for b in 0..ws[0].len() {
            for r in 0..R {
                for t in 0..T {
                    let dot: i32 = w[r][b]
                        .iter()
                        .zip(&a[t][b])
                        .map(|(&w, &a)| i32::from(w) * i32::from(a))
                        .sum();
                    acc[r][t] += ws[r][b] * sa[t][b] * dot as f32;
                }
            }
        }
        acc
    }
}
