//! Finding the passages that answer a question: dense similarity from the vector store
//! and BM25 from the [`lexical`] index, fused by reciprocal rank, then reranked with the
//! question's tags, the listener's likes and the podcast's rating, keeping at most a
//! couple of passages per episode so one episode cannot fill the answer.

pub mod lexical;

use std::collections::{HashMap, HashSet};

use podwise_common::ServiceError;
use podwise_common::stores::vectors::{ChunkRecord, VectorFilter};

use crate::library::Library;
use crate::llm::Embedding;
use crate::text::tokens::search_tokens;

/// Candidates each retriever contributes before fusion.
pub const CANDIDATES: usize = 40;
/// The usual reciprocal-rank-fusion constant: ranks far down a list still count a little.
const RRF_K: f32 = 60.0;
/// Reranking weights, on a fused score normalised to 0..1.
const TAG_WEIGHT: f32 = 0.04;
const LIKED_WEIGHT: f32 = 0.05;
const RATING_WEIGHT: f32 = 0.03;
/// What the question's words found in a passage add to its relevance.
const COVERAGE_WEIGHT: f32 = 0.2;

/// What to search for and what to favour.
#[derive(Debug, Clone, Default)]
pub struct Query {
    pub text: String,
    pub k: usize,
    /// Only this category's chunks, when set.
    pub category: Option<String>,
    /// Only this podcast's chunks, when set.
    pub podcast_id: Option<String>,
    /// Chunks of these podcasts rank a little higher (what the listener liked).
    pub liked_podcasts: HashSet<String>,
    /// Chunks carrying these tags rank a little higher.
    pub tags: Vec<String>,
    /// Passages kept per episode.
    pub per_episode: usize,
}

/// One retrieved passage.
#[derive(Debug, Clone, PartialEq)]
pub struct Passage {
    pub record: ChunkRecord,
    /// Cosine similarity to the question (0 to 1 in practice). For a passage only the
    /// lexical index found, the dense search's last score: it cannot be more similar
    /// than that, or the dense search would have returned it.
    pub similarity: f32,
    /// How much of the question's weight the passage's words hold (0 to 1), see
    /// [`lexical::LexicalIndex::coverage`].
    pub coverage: f32,
    /// The rank-fused, reranked score the passages are ordered by.
    pub score: f32,
}

impl Passage {
    /// How well the passage answers (0 to 1), for the confidence gate: its similarity,
    /// raised by the share of the question's rarer words it holds. Similarity alone does
    /// not separate a question the library answers from one it does not, since a small
    /// embedding model finds every text somewhat alike.
    pub fn relevance(&self) -> f32 {
        (self.similarity + COVERAGE_WEIGHT * self.coverage) / (1.0 + COVERAGE_WEIGHT)
    }
}

/// The passages for `query`, best first.
///
/// # Errors
/// `Unavailable` when the LLM service (for the question's embedding) or the vector store
/// is down.
pub async fn search(library: &Library, query: &Query) -> Result<Vec<Passage>, ServiceError> {
    if query.k == 0 {
        return Ok(Vec::new());
    }
    let vector = library
        .llm
        .embed(std::slice::from_ref(&query.text), Embedding::Question)
        .await?
        .pop()
        .ok_or_else(|| ServiceError::BadUpstream("no embedding for the question".to_owned()))?;
    retrieve(library, query, &vector).await
}

