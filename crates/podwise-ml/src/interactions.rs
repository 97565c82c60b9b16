//! The interaction matrix the models learn from: for each user, the episodes they showed
//! interest in with a positive weight, and every episode they gave any feedback on.
//!
//! Feedback is turned into weights by [`Weighting`]: each kind has its weight (negative
//! for skips and dislikes) and older events count less. The events of one user and one
//! episode are summed; only a positive sum is a sign of interest, but any feedback at
//! all marks the episode as seen, so it is never offered to that user again.

use std::time::Duration;

use podwise_common::settings::{FeedbackWeights, MlSettings};
use podwise_common::stores::catalog::FeedbackKind;

use crate::vector::Rng;

/// How feedback events become weights.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Weighting {
    pub weights: FeedbackWeights,
    /// `None`: no decay.
    pub half_life: Option<Duration>,
}

impl Weighting {
    pub fn from_settings(ml: &MlSettings) -> Self {
        Self {
            weights: ml.weights,
            half_life: ml.half_life,
        }
    }

    /// The weight of one event of `kind` at `at`, seen from `reference` (both Unix
    /// milliseconds): the kind's weight, halved for every half-life it is older.
    pub fn weight(&self, kind: FeedbackKind, at: i64, reference: i64) -> f32 {
        let w = &self.weights;
        let base = match kind {
            FeedbackKind::Liked => w.liked,
            FeedbackKind::Completed => w.completed,
            FeedbackKind::PreviewPlayed => w.preview_played,
            FeedbackKind::Skipped => w.skipped,
            FeedbackKind::Disliked => w.disliked,
        };
        match self.half_life {
            Some(half_life) if !half_life.is_zero() => {
                let age_ms = reference.saturating_sub(at).max(0) as f64;
                let half_lives = age_ms / half_life.as_millis() as f64;
                base * 0.5f64.powf(half_lives) as f32
            }
            _ => base,
        }
    }
}

/// Users × episodes, by dense indices.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Interactions {
    n_items: usize,
    /// Per user: `(item, weight)` with weight above 0, sorted by item.
    positives: Vec<Vec<(u32, f32)>>,
    /// Per user: every item with any feedback, sorted.
    seen: Vec<Vec<u32>>,
}

impl Interactions {
    /// Sums the weighted events `(user, item, weight)` per user and item.
    ///
    /// Indices must be below `n_users` and `n_items`.
    pub fn from_weighted(
        n_users: usize,
        n_items: usize,
        events: impl IntoIterator<Item = (u32, u32, f32)>,
    ) -> Self {
        let mut events: Vec<(u32, u32, f32)> = events.into_iter().collect();
        events.sort_unstable_by_key(|&(user, item, _)| (user, item));
        let mut positives = vec![Vec::new(); n_users];
        let mut seen = vec![Vec::new(); n_users];
        let mut i = 0;
        while i < events.len() {
            let (user, item, _) = events[i];
            let mut sum = 0.0;
            while i < events.len() && events[i].0 == user && events[i].1 == item {
                sum += events[i].2;
                i += 1;
            }
            seen[user as usize].push(item);
            if sum > 0.0 {
                positives[user as usize].push((item, sum));
            }
        }
        Self {
            n_items,
            positives,
            seen,
        }
    }

    /// Rebuilds the matrix from its stored parts: positive `(user, item, weight)`
    /// triples and each user's seen list. `None` when an index is out of range.
    pub fn restore(
        n_items: usize,
        n_users: usize,
        positives: Vec<(u32, u32, f32)>,
        seen: Vec<Vec<u32>>,
    ) -> Option<Self> {
        let in_range = |i: &u32| (*i as usize) < n_items;
        let valid = seen.len() == n_users
            && seen.iter().all(|s| s.iter().all(in_range))
            && positives
                .iter()
                .all(|(u, i, w)| (*u as usize) < n_users && in_range(i) && *w > 0.0);
        if !valid {
            return None;
        }
        let mut rows = vec![Vec::new(); n_users];
        for (user, item, weight) in positives {
            rows[user as usize].push((item, weight));
        }
        rows.iter_mut()
            .for_each(|r| r.sort_unstable_by_key(|&(i, _)| i));
        Some(Self {
            n_items,
            positives: rows,
            seen,
        })
    }

