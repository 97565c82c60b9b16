//! The attention cache and grouped-query attention over it.
//!
//! Keys and values are kept in f32, position after position, per layer; a conversation's
//! cache grows as it goes and keeps its memory for the next one. The query heads that
//! share a key-value head are computed together, so each cached key and value is read
//! once per token rather than once per query head.

use super::kernels::dense::dot;

/// The attention shape of a model.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Heads {
    pub(crate) heads: usize,
    pub(crate) kv_heads: usize,
    pub(crate) head_dim: usize,
}

impl Heads {
    /// The width of all query heads together.
    pub(crate) fn q_dim(&self) -> usize {
        self.heads * self.head_dim
    }

    /// The width of all key (or value) heads together.
    pub(crate) fn kv_dim(&self) -> usize {
        self.kv_heads * self.head_dim
    }
}

/// Every layer's keys and values for the positions seen so far.
#[derive(Debug)]
pub(crate) struct KvCache {
    kv_dim: usize,
    /// Per layer, `[position][kv_dim]` keys and values.
    layers: Vec<(Vec<f32>, Vec<f32>)>,
}

impl KvCache {
    /// An empty cache for `layers` layers of `kv_dim` wide keys and values.
    pub(crate) fn new(layers: usize, kv_dim: usize) -> Self {
        Self {
            kv_dim,
            layers: (0..layers).map(|_| (Vec::new(), Vec::new())).collect(),
        }
    }

    /// The number of positions cached.
    pub(crate) fn len(&self) -> usize {
        self.layers
            .first()
            .map_or(0, |(k, _)| k.len() / self.kv_dim)
    }

    /// Forgets every position from `positions` on.
    pub(crate) fn truncate(&mut self, positions: usize) {
        for (keys, values) in &mut self.layers {
            keys.truncate(positions * self.kv_dim);
            values.truncate(positions * self.kv_dim);
        }
    }

    /// Appends one token's key and value to layer `layer`.
    pub(crate) fn push(&mut self, layer: usize, key: &[f32], value: &[f32]) {
        let (keys, values) = &mut self.layers[layer];
        keys.extend_from_slice(key);
        values.extend_from_slice(value);
    }

    /// Layer `layer`'s keys and values.
    pub(crate) fn layer(&self, layer: usize) -> (&[f32], &[f32]) {
        let (keys, values) = &self.layers[layer];
        (keys, values)
    }
}

/// The query heads of consecutive tokens: token `t`, at position `first + t`, has its
/// heads at `data[t * stride..]`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Queries<'a> {
    pub(crate) data: &'a [f32],
    pub(crate) stride: usize,
    pub(crate) first: usize,
    pub(crate) tokens: usize,
}

/// Causal attention of `queries` over the cached `keys` and `values`, which already hold
/// the queries' own positions; token `t`'s result goes to `out[t * q_dim..]`. `scores`
/// is scratch space, grown as needed.
pub(crate) fn attend(
    shape: Heads,
    keys: &[f32],
    values: &[f32],
    queries: Queries<'_>,
    out: &mut [f32],
    scores: &mut Vec<f32>,
) {
    let Queries {
        data: queries,
        stride,
        first,
        tokens,
    } = queries;
    let (hd, kv_dim) = (shape.head_dim, shape.kv_dim());
    let per_group = shape.heads / shape.kv_heads;
    let scale = 1.0 / (hd as f32).sqrt();
    for t in 0..tokens {
        let seen = first + t + 1;
        scores.resize(per_group * seen, 0.0);
        let query = &queries[t * stride..][..shape.q_dim()];
        let result = &mut out[t * shape.q_dim()..][..shape.q_dim()];
        for g in 0..shape.kv_heads {
            let heads = g * per_group..(g + 1) * per_group;
            let group_queries = &query[heads.start * hd..heads.end * hd];
            for (p, key) in keys.chunks_exact(kv_dim).take(seen).enumerate() {
                let key = &key[g * hd..][..hd];
                for (i, q) in group_queries.chunks_exact(hd).enumerate() {
                    scores[i * seen + p] = dot(q, key) * scale;
                }
            }
            let group_out = &mut result[heads.start * hd..heads.end * hd];
            for (weights, head_out) in scores
                .chunks_exact_mut(seen)
                .zip(group_out.chunks_exact_mut(hd))
            {
                super::ops::softmax(weights);
                weighted_sum(weights, &values[g * hd..], kv_dim, head_out);
            }
        }
    }
}

