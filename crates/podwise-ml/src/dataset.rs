//! Feedback events keyed by ids, turned into the dense [`Interactions`] the models use,
//! with the maps back from indices to ids.

use std::collections::HashMap;

use podwise_common::stores::catalog::FeedbackEvent;

use crate::interactions::{Interactions, Weighting};

/// The interaction matrix of a set of users and episodes.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// User ids by index: everyone with at least one event on a known episode.
    pub users: Vec<String>,
    pub interactions: Interactions,
    /// The newest event's time (Unix milliseconds): the point decay is measured from,
    /// so a model trained on old data is as confident as one trained on new data.
    pub reference_time: i64,
    /// Events about episodes not in the item list, left out.
    pub dropped_events: usize,
}

impl Dataset {
    /// Builds the matrix over `items` (episode ids by index) from `events`.
    pub fn build(
        items: &HashMap<&str, u32>,
        events: &[FeedbackEvent],
        weighting: &Weighting,
    ) -> Self {
        let reference_time = events.iter().map(|e| e.at).max().unwrap_or(0);
        let mut user_index: HashMap<&str, u32> = HashMap::new();
        let mut users: Vec<String> = Vec::new();
        let mut weighted = Vec::with_capacity(events.len());
        let mut dropped_events = 0;
        for event in events {
            let Some(&item) = items.get(event.episode_id.as_str()) else {
                dropped_events += 1;
                continue;
            };
            let user = *user_index.entry(event.user_id.as_str()).or_insert_with(|| {
                users.push(event.user_id.clone());
                (users.len() - 1) as u32
            });
            weighted.push((
                user,
                item,
                weighting.weight(event.kind, event.at, reference_time),
            ));
        }
        let interactions = Interactions::from_weighted(users.len(), items.len(), weighted);
        Self {
            users,
            interactions,
            reference_time,
            dropped_events,
        }
    }
}
