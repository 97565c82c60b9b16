//! Element-wise kernels written so the compiler turns them into AVX2, run on the calling
//! rayon pool: GELU with the bias added in the same pass, bias plus residual in one pass,
//! and the row softmax of attention scores. Each works in place on a tensor the caller
//! just produced. (candle's own element-wise ops run on a process-wide pool sized from the
//! environment, not on the model's threads.)
//!
//! candle evaluates GELU's `erf` and softmax's `exp` one scalar libm call at a time; in the
//! encoder that was a third of the window's time. Here `erf` is Abramowitz and Stegun's
//! 7.1.28 (absolute error below 3e-7) and `exp` a range reduction to `2^n * e^r` with a
//! degree-6 polynomial (relative error about 2e-7): far below what f32 weights resolve.

use candle_core::{CpuStorage, InplaceOp1, InplaceOp2, Layout, Result, Tensor};
use rayon::prelude::*;

/// Rows handed to one rayon task: enough work to outweigh the task.
const ROWS_PER_TASK: usize = 16;

/// `x = gelu(x + bias)` over the rows of a contiguous `[rows, bias.len()]` f32 tensor.
pub(crate) fn bias_gelu(x: &Tensor, bias: &[f32]) -> Result<()> {
    x.inplace_op1(&BiasGelu { bias: Some(bias) })
}

/// `x = gelu(x)` over a contiguous f32 tensor.
pub(crate) fn gelu_in_place(x: &Tensor) -> Result<()> {
    x.inplace_op1(&BiasGelu { bias: None })
}

/// `y += bias` over the rows of a contiguous `[rows, bias.len()]` f32 tensor.
pub(crate) fn add_bias(y: &Tensor, bias: &[f32]) -> Result<()> {
    y.inplace_op1(&Bias { bias })
}

/// `y += bias + residual` over the rows of contiguous `[rows, bias.len()]` f32 tensors.
pub(crate) fn add_bias_and_residual(y: &Tensor, bias: &[f32], residual: &Tensor) -> Result<()> {
    y.inplace_op2(residual, &BiasResidual { bias })
}

/// `values = gelu(values + bias)` row by row, on plain values.
pub(crate) fn bias_gelu_rows(values: &mut [f32], bias: &[f32]) {
    let width = bias.len().max(1);
    values
        .par_chunks_mut(width * ROWS_PER_TASK)
        .for_each(|rows| {
            for row in rows.chunks_exact_mut(width) {
                for (x, &b) in row.iter_mut().zip(bias) {
                    *x = gelu(*x + b);
                }
            }
        });
}

/// `values += bias + residual` row by row, on plain values.
pub(crate) fn add_bias_and_residual_rows(values: &mut [f32], bias: &[f32], residual: &[f32]) {
    let width = bias.len().max(1);
    values
        .par_chunks_mut(width * ROWS_PER_TASK)
        .zip(residual.par_chunks(width * ROWS_PER_TASK))
        .for_each(|(rows, residual)| {
            for (row, residual) in rows
                .chunks_exact_mut(width)
                .zip(residual.chunks_exact(width))
            {
                for ((y, &b), &r) in row.iter_mut().zip(bias).zip(residual) {
                    *y += b + r;
                }
            }
        });
}

/// Softmax over the last dimension of a contiguous f32 tensor, in place.
pub(crate) fn softmax_in_place(x: &Tensor) -> Result<()> {
    x.inplace_op1(&Softmax)
}

struct BiasGelu<'b> {
    bias: Option<&'b [f32]>,
}

impl InplaceOp1 for BiasGelu<'_> {
    fn name(&self) -> &'static str {
        "bias-gelu"
    }

    fn cpu_fwd(&self, storage: &mut CpuStorage, layout: &Layout) -> Result<()> {
        let width = match self.bias {
            Some(bias) => bias.len(),
            None => layout.dims().last().copied().unwrap_or(1),
        };
        let values = contiguous_f32(storage, layout, width, self.name())?;
        match self.bias {
            Some(bias) => bias_gelu_rows(values, bias),
            None => values
                .par_chunks_mut(width * ROWS_PER_TASK)
                .for_each(|rows| rows.iter_mut().for_each(|x| *x = gelu(*x))),
        }
        Ok(())
    }
}