/// `out = Σ_p weights[p] × values[p * stride..][..out.len()]`: for the usual head widths
/// (64, 128) with the sums held in registers across the positions.
fn weighted_sum(weights: &[f32], values: &[f32], stride: usize, out: &mut [f32]) {
    match out.len() {
        64 => lanes::weighted_sum::<8>(weights, values, stride, out),
        128 => lanes::weighted_sum::<16>(weights, values, stride, out),
        width => {
            out.fill(0.0);
            for (p, &w) in weights.iter().enumerate() {
                let row = &values[p * stride..][..width];
                for (o, v) in out.iter_mut().zip(row) {
                    *o = w.mul_add(*v, *o);
                }
            }
        }
    }
}

#[cfg(target_feature = "avx2")]
mod lanes {
    use safe_arch::{
        fused_mul_add_m256, load_unaligned_m256, m256, set_splat_m256, store_unaligned_m256,
        zeroed_m256,
    };

    /// [`super::weighted_sum`] for `8 × N` wide rows.
    #[inline(always)]
    pub(super) fn weighted_sum<const N: usize>(
        weights: &[f32],
        values: &[f32],
        stride: usize,
        out: &mut [f32],
    ) {
        let mut sums: [m256; N] = [zeroed_m256(); N];
        for (p, &w) in weights.iter().enumerate() {
            let (row, _) = values[p * stride..][..8 * N].as_chunks::<8>();
            let w = set_splat_m256(w);
            for (s, v) in sums.iter_mut().zip(row) {
                *s = fused_mul_add_m256(w, load_unaligned_m256(v), *s);
            }
        }
        let (out, _) = out.as_chunks_mut::<8>();
        for (o, s) in out.iter_mut().zip(sums) {
            store_unaligned_m256(o, s);
        }
    }
}

#[cfg(any(test, not(target_feature = "avx2")))]
mod scalar {
    /// The AVX2 version lane by lane.
    pub(super) fn weighted_sum<const N: usize>(
        weights: &[f32],
        values: &[f32],
        stride: usize,
        out: &mut [f32],
    ) {
        out.fill(0.0);
        for (p, &w) in weights.iter().enumerate() {
            let row = &values[p * stride..][..8 * N];
            for (o, v) in out.iter_mut().zip(row) {
                *o = w.mul_add(*v, *o);
            }
        }
    }
}

#[cfg(not(target_feature = "avx2"))]
use self::scalar as lanes;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vector_weighted_sum_matches_the_scalar_one_bit_for_bit() {
        let (positions, stride) = (37, 200);
        let weights: Vec<f32> = (0..positions).map(|p| 1.0 / (p as f32 + 1.5)).collect();
        let values: Vec<f32> = (0..positions * stride)
            .map(|i| (i as f32 * 0.37).sin())
            .collect();
        let (mut vector, mut scalar) = ([0.0; 128], [0.0; 128]);
        lanes::weighted_sum::<16>(&weights, &values[8..], stride, &mut vector);
        scalar::weighted_sum::<16>(&weights, &values[8..], stride, &mut scalar);
        assert_eq!(vector, scalar);
    }

    #[test]
    fn a_single_position_returns_its_value() {
        let shape = Heads {
            heads: 2,
            kv_heads: 1,
            head_dim: 4,
        };
        let keys = [0.3, -1.0, 2.0, 0.5];
        let values = [1.0, 2.0, 3.0, 4.0];
        let queries = [0.1, 0.2, 0.3, 0.4, -0.5, 0.6, -0.7, 0.8];
        let mut out = [0.0; 8];
        let queries = Queries {
            data: &queries,
            stride: 8,
            first: 0,
            tokens: 1,
        };
        attend(shape, &keys, &values, queries, &mut out, &mut Vec::new());
        assert_eq!(out, [1.0, 2.0, 3.0, 4.0, 1.0, 2.0, 3.0, 4.0]);
    }

    #[test]
    fn later_tokens_see_more_positions_and_earlier_ones_do_not_see_the_future() {
        let shape = Heads {
            heads: 1,
            kv_heads: 1,
            head_dim: 2,
        };
        let keys = [1.0, 0.0, 1.0, 0.0];
        let values = [2.0, 0.0, 4.0, 0.0];
        let queries = [1.0, 1.0, 1.0, 1.0];
        let mut out = [0.0; 4];
        let queries = Queries {
            data: &queries,
            stride: 2,
            first: 0,
            tokens: 2,
        };
        attend(shape, &keys, &values, queries, &mut out, &mut Vec::new());
        // Token 0 sees only position 0; token 1 weighs both equally (same key).
        assert_eq!(out, [2.0, 0.0, 3.0, 0.0]);
    }
}
