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
            for (p, key) in keys.chunks_exact(kv_dim).take(seen).enumerate() {
                let key = &key[g * hd..][..hd];
                for (i, h) in heads.clone().enumerate() {
                    scores[i * seen + p] = dot(&query[h * hd..][..hd], key) * scale;
                }
            }
            for row in scores.chunks_exact_mut(seen) {
                super::ops::softmax(row);
            }
            let group_out = &mut result[heads.start * hd..heads.end * hd];
            group_out.fill(0.0);
            for (p, value) in values.chunks_exact(kv_dim).take(seen).enumerate() {
                let value = &value[g * hd..][..hd];
                for (i, head_out) in group_out.chunks_exact_mut(hd).enumerate() {
                    let weight = scores[i * seen + p];
                    for (o, v) in head_out.iter_mut().zip(value) {
                        *o = weight.mul_add(*v, *o);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