struct Bias<'b> {
    bias: &'b [f32],
}

impl InplaceOp1 for Bias<'_> {
    fn name(&self) -> &'static str {
        "bias"
    }

    fn cpu_fwd(&self, storage: &mut CpuStorage, layout: &Layout) -> Result<()> {
        let width = self.bias.len();
        let values = contiguous_f32(storage, layout, width, self.name())?;
        values
            .par_chunks_mut(width * ROWS_PER_TASK)
            .for_each(|rows| {
                for row in rows.chunks_exact_mut(width) {
                    row.iter_mut().zip(self.bias).for_each(|(y, &b)| *y += b);
                }
            });
        Ok(())
    }
}

struct BiasResidual<'b> {
    bias: &'b [f32],
}

impl InplaceOp2 for BiasResidual<'_> {
    fn name(&self) -> &'static str {
        "bias-residual"
    }

    fn cpu_fwd(
        &self,
        storage: &mut CpuStorage,
        layout: &Layout,
        residual: &CpuStorage,
        residual_layout: &Layout,
    ) -> Result<()> {
        let width = self.bias.len();
        let values = contiguous_f32(storage, layout, width, self.name())?;
        let CpuStorage::F32(residual) = residual else {
            candle_core::bail!("bias-residual needs an f32 residual");
        };
        let Some((start, end)) = residual_layout.contiguous_offsets() else {
            candle_core::bail!("bias-residual needs a contiguous residual");
        };
        if end - start != values.len() {
            candle_core::bail!("bias-residual: the residual is not the output's size");
        }
        add_bias_and_residual_rows(values, self.bias, &residual[start..end]);
        Ok(())
    }
}

struct Softmax;

impl InplaceOp1 for Softmax {
    fn name(&self) -> &'static str {
        "softmax-in-place"
    }

    fn cpu_fwd(&self, storage: &mut CpuStorage, layout: &Layout) -> Result<()> {
        let width = layout.dims().last().copied().unwrap_or(1);
        let values = contiguous_f32(storage, layout, width, self.name())?;
        values
            .par_chunks_mut(width * ROWS_PER_TASK)
            .for_each(|rows| rows.chunks_exact_mut(width).for_each(softmax_row));
        Ok(())
    }
}

/// The tensor's values as one mutable slice, refusing anything but contiguous f32 rows.
fn contiguous_f32<'s>(
    storage: &'s mut CpuStorage,
    layout: &Layout,
    width: usize,
    op: &str,
) -> Result<&'s mut [f32]> {
    let CpuStorage::F32(values) = storage else {
        candle_core::bail!("{op} needs f32 values");
    };
    let Some((start, end)) = layout.contiguous_offsets() else {
        candle_core::bail!("{op} needs a contiguous tensor");
    };
    let values = &mut values[start..end];
    if width == 0 || values.len() % width != 0 {
        candle_core::bail!("{op}: {} values are not rows of {width}", values.len());
    }
    Ok(values)
}

/// Softmax of one row in place; a row with every score `-inf` is left as it is.
pub(crate) fn softmax_row(row: &mut [f32]) {
    // Eight independent lanes, so the reductions vectorise without reassociating floats.
    let mut peaks = [f32::NEG_INFINITY; 8];
    let mut chunks = row.chunks_exact(8);
    for chunk in &mut chunks {
        for (p, &v) in peaks.iter_mut().zip(chunk) {
            *p = p.max(v);
        }
    }
    let peak = chunks
        .remainder()
        .iter()
        .chain(&peaks)
        .copied()
        .fold(f32::NEG_INFINITY, f32::max);
    if !peak.is_finite() {
        // Every score masked: no distribution to form; leave the row as it is.
        return;
    }
    let mut sums = [0f32; 8];
    let mut chunks = row.chunks_exact_mut(8);
    for chunk in &mut chunks {
        for (s, v) in sums.iter_mut().zip(chunk.iter_mut()) {
            *v = exp(*v - peak);
            *s += *v;
        }
    }
    let mut total: f32 = sums.iter().sum();
    for v in chunks.into_remainder() {
        *v = exp(*v - peak);
        total += *v;
    }
    let scale = 1.0 / total;
    row.iter_mut().for_each(|v| *v *= scale);
}

