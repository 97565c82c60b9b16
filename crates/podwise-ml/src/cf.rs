//! Collaborative filtering: the candidate models and the one chosen to serve.
//!
//! Three personal models are trained and compared offline ([`crate::evaluate`]): the
//! matrix factorisation ([`als`]), the item-item neighbours ([`knn`]) and an even blend
//! of the two; popularity is the baseline each must beat. Whichever scores the best NDCG
//! on held-out feedback is the one that serves.

pub mod als;
pub mod knn;

use std::fmt;
use std::str::FromStr;

use podwise_common::settings::MlSettings;

use crate::interactions::Interactions;
use als::{Als, AlsParams};
use knn::ItemKnn;

/// Share of the matrix factorisation in the blend (the neighbours get the rest).
const BLEND_ALS_SHARE: f32 = 0.5;

/// The models compared by offline evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Candidate {
    Popularity,
    Als,
    ItemKnn,
    Blend,
}

impl Candidate {
    pub const ALL: [Candidate; 4] = [Self::Popularity, Self::Als, Self::ItemKnn, Self::Blend];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Popularity => "popularity",
            Self::Als => "als",
            Self::ItemKnn => "item_knn",
            Self::Blend => "blend",
        }
    }

    fn needs_als(self) -> bool {
        matches!(self, Self::Als | Self::Blend)
    }

    fn needs_knn(self) -> bool {
        matches!(self, Self::ItemKnn | Self::Blend)
    }
}

impl fmt::Display for Candidate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Candidate {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str() == text)
            .ok_or_else(|| format!("{text:?} is not a model name"))
    }
}

/// What training needs besides the data.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CfParams {
    pub als: AlsParams,
    pub neighbours: usize,
}

impl CfParams {
    /// The operator's settings, with the seed that makes a training repeatable.
    pub fn from_settings(ml: &MlSettings, seed: u64) -> Self {
        Self {
            als: AlsParams {
                factors: ml.factors,
                iterations: ml.iterations,
                regularization: ml.regularization,
                confidence: ml.confidence,
                seed,
            },
            neighbours: ml.neighbours,
        }
    }
}

/// One trained collaborative model, whichever candidate it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Collaborative {
    pub kind: Candidate,
    pub als: Option<Als>,
    pub knn: Option<ItemKnn>,
    /// Users who showed interest in each item.
    pub popularity: Vec<u32>,
}

impl Collaborative {
    /// Trains what `kind` needs (and nothing more) on `data`.
    pub fn train(kind: Candidate, data: &Interactions, params: &CfParams) -> Self {
        Self::train_all(&[kind], data, params).remove(0)
    }

    /// Trains several candidates, sharing the component models between them.
    pub fn train_all(kinds: &[Candidate], data: &Interactions, params: &CfParams) -> Vec<Self> {
        let als = kinds
            .iter()
            .any(|k| k.needs_als())
            .then(|| Als::train(data, &params.als));
        let knn = kinds
            .iter()
            .any(|k| k.needs_knn())
            .then(|| ItemKnn::train(data, params.neighbours));
        let popularity = data.item_counts();
        kinds
            .iter()
            .map(|&kind| Self {
                kind,
                als: als.clone().filter(|_| kind.needs_als()),
                knn: knn.clone().filter(|_| kind.needs_knn()),
                popularity: popularity.clone(),
            })
            .collect()
    }

    /// Writes a score for every item into `out` for a user known by index (whose trained
    /// factors are used) or by positives alone (folded in). Scores compare within one
    /// call only.
    pub fn score_into(&self, user: Option<usize>, positives: &[(u32, f32)], out: &mut [f32]) {
        match self.kind {
            Candidate::Popularity => {
                for (score, &count) in out.iter_mut().zip(&self.popularity) {
                    *score = count as f32;
                }
            }
            Candidate::Als => self.als_scores(user, positives, out),
            Candidate::ItemKnn => {
                out.fill(0.0);
                if let Some(knn) = &self.knn {
                    knn.score_into(positives, out);
                }
            }
            Candidate::Blend => {
                let mut neighbour_scores = vec![0.0; out.len()];
                if let Some(knn) = &self.knn {
                    knn.score_into(positives, &mut neighbour_scores);
                }
                self.als_scores(user, positives, out);
                let als_max = max_positive(out);
                let knn_max = max_positive(&neighbour_scores);
                for (score, neighbour) in out.iter_mut().zip(&neighbour_scores) {
                    *score = BLEND_ALS_SHARE * *score / als_max
                        + (1.0 - BLEND_ALS_SHARE) * neighbour / knn_max;
                }
            }
        }
    }

    fn als_scores(&self, user: Option<usize>, positives: &[(u32, f32)], out: &mut [f32]) {
        let Some(als) = &self.als else {
            out.fill(0.0);
            return;
        };
        match user {
            Some(user) => als.score_into(als.user(user), out),
            None => als.score_into(&als.fold_in(positives), out),
        }
    }

    /// How strongly the model links two items, for explanations: the neighbours'
    /// similarity where known, else the cosine of the item factors.
    pub fn item_affinity(&self, a: u32, b: u32) -> f32 {
        if let Some(knn) = &self.knn {
            let similarity = knn.similarity(a, b);
            if similarity > 0.0 {
                return similarity;
            }
        }
        match &self.als {
            Some(als) => {
                let (x, y) = (als.item(a as usize), als.item(b as usize));
                let norms = (crate::vector::dot(x, x) * crate::vector::dot(y, y)).sqrt();
                if norms > 0.0 {
                    crate::vector::dot(x, y) / norms
                } else {
                    0.0
                }
            }
            None => 0.0,
        }
    }
}

/// The largest score, or 1 when none is positive (so dividing by it is safe).
fn max_positive(scores: &[f32]) -> f32 {
    let max = scores.iter().copied().fold(0.0f32, f32::max);
    if max > 0.0 { max } else { 1.0 }
}
