//! Turns what the catalog and the RAG service hold into a [`Model`]: the interaction
//! matrix, the candidate models compared offline, the winner trained on everything,
//! the content vectors placed by episode.

use std::collections::HashMap;

use podwise_common::settings::MlSettings;
use podwise_common::stores::catalog::{Category, EpisodeSummary, FeedbackEvent, FeedbackKind};

use crate::cf::CfParams;
use crate::content::{ContentIndex, FetchedVectors};
use crate::dataset::Dataset;
use crate::evaluate::select_and_train;
use crate::interactions::Weighting;
use crate::model::{EpisodeInfo, Model, ModelParts};

/// The seed of every training: the same data gives the same model.
pub const TRAINING_SEED: u64 = 0x5EED;
/// The cut-off the serving model is chosen at.
pub const SELECTION_K: usize = 10;

/// Everything a training reads.
#[derive(Debug, Clone, Default)]
pub struct TrainingInputs {
    pub episodes: Vec<EpisodeSummary>,
    pub categories: Vec<Category>,
    /// Oldest first, as the catalog lists them.
    pub events: Vec<FeedbackEvent>,
    pub vectors: FetchedVectors,
    pub now_ms: i64,
}

/// Trains a model from `inputs` with the operator's settings.
pub fn train(mut inputs: TrainingInputs, ml: &MlSettings) -> Model {
    // Items in publication order (undated first), so "newest" is a position.
    inputs
        .episodes
        .sort_by(|a, b| a.published_at.cmp(&b.published_at).then(a.id.cmp(&b.id)));
    let weighting = Weighting::from_settings(ml);
    let index: HashMap<&str, u32> = inputs
        .episodes
        .iter()
        .enumerate()
        .map(|(i, e)| (e.id.as_str(), i as u32))
        .collect();
    let dataset = Dataset::build(&index, &inputs.events, &weighting);
    let params = CfParams::from_settings(ml, TRAINING_SEED);
    let (cf, evaluation) =
        select_and_train(&dataset.interactions, &params, SELECTION_K, TRAINING_SEED);

    let user_index: HashMap<&str, usize> = dataset
        .users
        .iter()
        .enumerate()
        .map(|(i, u)| (u.as_str(), i))
        .collect();
    let mut liked = vec![Vec::new(); dataset.users.len()];
    for event in inputs
        .events
        .iter()
        .filter(|e| e.kind == FeedbackKind::Liked)
    {
        if let (Some(&u), Some(&i)) = (
            user_index.get(event.user_id.as_str()),
            index.get(event.episode_id.as_str()),
        ) {
            liked[u].push(i);
        }
    }
    for row in &mut liked {
        row.sort_unstable();
        row.dedup();
    }

    let entries: Vec<(u32, Vec<f32>)> = inputs
        .vectors
        .episodes
        .into_iter()
        .filter_map(|(id, v)| index.get(id.as_str()).map(|&i| (i, v)))
        .collect();
    let offered = entries.len();
    let (content, rejected) = ContentIndex::build(index.len(), inputs.vectors.model, entries);
    if rejected > 0 {
        tracing::warn!(
            rejected,
            offered,
            dim = content.dim,
            "episode vectors of a different length or all zero were left out"
        );
    }
    if dataset.dropped_events > 0 {
        tracing::info!(
            dropped = dataset.dropped_events,
            "feedback about episodes no longer in the catalog was left out"
        );
    }

    let episodes = inputs
        .episodes
        .into_iter()
        .map(|e| EpisodeInfo {
            quality: e.podcast_rating.map(|r| (r as f32 / 5.0).clamp(0.0, 1.0)),
            id: e.id,
            podcast_id: e.podcast_id,
            title: e.title,
            category_id: e.category_id,
            tags: e.tags,
        })
        .collect();
    let category_names = inputs
        .categories
        .into_iter()
        .map(|c| (c.id, c.name_zh))
        .collect();
    Model::new(ModelParts {
        version: format!("{}-{}", inputs.now_ms, cf.kind),
        trained_at_ms: inputs.now_ms,
        weighting,
        max_per_podcast: ml.max_per_podcast,
        episodes,
        category_names,
        users: dataset.users,
        interactions: dataset.interactions,
        liked,
        events: inputs.events.len() as u64,
        cf,
        content,
        evaluation: Some(evaluation),
    })
}
