//! The f32 arithmetic of the encoder outside the matrix products: dot products, layer
//! norm, softmax, GELU and normalisation.
//!
//! The functions are written as plain loops over fixed-width lanes so that LLVM turns them
//! into AVX2 code without `unsafe`; `exp` and `erf` are computed here rather than by libm
//! for the same reason (a libm call per element stops vectorisation, and GELU and softmax
//! evaluate them millions of times per passage).

const LANES: usize = 8;

/// `a * b + c`, fused into one instruction where the target has FMA (which vectorises);
/// elsewhere `f32::mul_add` would be a slow library call, so it is two operations there.
#[inline(always)]
pub(crate) fn mul_add(a: f32, b: f32, c: f32) -> f32 {
    if cfg!(target_feature = "fma") {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// The dot product of two equally long slices, summed in eight lanes.
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    let mut acc = [0.0f32; LANES];
    let (a8, a_rest) = a.split_at(a.len() / LANES * LANES);
    let (b8, b_rest) = b.split_at(a8.len());
    for (x, y) in a8.chunks_exact(LANES).zip(b8.chunks_exact(LANES)) {
        for l in 0..LANES {
            acc[l] = mul_add(x[l], y[l], acc[l]);
        }
    }
    let tail: f32 = a_rest.iter().zip(b_rest).map(|(x, y)| x * y).sum();
    acc.iter().sum::<f32>() + tail
}

/// `y += alpha * x`.
pub(crate) fn add_scaled(y: &mut [f32], alpha: f32, x: &[f32]) {
    for (y, x) in y.iter_mut().zip(x) {
        *y = mul_add(alpha, *x, *y);
    }
}

/// e^x in f32 to about 2 ulp, for x in the range where softmax needs it.
#[inline(always)]
pub(crate) fn exp(x: f32) -> f32 {
    const LOG2_E: f32 = std::f32::consts::LOG2_E;
    // ln 2 split in two so that n · LN2_HI is exact for the n that occur.
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // Adding and subtracting 1.5 · 2^23 rounds to the nearest integer without a call.
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 88.0);
    let n = (x * LOG2_E + ROUND) - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO;
    // Taylor series of e^r on |r| <= ln2/2; the seventh-order term is below 2e-7.
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
    let scale = f32::from_bits(((n as i32 + 127) as u32) << 23);
    p * scale
}

/// The error function, to 5e-7 absolute: the 1.5e-7 of Abramowitz and Stegun 7.1.26
/// plus f32 rounding, far below the int8 rounding of the next product.
#[inline(always)]
pub(crate) fn erf(x: f32) -> f32 {
    let a = x.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * a);
    let poly = t
        * (0.254_829_6
            + t * (-0.284_496_74 + t * (1.421_413_7 + t * (-1.453_152_1 + t * 1.061_405_4))));
    (1.0 - poly * exp(-a * a)).copysign(x)
}

/// GELU with the exact (erf) form BERT uses, in place.
pub(crate) fn gelu(xs: &mut [f32]) {
    for x in xs {
        *x = 0.5 * *x * (1.0 + erf(*x * std::f32::consts::FRAC_1_SQRT_2));
    }
}

/// Replaces `xs` by its softmax.
pub(crate) fn softmax(xs: &mut [f32]) {
    let max = xs.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
    let mut sum = 0.0;
    for x in xs.iter_mut() {
        *x = exp(*x - max);
        sum += *x;
    }
    let inverse = 1.0 / sum;
    for x in xs {
        *x *= inverse;
    }
}

/// A layer norm's learned weight and bias.
#[derive(Debug)]
pub(crate) struct LayerNorm {
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
    pub eps: f32,
}

impl LayerNorm {
    /// `x = norm(x + residual)` row by row; rows are `weight.len()` wide.
    pub fn apply(&self, x: &mut [f32], residual: Option<&[f32]>) {
        let width = self.weight.len();
        for (t, row) in x.chunks_exact_mut(width).enumerate() {
            if let Some(residual) = residual {
                for (v, r) in row.iter_mut().zip(&residual[t * width..][..width]) {
                    *v += r;
                }
            }
            let mean = row.iter().sum::<f32>() / width as f32;
            let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / width as f32;
            let inverse = 1.0 / (var + self.eps).sqrt();
            for ((v, w), b) in row.iter_mut().zip(&self.weight).zip(&self.bias) {
                *v = (*v - mean) * inverse * w + b;
            }
        }
    }
}

/// Scales `v` to unit length; a zero vector stays zero.
pub(crate) fn l2_normalise(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().max(1e-24).sqrt();
    for x in v {
        *x /= norm;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// erf by its Taylor series in f64, exact enough to judge an f32 approximation on
    /// |x| <= 4.
    fn erf_series(x: f64) -> f64 {
        let mut term = x;
        let mut sum = x;
        for n in 1..200 {
            term *= -x * x / f64::from(n);
            sum += term / f64::from(2 * n + 1);
        }
        sum * 2.0 / std::f64::consts::PI.sqrt()
    }

    #[test]
    fn exp_agrees_with_the_standard_library_across_the_softmax_range() {
        for i in -8000..=2000 {
            let x = i as f32 / 100.0;
            let (ours, std) = (exp(x), x.exp());
            assert!(
                (ours - std).abs() <= 4e-7 * std,
                "exp({x}) = {ours}, expected {std}"
            );
        }
    }

    #[test]
    fn erf_is_within_half_a_millionth_of_the_series() {
        for i in -400..=400 {
            let x = f64::from(i) / 100.0;
            let (ours, exact) = (f64::from(erf(x as f32)), erf_series(x));
            assert!(
                (ours - exact).abs() < 5e-7,
                "erf({x}) = {ours}, expected {exact}"
            );
        }
    }

    #[test]
    fn softmax_sums_to_one_and_keeps_the_order() {
        let mut xs = [1.0, 3.0, -2.0, 0.5];
        softmax(&mut xs);
        assert!((xs.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(xs[1] > xs[0] && xs[0] > xs[3] && xs[3] > xs[2]);
    }
}
