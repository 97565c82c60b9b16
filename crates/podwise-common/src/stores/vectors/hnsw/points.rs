//! Points: the vectors of the index, stored flat, and the one distance the graph uses.
//!
//! Every vector is scaled to unit length on the way in, so cosine similarity becomes a
//! plain dot product and the distance between two points is `1 - dot`. The dot product
//! is the hot loop of both building and searching. It sums into many independent lanes
//! because floating-point addition is not associative: with a single accumulator the
//! compiler must add the products one after the other, while independent lanes let it
//! fill several SIMD registers at once.

use super::HnswError;

/// How many partial sums [`dot`] keeps apart: four registers of eight `f32` with AVX.
const LANES: usize = 32;

/// The dot product of two slices of the same length.
pub(super) fn dot(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len(), "dot product of unequal lengths");
    let (blocks_a, tail_a) = a.as_chunks::<LANES>();
    let (blocks_b, tail_b) = b.as_chunks::<LANES>();

    let mut lanes = [0.0_f32; LANES];
    for (block_a, block_b) in blocks_a.iter().zip(blocks_b) {
        for ((lane, x), y) in lanes.iter_mut().zip(block_a).zip(block_b) {
            *lane += x * y;
        }
    }

    let tail: f32 = tail_a.iter().zip(tail_b).map(|(x, y)| x * y).sum();
    lanes.iter().sum::<f32>() + tail
}

/// Checks a caller's vector and returns it scaled to unit length.
///
/// # Errors
/// When its length is not `dimension`, a component is NaN or infinite, or every
/// component is zero (a zero vector has no direction, so no cosine).
pub fn normalised(vector: &[f32], dimension: usize) -> Result<Vec<f32>, HnswError> {
    if vector.len() != dimension {
        return Err(HnswError::WrongDimension {
            expected: dimension,
            actual: vector.len(),
        });
    }
    if !vector.iter().all(|x| x.is_finite()) {
        return Err(HnswError::NotFinite);
    }

    // Summed in f64: squares of large components could overflow f32 on the way.
    let norm = vector
        .iter()
        .map(|&x| f64::from(x) * f64::from(x))
        .sum::<f64>()
        .sqrt();
    if norm == 0.0 {
        return Err(HnswError::ZeroVector);
    }
    Ok(vector
        .iter()
        .map(|&x| (f64::from(x) / norm) as f32)
        .collect())
}

/// Unit vectors of one dimension, one after the other in slot order.
#[derive(Debug, Clone)]
pub(super) struct Points {
    dimension: usize,
    data: Vec<f32>,
}

impl Points {
    pub(super) fn new(dimension: usize) -> Self {
        Self {
            dimension,
            data: Vec::new(),
        }
    }

    /// Takes over vectors that were already normalised (when loading a saved index).
    pub(super) fn from_flat(dimension: usize, data: Vec<f32>) -> Self {
        debug_assert_eq!(data.len() % dimension, 0, "a partial vector");
        Self { dimension, data }
    }

    pub(super) fn dimension(&self) -> usize {
        self.dimension
    }

    pub(super) fn len(&self) -> usize {
        self.data.len() / self.dimension
    }

    pub(super) fn flat(&self) -> &[f32] {
        &self.data
    }

    /// Appends a unit vector; its slot is the previous [`len`](Self::len).
    pub(super) fn push(&mut self, unit: &[f32]) {
        debug_assert_eq!(unit.len(), self.dimension);
        self.data.extend_from_slice(unit);
    }

    /// The vector in `slot`, which must exist.
    pub(super) fn get(&self, slot: u32) -> &[f32] {
        let start = slot as usize * self.dimension;
        &self.data[start..start + self.dimension]
    }

    /// The distance from a unit `query` to the point in `slot`: 0 for the same direction,
    /// 1 for orthogonal, 2 for opposite.
    pub(super) fn distance(&self, query: &[f32], slot: u32) -> f32 {
        1.0 - dot(query, self.get(slot))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dot_product_matches_a_plain_sum_at_every_length() {
        for len in 0..=100 {
            let a: Vec<f32> = (0..len).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..len).map(|i| (i as f32 * 0.11).cos()).collect();
            let plain: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
            assert!((dot(&a, &b) - plain).abs() < 1e-4, "length {len}");
        }
    }

    #[test]
    fn normalising_keeps_the_direction_and_gives_unit_length() {
        let unit = normalised(&[3.0, 0.0, 4.0], 3).expect("a valid vector");
        assert_eq!(unit, vec![0.6, 0.0, 0.8]);
        assert!((dot(&unit, &unit) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn normalising_refuses_zero_and_non_finite_vectors() {
        assert_eq!(normalised(&[0.0; 4], 4), Err(HnswError::ZeroVector));
        assert_eq!(normalised(&[1.0, f32::NAN], 2), Err(HnswError::NotFinite));
        assert_eq!(
            normalised(&[1.0, f32::INFINITY], 2),
            Err(HnswError::NotFinite)
        );
    }
}
