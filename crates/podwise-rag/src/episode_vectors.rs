//! Each episode's mean chunk embedding, for content-based recommendations: an episode
//! nobody has listened to yet can still be recommended for sounding like one liked.

use podwise_common::ServiceError;
use podwise_common::stores::catalog::Page;
use podwise_proto::rag::v1::{EpisodeVector, GetEpisodeVectorsRequest, GetEpisodeVectorsResponse};

use crate::library::Library;

const DEFAULT_PAGE: u32 = 100;

/// The requested episodes' vectors, or a page of every episode's.
///
/// # Errors
/// `InvalidArgument` for a page token this service did not give; `NotFound` for a named
/// episode the catalog does not know; the stores' unavailability.
pub async fn episode_vectors(
    library: &Library,
    request: &GetEpisodeVectorsRequest,
) -> Result<GetEpisodeVectorsResponse, ServiceError> {
    let (episodes, next_page_token) = if request.episode_ids.is_empty() {
        let offset: u32 = match request.page_token.as_str() {
            "" => 0,
            token => token.parse().map_err(|_| {
                ServiceError::InvalidArgument(format!("page_token {token:?} is not one of ours"))
            })?,
        };
        let limit = match request.page_size {
            0 => DEFAULT_PAGE,
            n => n.min(Page::MAX_LIMIT),
        };
        let page = library
            .catalog
            .search_episodes("", None, Page { limit, offset })
            .await?;
        let next = if page.len() as u32 == limit {
            (offset + limit).to_string()
        } else {
            String::new()
        };
        (page, next)
    } else {
        let mut named = Vec::with_capacity(request.episode_ids.len());
        for id in &request.episode_ids {
            named.push(library.catalog.episode(id).await?);
        }
        (named, String::new())
    };

    let mut vectors = Vec::with_capacity(episodes.len());
    for episode in episodes {
        let chunks = library.vectors.episode_chunks(&episode.id).await?;
        let Some(first) = chunks.first() else {
            // Not indexed yet: it has no content to compare.
            continue;
        };
        let mut mean = vec![0.0f32; first.vector.len()];
        for chunk in &chunks {
            for (sum, value) in mean.iter_mut().zip(&chunk.vector) {
                *sum += value;
            }
        }
        let norm = mean.iter().map(|v| v * v).sum::<f32>().sqrt();
        if norm > 0.0 {
            mean.iter_mut().for_each(|v| *v /= norm);
        }
        vectors.push(EpisodeVector {
            episode_id: episode.id,
            podcast_id: episode.podcast_id,
            mean_vector: mean,
            chunk_count: u32::try_from(chunks.len()).unwrap_or(u32::MAX),
        });
    }
    Ok(GetEpisodeVectorsResponse {
        episodes: vectors,
        next_page_token,
        model: library.settings.embedding_model.clone(),
    })
}
