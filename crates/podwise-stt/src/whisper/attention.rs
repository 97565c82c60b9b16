//! The decoder's attention as one kernel: scores, softmax and the weighted sum of values
//! per head and query row, reading keys and values where they lie.
//!
//! Decoding runs one query row at a time against 1500 audio frames (and the tokens so
//! far). As matrix products those are 1-row gemm calls that candle sends down gemm's
//! generic path, plus a softmax pass; here each row is a stream of 64-wide dot products
//! and scaled additions the compiler vectorises, with nothing transposed or copied: the
//! keys and values are read in place, including the self-attention cache, a window into a
//! larger buffer.

use candle_core::{CpuStorage, CustomOp3, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use super::kernels::softmax_row;

/// `softmax(q k^T) v` for `q` `[heads, rows, head_dim]` (already scaled) over `keys` and
/// `values` `[heads, len, head_dim]`, whose rows must each be contiguous. With `causal`
/// set to the position of the first query row, row `i` sees only the first
/// `causal + i + 1` keys.
pub(crate) fn attend(
    q: &Tensor,
    keys: &Tensor,
    values: &Tensor,
    causal: Option<usize>,
) -> Result<Tensor> {
    q.apply_op3_no_bwd(keys, values, &Attention { causal })
}

struct Attention {
    causal: Option<usize>,
}

/// Where one `[heads, len, head_dim]` operand's rows are in its storage.
struct Rows<'a> {
    data: &'a [f32],
    offset: usize,
    head_stride: usize,
    row_stride: usize,
}

impl<'a> Rows<'a> {
    fn of(storage: &'a CpuStorage, layout: &Layout, what: &str) -> Result<(Self, [usize; 3])> {
        let data = storage.as_slice::<f32>()?;
        let &[heads, len, width] = layout.dims() else {
            candle_core::bail!("attention: {what} must be [heads, len, head_dim]");
        };
        let &[head_stride, row_stride, unit] = layout.stride() else {
            candle_core::bail!("attention: {what} must be [heads, len, head_dim]");
        };
        if unit != 1 && width > 1 {
            candle_core::bail!("attention: the rows of {what} must be contiguous");
        }
        let rows = Self {
            data,
            offset: layout.start_offset(),
            head_stride,
            row_stride,
        };
        Ok((rows, [heads, len, width]))
    }

    fn row(&self, head: usize, row: usize, width: usize) -> &'a [f32] {
        let at = self.offset + head * self.head_stride + row * self.row_stride;
        &self.data[at..at + width]
    }
}

impl CustomOp3 for Attention {
    fn name(&self) -> &'static str {
        "attention"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (q, [heads, rows, width]) = Rows::of(s1, l1, "the queries")?;
        let (k, [k_heads, len, k_width]) = Rows::of(s2, l2, "the keys")?;
        let (v, v_dims) = Rows::of(s3, l3, "the values")?;
        if [k_heads, k_width] != [heads, width] || v_dims != [heads, len, width] {
            candle_core::bail!("attention: queries, keys and values do not match");
        }
        let mut out = vec![0f32; heads * rows * width];
        if width > 0 {
            out.par_chunks_mut(rows * width)
                .enumerate()
                .for_each(|(head, out)| {
                    let mut weights = vec![0f32; len];
                    for (i, out) in out.chunks_exact_mut(width).enumerate() {
                        let seen = self.causal.map_or(len, |start| (start + i + 1).min(len));
                        let query = q.row(head, i, width);
                        for (j, w) in weights[..seen].iter_mut().enumerate() {
                            *w = dot(query, k.row(head, j, width));
                        }
                        softmax_row(&mut weights[..seen]);
                        for (j, &w) in weights[..seen].iter().enumerate() {
                            for (o, &x) in out.iter_mut().zip(v.row(head, j, width)) {
                                *o += w * x;
                            }
                        }
                    }
                });
        }
        Ok((CpuStorage::F32(out), Shape::from((heads, rows, width))))
    }
}

/// A dot product in eight independent lanes, so it vectorises.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0f32; 8];
    let (a8, b8) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = a8
        .remainder()
        .iter()
        .zip(b8.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in a8.zip(b8) {
        for ((l, x), y) in lanes.iter_mut().zip(x).zip(y) {
            *l += x * y;
        }
    }
    lanes.iter().sum::<f32>() + tail
}

#[cfg(test)]
mod tests {
    use candle_core::Device;

    use super::*;

    fn reference(q: &Tensor, k: &Tensor, v: &Tensor) -> Tensor {
        let scores = q.matmul(&k.t().expect("k^T")).expect("scores");
        let weights = candle_nn::ops::softmax_last_dim(&scores).expect("softmax");
        weights.matmul(v).expect("mixed")
    }

    fn close(a: &Tensor, b: &Tensor) {
        let diff: f32 = (a - b)
            .and_then(|d| d.abs())
            .and_then(|d| d.max_all())
            .and_then(|d| d.to_scalar())
            .expect("a difference");
        assert!(diff < 1e-5, "differs by {diff}");
    }

    #[test]
    fn one_query_row_matches_the_matrix_form() {
        let dev = Device::Cpu;
        let q = Tensor::randn(0f32, 1.0, (2, 1, 16), &dev).expect("q");
        let k = Tensor::randn(0f32, 1.0, (2, 37, 16), &dev).expect("k");
        let v = Tensor::randn(0f32, 1.0, (2, 37, 16), &dev).expect("v");
        close(
            &attend(&q, &k, &v, None).expect("attention"),
            &reference(&q, &k, &v),
        );
    }

    #[test]
    fn keys_read_through_a_window_of_a_larger_buffer() {
        let dev = Device::Cpu;
        let q = Tensor::randn(0f32, 1.0, (2, 1, 8), &dev).expect("q");
        let cache = Tensor::randn(0f32, 1.0, (2, 50, 8), &dev).expect("cache");
        let k = cache.narrow(1, 0, 20).expect("the first 20 rows");
        let v = (&k * 2.0).expect("v");
        let want = reference(&q, &k.contiguous().expect("k"), &v);
        close(&attend(&q, &k, &v, None).expect("attention"), &want);
    }

    #[test]
    fn causal_rows_see_only_earlier_keys() {
        let dev = Device::Cpu;
        let q = Tensor::randn(0f32, 1.0, (1, 3, 8), &dev).expect("q");
        let k = Tensor::randn(0f32, 1.0, (1, 5, 8), &dev).expect("k");
        let v = Tensor::randn(0f32, 1.0, (1, 5, 8), &dev).expect("v");
        // Queries at positions 2, 3 and 4 of five.
        let got = attend(&q, &k, &v, Some(2)).expect("attention");
        for i in 0..3 {
            let qi = q.narrow(1, i, 1).expect("row");
            let (ki, vi) = (
                k.narrow(1, 0, 3 + i).expect("k"),
                v.narrow(1, 0, 3 + i).expect("v"),
            );
            let want = reference(
                &qi,
                &ki.contiguous().expect("k"),
                &vi.contiguous().expect("v"),
            );
            close(&got.narrow(1, i, 1).expect("row"), &want);
        }
    }
}
