//! Offline evaluation: hold out part of each user's positives, train on the rest, rank
//! every item the user has not seen in training, and compare the top `k` with what was
//! held out. The same protocol picks the serving model and runs the MovieLens benchmark.

use crate::cf::{Candidate, CfParams, Collaborative};
use crate::interactions::Interactions;

/// Ranking quality at `k`, averaged over the evaluated users.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Metrics {
    pub precision: f64,
    pub recall: f64,
    pub ndcg: f64,
    /// Share of all items that appear in at least one user's top `k`.
    pub coverage: f64,
    pub users: usize,
}

/// Every candidate's metrics and the one chosen.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub k: usize,
    pub models: Vec<(Candidate, Metrics)>,
    pub chosen: Candidate,
}

/// Splits `data`, trains every candidate on the training part and scores it on the rest.
/// The chosen model has the best NDCG; popularity is chosen only when no personal model
/// beats it (as happens while there is hardly any feedback).
pub fn compare(
    data: &Interactions,
    params: &CfParams,
    k: usize,
    holdout_fraction: f64,
    seed: u64,
) -> Evaluation {
    let (train, test) = data.split(holdout_fraction, seed);
    let models = Collaborative::train_all(&Candidate::ALL, &train, params);
    let models: Vec<(Candidate, Metrics)> = models
        .iter()
        .map(|model| (model.kind, measure(model, &train, &test, k)))
        .collect();
    let chosen = models
        .iter()
        .filter(|(_, m)| m.users > 0)
        .max_by(|a, b| {
            a.1.ndcg
                .total_cmp(&b.1.ndcg)
                .then(rank(b.0).cmp(&rank(a.0)))
        })
        .map_or(Candidate::Popularity, |(c, _)| *c);
    Evaluation { k, models, chosen }
}

/// Share of each user's positives held out when training picks its model.
pub const VALIDATION_FRACTION: f64 = 0.2;

/// What training does: compares the candidates on a validation split of `data`, then
/// trains the winner on all of it.
pub fn select_and_train(
    data: &Interactions,
    params: &CfParams,
    k: usize,
    seed: u64,
) -> (Collaborative, Evaluation) {
    let evaluation = compare(data, params, k, VALIDATION_FRACTION, seed);
    let model = Collaborative::train(evaluation.chosen, data, params);
    (model, evaluation)
}

/// Ties go to the simpler model.
fn rank(candidate: Candidate) -> u8 {
    match candidate {
        Candidate::Popularity => 0,
        Candidate::ItemKnn => 1,
        Candidate::Als => 2,
        Candidate::Blend => 3,
    }
}

/// Scores `model` on the held-out items `test` (by user), ranking all items except
/// those seen in `train`.
pub fn measure(
    model: &Collaborative,
    train: &Interactions,
    test: &[Vec<u32>],
    k: usize,
) -> Metrics {
    let n_items = train.n_items();
    let mut scores = vec![0.0f32; n_items];
    let mut recommended = vec![false; n_items];
    let (mut precision, mut recall, mut ndcg, mut users) = (0.0, 0.0, 0.0, 0usize);
    for (user, held) in test.iter().enumerate() {
        if held.is_empty() {
            continue;
        }
        model.score_into(Some(user), train.positives(user), &mut scores);
        for &item in train.seen(user) {
            scores[item as usize] = f32::NEG_INFINITY;
        }
        let top = top_k(&scores, k);
        let mut hits = 0usize;
        let mut dcg = 0.0;
        for (position, &item) in top.iter().enumerate() {
            recommended[item as usize] = true;
            if held.binary_search(&item).is_ok() {
                hits += 1;
                dcg += 1.0 / (position as f64 + 2.0).log2();
            }
        }
        let ideal: f64 = (0..held.len().min(k))
            .map(|position| 1.0 / (position as f64 + 2.0).log2())
            .sum();
        precision += hits as f64 / k as f64;
        recall += hits as f64 / held.len() as f64;
        ndcg += dcg / ideal;
        users += 1;
    }
    let covered = recommended.iter().filter(|&&r| r).count();
    let per_user = |total: f64| {
        if users == 0 {
            0.0
        } else {
            total / users as f64
        }
    };
    Metrics {
        precision: per_user(precision),
        recall: per_user(recall),
        ndcg: per_user(ndcg),
        coverage: if n_items == 0 {
            0.0
        } else {
            covered as f64 / n_items as f64
        },
        users,
    }
}

/// The indices of the `k` highest finite scores, best first (ties by index).
pub fn top_k(scores: &[f32], k: usize) -> Vec<u32> {
    let mut ranked: Vec<u32> = (0..scores.len() as u32)
        .filter(|&i| scores[i as usize].is_finite())
        .collect();
    let order = |a: &u32, b: &u32| {
        scores[*b as usize]
            .total_cmp(&scores[*a as usize])
            .then(a.cmp(b))
    };
    if ranked.len() > k {
        ranked.select_nth_unstable_by(k, order);
        ranked.truncate(k);
    }
    ranked.sort_unstable_by(order);
    ranked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_k_skips_excluded_items_and_orders_best_first() {
        let scores = [0.1, f32::NEG_INFINITY, 0.9, 0.5, 0.9];
        assert_eq!(top_k(&scores, 3), vec![2, 4, 3]);
    }

    #[test]
    fn a_perfect_ranking_scores_one_and_a_useless_one_zero() {
        // One user; item 0 was seen in training, item 1 is held out.
        let train = Interactions::from_weighted(1, 3, [(0, 0, 1.0)]);
        let test = vec![vec![1]];
        let mut model = Collaborative {
            kind: Candidate::Popularity,
            als: None,
            knn: None,
            popularity: vec![5, 3, 1],
        };
        let good = measure(&model, &train, &test, 1);
        assert_eq!((good.precision, good.recall, good.ndcg), (1.0, 1.0, 1.0));
        model.popularity = vec![5, 1, 3];
        let bad = measure(&model, &train, &test, 1);
        assert_eq!((bad.precision, bad.ndcg), (0.0, 0.0));
    }
}
