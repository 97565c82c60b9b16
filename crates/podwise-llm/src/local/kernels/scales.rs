//! The eight per-row scales of a tile, stored as the file has them where that is exact:
//! f16 for the formats whose blocks carry f16 scales (decoding is bound by memory
//! traffic, so smaller tiles are faster even though the kernel must widen them), f32 for
//! the k-quants, whose scales are f16 times a 6- or 8-bit integer and need more bits.

#[cfg(target_feature = "avx2")]
use safe_arch::{
    bitand_m256i, cast_to_m256_from_m256i, convert_to_i32_m256i_from_i16_m128i,
    load_unaligned_m128i, load_unaligned_m256, m256, mul_m256, set_splat_i32_m256i, set_splat_m256,
    shl_imm_u32_m256i,
};

use super::{GROUP, f16_at};

/// Eight scales, one per row of a tile.
pub(crate) trait Scales: Copy + std::fmt::Debug + Send + Sync + 'static {
    const ZERO: Self;

    /// Row `r`'s scale.
    fn get(&self, r: usize) -> f32;

    /// Sets row `r`'s scale; `value` must be exactly representable in the storage.
    fn set(&mut self, r: usize, value: f32);

    /// All eight as f32 lanes.
    #[cfg(target_feature = "avx2")]
    fn lanes(&self) -> m256;
}

/// Little-endian f16s, row `r` at bytes `2r..2r + 2`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct F16Scales([u8; 2 * GROUP]);

impl Scales for F16Scales {
    const ZERO: Self = Self([0; 2 * GROUP]);

    fn get(&self, r: usize) -> f32 {
        f16_at(&self.0[2 * r..])
    }

    fn set(&mut self, r: usize, value: f32) {
        let half = half::f16::from_f32(value);
        debug_assert_eq!(
            half.to_f32().to_bits(),
            value.to_bits(),
            "{value} is not an f16"
        );
        self.0[2 * r..2 * r + 2].copy_from_slice(&half.to_le_bytes());
    }

    #[cfg(target_feature = "avx2")]
    #[inline(always)]
    fn lanes(&self) -> m256 {
        widen(&self.0)
    }
}

/// Plain f32s.
#[derive(Debug, Clone, Copy)]
pub(crate) struct F32Scales([f32; GROUP]);

impl Scales for F32Scales {
    const ZERO: Self = Self([0.0; GROUP]);

    fn get(&self, r: usize) -> f32 {
        self.0[r]
    }

    fn set(&mut self, r: usize, value: f32) {
        self.0[r] = value;
    }

    #[cfg(target_feature = "avx2")]
    #[inline(always)]
    fn lanes(&self) -> m256 {
        load_unaligned_m256(&self.0)
    }
}

/// Eight finite f16s as f32s, subnormals included (infinities and NaNs come out
/// finite; no file has them as scales). AVX2 has no f16 conversion and F16C's is not
/// reachable from safe code: the bits move into f32 position, and a multiply by 2^112
/// moves the exponent from f16's bias to f32's, exactly.
#[cfg(target_feature = "avx2")]
#[inline(always)]
fn widen(halves: &[u8; 16]) -> m256 {
    let wide = convert_to_i32_m256i_from_i16_m128i(load_unaligned_m128i(halves));
    // Sign extension filled bits 29..31 with the sign: keep bit 31, exponent, mantissa.
    let bits = bitand_m256i(
        shl_imm_u32_m256i::<13>(wide),
        set_splat_i32_m256i(F32_FIELDS),
    );
    mul_m256(cast_to_m256_from_m256i(bits), set_splat_m256(REBIAS))
}

/// The sign, exponent and mantissa bits of an f32 that an f16 shifted left by 13 fills.
#[cfg(target_feature = "avx2")]
const F32_FIELDS: i32 = 0x8fff_e000_u32 as i32;

/// 2^112: f32's exponent bias (127) less f16's (15), as a power of two.
#[cfg(target_feature = "avx2")]
const REBIAS: f32 = f32::from_bits((127 + 112) << 23);

#[cfg(all(test, target_feature = "avx2"))]
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