/// `e^x` for `x <= 0` down to -87 (0 below), branch-free so it vectorises.
#[inline(always)]
fn exp(x: f32) -> f32 {
    const LOG2_E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    // Adding 1.5 * 2^23 rounds to an integer held in the low mantissa bits: no float to
    // integer cast, whose saturating semantics would keep the loop scalar.
    const ROUND: f32 = 12_582_912.0;
    let x = x.max(-87.0);
    let shifted = x * LOG2_E + ROUND;
    let n = shifted - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = 1.0 / 720.0;
    let p = p * r + 1.0 / 120.0;
    let p = p * r + 1.0 / 24.0;
    let p = p * r + 1.0 / 6.0;
    let p = p * r + 0.5;
    let p = p * r + 1.0;
    let p = p * r + 1.0;
    let exponent = shifted
        .to_bits()
        .wrapping_sub(ROUND.to_bits())
        .wrapping_add(127);
    p * f32::from_bits(exponent << 23)
}

/// GELU with the exact (erf) form Whisper was trained with.
#[inline(always)]
fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

/// Abramowitz and Stegun 7.1.28.
#[inline(always)]
fn erf(x: f32) -> f32 {
    let a = x.abs();
    let p = 0.000_043_063_8f32;
    let p = p * a + 0.000_276_567_2;
    let p = p * a + 0.000_152_014_3;
    let p = p * a + 0.009_270_527;
    let p = p * a + 0.042_282_01;
    let p = p * a + 0.070_523_08;
    let p = p * a + 1.0;
    let p2 = p * p;
    let p4 = p2 * p2;
    let p8 = p4 * p4;
    let p16 = p8 * p8;
    (1.0 - 1.0 / p16).copysign(x)
}

#[cfg(test)]
mod tests {
    use candle_core::Device;

    use super::*;

    fn grid() -> Vec<f32> {
        (-800..=800).map(|i| i as f32 / 100.0).collect()
    }

    #[test]
    fn gelu_matches_candles_exact_gelu() {
        let xs = grid();
        let t = Tensor::new(xs.as_slice(), &Device::Cpu).expect("a tensor");
        let exact: Vec<f32> = t.gelu_erf().and_then(|g| g.to_vec1()).expect("gelu");
        for (x, want) in xs.iter().zip(exact) {
            let got = gelu(*x);
            assert!(
                (got - want).abs() < 2e-6 * (1.0 + x.abs()),
                "gelu({x}) = {got}, not {want}"
            );
        }
    }

    #[test]
    fn exp_matches_the_standard_library_over_attention_scores() {
        for x in grid().into_iter().map(|x| x * 10.0).filter(|&x| x <= 0.0) {
            let (got, want) = (exp(x), x.exp());
            assert!(
                (got - want).abs() <= 1e-6 * want + 1e-37,
                "exp({x}) = {got}, not {want}"
            );
        }
    }

    #[test]
    fn softmax_rows_sum_to_one_and_match_candle() {
        let values: Vec<f32> = (0..3 * 37)
            .map(|i| ((i * 13) % 17) as f32 * 0.7 - 4.0)
            .collect();
        let t = Tensor::from_vec(values, (3, 37), &Device::Cpu).expect("a tensor");
        let want: Vec<Vec<f32>> = candle_nn::ops::softmax_last_dim(&t)
            .and_then(|s| s.to_vec2())
            .expect("softmax");
        softmax_in_place(&t).expect("in place");
        let got: Vec<Vec<f32>> = t.to_vec2().expect("rows");
        for (g, w) in got.iter().zip(&want) {
            assert!((g.iter().sum::<f32>() - 1.0).abs() < 1e-5);
            for (a, b) in g.iter().zip(w) {
                assert!((a - b).abs() < 1e-6, "{a} vs {b}");
            }
        }
    }

    #[test]
    fn bias_is_added_before_gelu() {
        let t = Tensor::new(&[[0.0f32, 1.0], [2.0, -1.0]], &Device::Cpu).expect("a tensor");
        bias_gelu(&t, &[1.0, -1.0]).expect("in place");
        let got: Vec<Vec<f32>> = t.to_vec2().expect("rows");
        let want = [[gelu(1.0), gelu(0.0)], [gelu(3.0), gelu(-2.0)]];
        assert_eq!(got, want);
    }
}