/// [`search`] with the question's embedding already made: everything retrieval does
/// after the LLM service, which is what the retrieval benchmark times.
///
/// # Errors
/// `Unavailable` when the vector store is down; `InvalidArgument` for a vector of the
/// wrong dimension.
pub async fn retrieve(
    library: &Library,
    query: &Query,
    vector: &[f32],
) -> Result<Vec<Passage>, ServiceError> {
    if query.k == 0 {
        return Ok(Vec::new());
    }
    let filter = VectorFilter {
        category: query.category.clone(),
        podcast_ids: query.podcast_id.iter().cloned().collect(),
    };
    let dense = library.vectors.search(vector, CANDIDATES, &filter).await?;
    let tokens = search_tokens(&query.text);
    let lexical = library
        .lexical_reader()
        .search(&tokens, CANDIDATES, |record| filter.accepts(record));

    let floor = dense.last().map_or(0.0, |hit| hit.score);
    let mut fused: HashMap<String, Passage> = HashMap::new();
    for (rank, hit) in dense.into_iter().enumerate() {
        fused.insert(
            hit.record.chunk_id.clone(),
            Passage {
                record: hit.record,
                similarity: hit.score,
                coverage: 0.0,
                score: rrf(rank),
            },
        );
    }
    for (rank, hit) in lexical.into_iter().enumerate() {
        fused
            .entry(hit.record.chunk_id.clone())
            .and_modify(|passage| passage.score += rrf(rank))
            .or_insert(Passage {
                record: hit.record,
                similarity: floor,
                coverage: 0.0,
                score: rrf(rank),
            });
    }

    {
        let index = library.lexical_reader();
        for passage in fused.values_mut() {
            passage.coverage = index.coverage(&tokens, &passage.record);
        }
    }
    let ratings = podcast_ratings(library, fused.values()).await;
    let best_possible = 2.0 * rrf(0);
    let mut passages: Vec<Passage> = fused
        .into_values()
        .map(|mut passage| {
            let tag_overlap = passage
                .record
                .tags
                .iter()
                .filter(|tag| query.tags.contains(tag))
                .count()
                .min(2) as f32;
            let liked = query.liked_podcasts.contains(&passage.record.podcast_id);
            let rating = ratings
                .get(&passage.record.podcast_id)
                .copied()
                .unwrap_or(0.0);
            passage.score = passage.score / best_possible
                + TAG_WEIGHT * tag_overlap
                + if liked { LIKED_WEIGHT } else { 0.0 }
                + RATING_WEIGHT * rating;
            passage
        })
        .collect();
    passages.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| a.record.chunk_id.cmp(&b.record.chunk_id))
    });
    Ok(cap_per_episode(passages, query.per_episode.max(1), query.k))
}

fn rrf(rank: usize) -> f32 {
    1.0 / (RRF_K + rank as f32 + 1.0)
}

/// Keeps at most `per_episode` passages of each episode, and `k` in all.
fn cap_per_episode(passages: Vec<Passage>, per_episode: usize, k: usize) -> Vec<Passage> {
    let mut kept: HashMap<String, usize> = HashMap::new();
    passages
        .into_iter()
        .filter(|passage| {
            let count = kept.entry(passage.record.episode_id.clone()).or_default();
            *count += 1;
            *count <= per_episode
        })
        .take(k)
        .collect()
}

/// Each candidate podcast's rating scaled to 0..1 (a five-star scale); unrated podcasts
/// and a catalog that cannot answer count as 0, which only forgoes the small boost.
async fn podcast_ratings<'a>(
    library: &Library,
    passages: impl Iterator<Item = &'a Passage>,
) -> HashMap<String, f32> {
    let ids: HashSet<&str> = passages.map(|p| p.record.podcast_id.as_str()).collect();
    let mut ratings = HashMap::new();
    for id in ids {
        if let Ok(podcast) = library.catalog.podcast(id).await {
            let rating = podcast.rating.unwrap_or(0.0).clamp(0.0, 5.0) / 5.0;
            ratings.insert(id.to_owned(), rating as f32);
        }
    }
    ratings
}

#[cfg(test)]
mod tests {
    use super::*;

    fn passage(episode: &str, index: usize) -> Passage {
        Passage {
            record: ChunkRecord {
                chunk_id: format!("{episode}:{index}"),
                episode_id: episode.to_owned(),
                podcast_id: "p".to_owned(),
                category: "business".to_owned(),
                start_ms: 0,
                end_ms: 1,
                tags: Vec::new(),
                text: String::new(),
            },
            similarity: 0.9,
            coverage: 0.0,
            score: 1.0,
        }
    }

    #[test]
    fn no_episode_fills_the_list_beyond_its_share() {
        let passages = vec![
            passage("a", 0),
            passage("a", 1),
            passage("a", 2),
            passage("b", 0),
            passage("a", 3),
            passage("c", 0),
        ];
        let kept: Vec<String> = cap_per_episode(passages, 2, 4)
            .into_iter()
            .map(|p| p.record.chunk_id)
            .collect();
        assert_eq!(kept, ["a:0", "a:1", "b:0", "c:0"]);
    }

    #[test]
    fn a_higher_rank_always_fuses_to_more() {
        assert!(rrf(0) > rrf(1));
        assert!(rrf(0) + rrf(30) > rrf(1) + rrf(31));
    }
}