    pub fn n_users(&self) -> usize {
        self.positives.len()
    }

    pub fn n_items(&self) -> usize {
        self.n_items
    }

    /// The number of positive user-episode pairs.
    pub fn n_positives(&self) -> usize {
        self.positives.iter().map(Vec::len).sum()
    }

    /// A user's episodes of interest with their weights, by item.
    pub fn positives(&self, user: usize) -> &[(u32, f32)] {
        &self.positives[user]
    }

    /// Every episode the user gave feedback on, sorted.
    pub fn seen(&self, user: usize) -> &[u32] {
        &self.seen[user]
    }

    /// For each item, its users with their weights: the transpose of the positives.
    pub fn by_item(&self) -> Vec<Vec<(u32, f32)>> {
        let mut columns = vec![Vec::new(); self.n_items];
        for (user, row) in self.positives.iter().enumerate() {
            for &(item, weight) in row {
                columns[item as usize].push((user as u32, weight));
            }
        }
        columns
    }

    /// How many users showed interest in each item.
    pub fn item_counts(&self) -> Vec<u32> {
        let mut counts = vec![0u32; self.n_items];
        for row in &self.positives {
            for &(item, _) in row {
                counts[item as usize] += 1;
            }
        }
        counts
    }

    /// Holds out `fraction` of each user's positives at random (at least one, and never
    /// all, so every evaluated user keeps something to learn from). Users with fewer than
    /// two positives stay whole in training and are not evaluated. Held-out episodes
    /// leave the training data entirely, seen-marks included.
    pub fn split(&self, fraction: f64, seed: u64) -> (Interactions, Vec<Vec<u32>>) {
        let mut rng = Rng::new(seed);
        let mut train = self.clone();
        let mut test = vec![Vec::new(); self.n_users()];
        for (user, held_out) in test.iter_mut().enumerate() {
            let positives = &self.positives[user];
            if positives.len() < 2 {
                continue;
            }
            let held = ((positives.len() as f64 * fraction).round() as usize)
                .clamp(1, positives.len() - 1);
            let mut order: Vec<usize> = (0..positives.len()).collect();
            rng.shuffle(&mut order);
            let mut held_items: Vec<u32> = order[..held].iter().map(|&i| positives[i].0).collect();
            held_items.sort_unstable();
            train.positives[user].retain(|(item, _)| held_items.binary_search(item).is_err());
            train.seen[user].retain(|item| held_items.binary_search(item).is_err());
            *held_out = held_items;
        }
        (train, test)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weighting(half_life_days: Option<u64>) -> Weighting {
        Weighting {
            weights: FeedbackWeights {
                liked: 4.0,
                completed: 3.0,
                preview_played: 1.0,
                skipped: -1.0,
                disliked: -4.0,
            },
            half_life: half_life_days.map(|d| Duration::from_secs(d * 86_400)),
        }
    }

    #[test]
    fn an_event_one_half_life_old_counts_half() {
        let day = 86_400_000;
        let w = weighting(Some(10));
        assert_eq!(w.weight(FeedbackKind::Liked, 100 * day, 100 * day), 4.0);
        assert!((w.weight(FeedbackKind::Liked, 90 * day, 100 * day) - 2.0).abs() < 1e-5);
        assert_eq!(
            weighting(None).weight(FeedbackKind::Liked, 0, 100 * day),
            4.0
        );
    }

    #[test]
    fn a_dislike_cancels_interest_but_keeps_the_episode_seen() {
        let data = Interactions::from_weighted(1, 3, [(0, 1, 1.0), (0, 1, -4.0), (0, 2, 3.0)]);
        assert_eq!(data.positives(0), &[(2, 3.0)]);
        assert_eq!(data.seen(0), &[1, 2]);
    }

    #[test]
    fn the_split_holds_out_a_share_and_removes_it_from_training() {
        let events = (0..10).map(|item| (0, item, 1.0));
        let data = Interactions::from_weighted(1, 10, events);
        let (train, test) = data.split(0.2, 1);
        assert_eq!(test[0].len(), 2);
        assert_eq!(train.positives(0).len(), 8);
        for item in &test[0] {
            assert!(!train.seen(0).contains(item));
        }
    }
}
