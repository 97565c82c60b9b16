//! Retrieved passages as the contract's citations, with their podcast and episode
//! looked up once per request.

use std::collections::HashMap;

use podwise_common::ServiceError;
use podwise_common::stores::catalog::{Episode, Podcast};
use podwise_proto::common::v1::TimeSpan;
use podwise_proto::rag::v1::Citation;

use super::compose::{Source, snippet};
use crate::library::Library;
use crate::search::Passage;

/// The longest snippet a citation quotes, in characters.
const SNIPPET_CHARS: usize = 200;

/// Catalog records already fetched for this request.
#[derive(Debug, Default)]
pub struct Lookups {
    episodes: HashMap<String, Episode>,
    podcasts: HashMap<String, Podcast>,
}

impl Lookups {
    pub async fn episode(
        &mut self,
        library: &Library,
        id: &str,
    ) -> Result<(Episode, Podcast), ServiceError> {
        if !self.episodes.contains_key(id) {
            let episode = library.catalog.episode(id).await?;
            self.episodes.insert(id.to_owned(), episode);
        }
        let episode = self.episodes[id].clone();
        if !self.podcasts.contains_key(&episode.podcast_id) {
            let podcast = library.catalog.podcast(&episode.podcast_id).await?;
            self.podcasts.insert(podcast.id.clone(), podcast);
        }
        let podcast = self.podcasts[&episode.podcast_id].clone();
        Ok((episode, podcast))
    }
}

/// Citations for `passages`, in order, and the sources the answer is written from.
/// A passage whose episode was removed since it was indexed is skipped.
///
/// # Errors
/// When the catalog is unavailable.
pub async fn cite(
    library: &Library,
    passages: &[Passage],
) -> Result<(Vec<Citation>, Vec<Source>), ServiceError> {
    let mut lookups = Lookups::default();
    let mut citations = Vec::with_capacity(passages.len());
    let mut sources = Vec::with_capacity(passages.len());
    for passage in passages {
        let record = &passage.record;
        let (episode, podcast) = match lookups.episode(library, &record.episode_id).await {
            Ok(found) => found,
            Err(ServiceError::NotFound(_)) => continue,
            Err(other) => return Err(other),
        };
        let start = record.start_ms as f64 / 1000.0;
        citations.push(Citation {
            podcast_id: podcast.id.clone(),
            podcast_title: podcast.title.clone(),
            episode_id: episode.id.clone(),
            episode_title: episode.title.clone(),
            span: Some(TimeSpan {
                start_seconds: start,
                end_seconds: record.end_ms as f64 / 1000.0,
            }),
            snippet: snippet(&record.text, SNIPPET_CHARS),
            score: passage.relevance(),
            audio_object_key: episode.audio_key.clone().unwrap_or_default(),
            preview_object_key: episode.preview_key.clone().unwrap_or_default(),
        });
        sources.push(Source {
            podcast_title: podcast.title,
            episode_title: episode.title,
            start_seconds: start,
            text: record.text.clone(),
        });
    }
    Ok((citations, sources))
}
