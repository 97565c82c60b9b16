//! Widening f16 scales to f32 inside the AVX2 kernels, so that tiles can keep the f16
//! scales of the file and be smaller: decoding is bound by memory traffic.

use safe_arch::{
    bitand_m256i, cast_to_m256_from_m256i, convert_to_i32_m256i_from_i16_m128i,
    load_unaligned_m128i, m256, mul_m256, set_splat_i32_m256i, set_splat_m256, shl_imm_u32_m256i,
};

/// Eight finite f16s as f32s, subnormals included (infinities and NaNs come out
/// finite; no file has them as scales). AVX2 has no f16 conversion and F16C's is not
/// reachable from safe code: the bits move into f32 position, and a multiply by 2^112
/// moves the exponent from f16's bias to f32's, exactly.
#[inline(always)]
pub(crate) fn widen(halves: &[u8; 16]) -> m256 {
    let wide = convert_to_i32_m256i_from_i16_m128i(load_unaligned_m128i(halves));
    // Sign extension filled bits 29..31 with the sign: keep bit 31, exponent, mantissa.
    let bits = bitand_m256i(
        shl_imm_u32_m256i::<13>(wide),
        set_splat_i32_m256i(F32_FIELDS),
    );
    mul_m256(cast_to_m256_from_m256i(bits), set_splat_m256(REBIAS))
}

/// The sign, exponent and mantissa bits of an f32 that an f16 shifted left by 13 fills.
const F32_FIELDS: i32 = 0x8fff_e000_u32 as i32;

/// 2^112: f32's exponent bias (127) less f16's (15), as a power of two.
const REBIAS: f32 = f32::from_bits((127 + 112) << 23);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_finite_f16_widens_to_its_f32_value() {
        for chunk in (0..=u16::MAX).collect::<Vec<_>>().chunks(8) {
            let mut bytes = [0; 16];
            for (i, h) in chunk.iter().enumerate() {
                bytes[2 * i..2 * i + 2].copy_from_slice(&h.to_le_bytes());
            }
            let widened = widen(&bytes).to_array();
            for (i, &h) in chunk.iter().enumerate() {
                let expected = half::f16::from_bits(h);
                if expected.is_finite() {
                    assert_eq!(
                        widened[i].to_bits(),
                        expected.to_f32().to_bits(),
                        "{h:#06x}"
                    );
                }
            }
        }
    }
}
