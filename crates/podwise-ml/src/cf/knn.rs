//! Item-item neighbours: two episodes are close when the same listeners showed interest
//! in both (cosine of their binary user columns, shrunk towards zero when only a few
//! listeners share them). A listener's score for an episode is the sum of its similarity
//! to each episode they liked, times how much they liked it.

use crate::interactions::Interactions;

/// Damps similarities resting on few shared listeners: with this many shared, a
/// similarity keeps about half its value.
const SHRINK: f32 = 10.0;

/// Each item's nearest items, most similar first.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ItemKnn {
    pub neighbours: Vec<Vec<(u32, f32)>>,
}

impl ItemKnn {
    /// Keeps the `k` nearest neighbours of each item.
    pub fn train(data: &Interactions, k: usize) -> Self {
        let counts = data.item_counts();
        let columns = data.by_item();
        let mut shared = vec![0u32; data.n_items()];
        let mut touched: Vec<u32> = Vec::new();
        let mut neighbours = Vec::with_capacity(data.n_items());
        for (item, users) in columns.iter().enumerate() {
            for &(user, _) in users {
                for &(other, _) in data.positives(user as usize) {
                    if other as usize == item {
                        continue;
                    }
                    if shared[other as usize] == 0 {
                        touched.push(other);
                    }
                    shared[other as usize] += 1;
                }
            }
            let mut row: Vec<(u32, f32)> = touched
                .iter()
                .map(|&other| {
                    let both = shared[other as usize] as f32;
                    let norm = (counts[item] as f32 * counts[other as usize] as f32).sqrt();
                    (other, both / norm * both / (both + SHRINK))
                })
                .collect();
            for &other in &touched {
                shared[other as usize] = 0;
            }
            touched.clear();
            keep_best(&mut row, k);
            neighbours.push(row);
        }
        Self { neighbours }
    }

    /// Adds the score of every item for a user with these positives to `out`.
    pub fn score_into(&self, positives: &[(u32, f32)], out: &mut [f32]) {
        for &(item, weight) in positives {
            if let Some(row) = self.neighbours.get(item as usize) {
                for &(other, similarity) in row {
                    out[other as usize] += weight * similarity;
                }
            }
        }
    }

    /// How similar two items are, or 0 when neither keeps the other as a neighbour.
    pub fn similarity(&self, a: u32, b: u32) -> f32 {
        let lookup = |from: u32, to: u32| {
            self.neighbours
                .get(from as usize)
                .and_then(|row| row.iter().find(|(other, _)| *other == to))
                .map(|&(_, s)| s)
        };
        lookup(a, b).or_else(|| lookup(b, a)).unwrap_or(0.0)
    }
}

/// Sorts `row` by descending score and keeps its first `k` entries.
pub(crate) fn keep_best(row: &mut Vec<(u32, f32)>, k: usize) {
    if row.len() > k {
        row.select_nth_unstable_by(k, |a, b| b.1.total_cmp(&a.1));
        row.truncate(k);
    }
    row.sort_unstable_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_liked_together_are_neighbours_and_others_are_not() {
        // Users 0-4 like items 0 and 1; users 5-9 like items 2 and 3.
        let events = (0..10u32).flat_map(|u| {
            let base = if u < 5 { 0 } else { 2 };
            [(u, base, 1.0), (u, base + 1, 1.0)]
        });
        let data = Interactions::from_weighted(10, 4, events);
        let knn = ItemKnn::train(&data, 10);
        assert_eq!(knn.neighbours[0].len(), 1);
        assert_eq!(knn.neighbours[0][0].0, 1);
        assert_eq!(knn.similarity(0, 2), 0.0);
        let mut scores = vec![0.0; 4];
        knn.score_into(&[(0, 1.0)], &mut scores);
        assert!(scores[1] > 0.0 && scores[2] == 0.0 && scores[3] == 0.0);
    }
}
