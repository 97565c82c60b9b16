//! GGUF's k-quant blocks of 256 columns decoded into the 32-column blocks the kernels
//! read. Both keep every weight exactly as the file defines it: the products of an f16
//! by a 6- or 8-bit integer scale are exact in f32.
//!
//! Q4_K: an f16 `d` and `dmin`, twelve bytes holding eight 6-bit scales and eight 6-bit
//! minimums, and 128 bytes of nibbles; sub-block `j` (columns `32j..32j + 32`) is
//! `d × scale_j × nibble - dmin × min_j`, its nibbles the low halves of bytes
//! `32 (j / 2)..` for even `j` and the high halves for odd `j`.
//!
//! Q6_K: 128 bytes of low nibbles, 64 bytes of high bit pairs, sixteen int8 scales (one
//! per 16 columns) and an f16 `d`; a weight is `d × scale × (q - 32)` with `q` six bits.

use super::BLOCK;
use super::f16_at;
use super::q4::Block;

/// Bytes of one Q4_K block.
pub(crate) const Q4K_BYTES: usize = 144;

/// Bytes of one Q6_K block.
pub(crate) const Q6K_BYTES: usize = 210;

/// Decodes one Q4_K block into its eight 32-column blocks.
pub(crate) fn decode_q4_k(bytes: &[u8], out: &mut [Block]) {
    let (d, dmin) = (f16_at(&bytes[0..2]), f16_at(&bytes[2..4]));
    let packed: &[u8] = &bytes[4..16];
    let quants = &bytes[16..Q4K_BYTES];
    for (j, block) in out.iter_mut().enumerate().take(8) {
        let (scale, min) = scale_and_min(j, packed);
        let half = &quants[32 * (j / 2)..][..32];
        let shift = if j % 2 == 0 { 0 } else { 4 };
        for (n, q) in block.nibbles.iter_mut().zip(half) {
            *n = (q >> shift) & 0x0f;
        }
        block.scale = d * f32::from(scale);
        block.min = -(dmin * f32::from(min));
    }
}

/// Sub-block `j`'s 6-bit scale and minimum: the first four pairs sit in the low six bits of
/// bytes 0..8, the last four in the nibbles of bytes 8..12 with their top two bits in the
/// spare bits of bytes 0..8.
fn scale_and_min(j: usize, packed: &[u8]) -> (u8, u8) {
    if j < 4 {
        (packed[j] & 63, packed[j + 4] & 63)
    } else {
        let scale = (packed[j + 4] & 0x0f) | ((packed[j - 4] >> 6) << 4);
        let min = (packed[j + 4] >> 4) | ((packed[j] >> 6) << 4);
        (scale, min)
    }
}

/// Decodes one Q6_K block: its 256 values `q - 32` in column order, and per 16 columns
/// the scale `d × scale`.
pub(crate) fn decode_q6_k(bytes: &[u8], values: &mut [i8; 256], scales: &mut [f32; 16]) {
    let (low, high) = (&bytes[0..128], &bytes[128..192]);
    let d = f16_at(&bytes[208..210]);
    for (s, &scale) in scales.iter_mut().zip(&bytes[192..208]) {
        *s = d * f32::from(scale as i8);
    }
    // Each half of 128 columns takes 64 bytes of low nibbles and 32 of high pairs: column
    // `32i + l` of the half has its low four bits in byte `l` (`l + 32` for odd `i`),
    // low nibble for i < 2, and its top two bits at bit `2i` of high byte `l`.
    for h in 0..2 {
        let (low, high) = (&low[64 * h..][..64], &high[32 * h..][..32]);
        for i in 0..4 {
            for l in 0..BLOCK {
                let nibble = (low[l + 32 * (i % 2)] >> (4 * (i / 2))) & 0x0f;
                let top = (high[l] >> (2 * i)) & 3;
                values[128 * h + 32 * i + l] = (nibble | (top << 4)) as i8 - 32;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use candle_core::quantized::{GgmlDType, QTensor};
    use candle_core::{Device, Tensor};

    use super::super::testing::Rng;
    use super::*;

    /// `values` quantised by candle to `dtype`, its stored bytes, and candle's own
    /// dequantisation of them.
    fn candle_blocks(values: &[f32], dtype: GgmlDType) -> (Vec<u8>, Vec<f32>) {
        let t = Tensor::from_slice(values, (1, values.len()), &Device::Cpu).expect("a tensor");
        let q = QTensor::quantize(&t, dtype).expect("candle quantises");
        let bytes = q.data().expect("the bytes").into_owned();
        let back = q
            .dequantize(&Device::Cpu)
            .and_then(|t| t.flatten_all())
            .and_then(|t| t.to_vec1())
            .expect("candle dequantises");
        (bytes, back)
    }

    fn random(seed: u64, n: usize) -> Vec<f32> {
        let mut rng = Rng::new(seed);
        (0..n)
            .map(|i| rng.unit() * (1.0 + (i / 32) as f32 * 0.3))
            .collect()
    }

    #[test]
    fn q4_k_blocks_decode_to_candles_values() {
        let values = random(31, 512);
        let (bytes, expected) = candle_blocks(&values, GgmlDType::Q4K);
        for (block, expected) in bytes
            .chunks_exact(Q4K_BYTES)
            .zip(expected.chunks_exact(256))
        {
            let mut blocks = [Block::default(); 8];
            decode_q4_k(block, &mut blocks);
            for (b, expected) in blocks.iter().zip(expected.chunks_exact(BLOCK)) {
                for (&n, &e) in b.nibbles.iter().zip(expected) {
                    assert_eq!(f32::from(n).mul_add(b.scale, b.min), e);
                }
            }
        }
    }

    #[test]
    fn q6_k_blocks_decode_to_candles_values() {
        let values = random(32, 512);
        let (bytes, expected) = candle_blocks(&values, GgmlDType::Q6K);
        for (block, expected) in bytes
            .chunks_exact(Q6K_BYTES)
            .zip(expected.chunks_exact(256))
        {
            let (mut q, mut scales) = ([0; 256], [0.0; 16]);
            decode_q6_k(block, &mut q, &mut scales);
            for (c, &e) in expected.iter().enumerate() {
                assert_eq!(scales[c / 16] * f32::from(q[c]), e, "column {c}");
            }
        }
    }
}
