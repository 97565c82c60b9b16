//! Summaries of one episode: found by id or by a fuzzy match of its title, its key
//! moments chosen from its own chunks, and a short summary written from them.
//!
//! The key moments are the chunks closest to the episode's mean embedding, the passages
//! most representative of the whole, shown in the order they are spoken. The summary is
//! written by the LLM from those passages, or, with no LLM, is their first sentences.

use podwise_common::ServiceError;
use podwise_common::stores::catalog::{Episode, Page};
use podwise_common::stores::vectors::ChunkVector;
use podwise_common::traditional;
use podwise_proto::common::v1::TimeSpan;
use podwise_proto::rag::v1::{AnswerMode, Citation, KeyMoment, SummarizeResponse};

use super::compose::{Source, snippet};
use crate::library::Library;

/// Key moments a summary shows.
const KEY_MOMENTS: usize = 4;
/// The least title likeness (0 to 1) that counts as naming an episode.
const MIN_TITLE_MATCH: f32 = 0.34;

/// The episode `query` names by title, with how well it matched, if any does.
///
/// # Errors
/// When the catalog is unavailable.
pub async fn find_episode(
    library: &Library,
    query: &str,
) -> Result<Option<(Episode, f32)>, ServiceError> {
    let query = normalise(query);
    if query.is_empty() {
        return Ok(None);
    }
    let mut best: Option<(Episode, f32)> = None;
    let mut offset = 0;
    loop {
        let page = Page {
            limit: Page::MAX_LIMIT,
            offset,
        };
        let episodes = library.catalog.search_episodes("", None, page).await?;
        if episodes.is_empty() {
            break;
        }
        offset += Page::MAX_LIMIT;
        for episode in episodes {
            let likeness = title_likeness(&query, &normalise(&episode.title));
            if best.as_ref().is_none_or(|(_, b)| likeness > *b) {
                best = Some((episode, likeness));
            }
        }
    }
    Ok(best.filter(|(_, likeness)| *likeness >= MIN_TITLE_MATCH))
}

/// How much of the query's character pairs the title holds (0 to 1), so a query that
/// names part of a title ("半導體") still finds it, and word order barely matters.
fn title_likeness(query: &str, title: &str) -> f32 {
    let grams = |text: &str| -> Vec<(char, char)> {
        let chars: Vec<char> = text.chars().collect();
        if chars.len() == 1 {
            return vec![(chars[0], ' ')];
        }
        chars.windows(2).map(|w| (w[0], w[1])).collect()
    };
    let wanted = grams(query);
    if wanted.is_empty() {
        return 0.0;
    }
    let have = grams(title);
    let found = wanted.iter().filter(|g| have.contains(g)).count();
    found as f32 / wanted.len() as f32
}

/// Lowercase letters, digits and Han characters only, so punctuation and spacing do not
/// decide a match.
fn normalise(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// The episode's most representative chunks, in spoken order.
pub fn key_chunks(chunks: &[ChunkVector], count: usize) -> Vec<&ChunkVector> {
    let Some(first) = chunks.first() else {
        return Vec::new();
    };
    let mut mean = vec![0.0f32; first.vector.len()];
    for chunk in chunks {
        for (sum, value) in mean.iter_mut().zip(&chunk.vector) {
            *sum += value;
        }
    }
    let mut ranked: Vec<(usize, f32)> = chunks
        .iter()
        .enumerate()
        .map(|(at, chunk)| {
            let similarity: f32 = chunk.vector.iter().zip(&mean).map(|(a, b)| a * b).sum();
            (at, similarity)
        })
        .collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut chosen: Vec<usize> = ranked.into_iter().take(count).map(|(at, _)| at).collect();
    chosen.sort_unstable();
    chosen.into_iter().map(|at| &chunks[at]).collect()
}

/// The first sentence of a passage (or its opening, when it has no sentence end).
pub fn first_sentence(text: &str) -> String {
    let text = text.trim();
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let end = chars
        .iter()
        .enumerate()
        .find(|(i, (_, c))| {
            "。！？!?".contains(*c)
                || (*c == '.' && chars.get(i + 1).is_some_and(|(_, n)| n.is_whitespace()))
        })
        .map(|(_, (at, c))| at + c.len_utf8());
    match end {
        Some(end) if end <= 400 => text[..end].to_owned(),
        _ => snippet(text, 120),
    }
}

/// What a summary rests on: the episode, its key moments and the sources for writing.
#[derive(Debug)]
pub struct Material {
    pub episode: Citation,
    pub moments: Vec<KeyMoment>,
    pub sources: Vec<Source>,
}

/// The key moments of `episode`, or `None` when it has not been indexed yet.
///
/// # Errors
/// When the catalog or the vector store is unavailable.
pub async fn material(
    library: &Library,
    episode: &Episode,
    language: &str,
) -> Result<Option<Material>, ServiceError> {
    let podcast = library.catalog.podcast(&episode.podcast_id).await?;
    let chunks = library.vectors.episode_chunks(&episode.id).await?;
    if chunks.is_empty() {
        return Ok(None);
    }
    let key = key_chunks(&chunks, KEY_MOMENTS);
    let moments = key
        .iter()
        .map(|chunk| KeyMoment {
            span: Some(span(chunk)),
            text: localised(&first_sentence(&chunk.record.text), language),
        })
        .collect();
    let sources = key
        .iter()
        .map(|chunk| Source {
            podcast_title: podcast.title.clone(),
            episode_title: episode.title.clone(),
            start_seconds: chunk.record.start_ms as f64 / 1000.0,
            text: chunk.record.text.clone(),
        })
        .collect();
    let episode_citation = Citation {
        podcast_id: podcast.id.clone(),
        podcast_title: podcast.title.clone(),
        episode_id: episode.id.clone(),
        episode_title: episode.title.clone(),
        span: Some(TimeSpan {
            start_seconds: 0.0,
            end_seconds: chunks
                .last()
                .map_or(0.0, |c| c.record.end_ms as f64 / 1000.0),
        }),
        snippet: snippet(&episode.description, 200),
        score: 1.0,
        audio_object_key: episode.audio_key.clone().unwrap_or_default(),
        preview_object_key: episode.preview_key.clone().unwrap_or_default(),
    };
    Ok(Some(Material {
        episode: episode_citation,
        moments,
        sources,
    }))
}

/// The summary with no language model: the key moments' first sentences.
pub fn extractive_summary(material: &Material) -> String {
    material
        .moments
        .iter()
        .map(|moment| moment.text.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The response when no episode matches.
pub fn not_found(query: &str, language: &str) -> SummarizeResponse {
    let summary = if language == "en" {
        format!("No episode in the library matches \"{query}\".")
    } else {
        format!("節目庫裡沒有符合「{query}」的單集。")
    };
    SummarizeResponse {
        found: false,
        summary,
        episode: None,
        key_moments: Vec::new(),
        mode: AnswerMode::Gated as i32,
    }
}

/// Chinese in Traditional characters; other languages as they are.
pub fn localised(text: &str, language: &str) -> String {
    if language == "en" {
        text.to_owned()
    } else {
        traditional::convert(text)
    }
}

fn span(chunk: &ChunkVector) -> TimeSpan {
    TimeSpan {
        start_seconds: chunk.record.start_ms as f64 / 1000.0,
        end_seconds: chunk.record.end_ms as f64 / 1000.0,
    }
}

#[cfg(test)]
mod tests {
    use podwise_common::stores::vectors::ChunkRecord;

    use super::*;

    #[test]
    fn a_partial_or_reworded_title_still_matches_and_a_stranger_does_not() {
        let title = normalise("半導體的故事：從新竹到世界");
        assert!(title_likeness(&normalise("半導體"), &title) > 0.9);
        assert!(title_likeness(&normalise("新竹的半導體故事"), &title) >= MIN_TITLE_MATCH);
        assert!(title_likeness(&normalise("咖啡烘焙"), &title) < MIN_TITLE_MATCH);
        let english = normalise("How Habits Shape Learning");
        assert!(title_likeness(&normalise("habits"), &english) > 0.9);
    }

    fn chunk(index: usize, vector: Vec<f32>) -> ChunkVector {
        ChunkVector {
            record: ChunkRecord {
                chunk_id: format!("e:{index}"),
                episode_id: "e".into(),
                podcast_id: "p".into(),
                category: "business".into(),
                start_ms: index as i64 * 1000,
                end_ms: index as i64 * 1000 + 900,
                tags: Vec::new(),
                text: format!("第{index}段。"),
            },
            vector,
        }
    }

    #[test]
    fn key_chunks_are_the_most_central_in_spoken_order() {
        let chunks = vec![
            chunk(0, vec![0.0, 1.0]),
            chunk(1, vec![1.0, 0.0]),
            chunk(2, vec![0.9, 0.436]),
            chunk(3, vec![0.995, 0.1]),
        ];
        let key: Vec<&str> = key_chunks(&chunks, 2)
            .iter()
            .map(|c| c.record.chunk_id.as_str())
            .collect();
        assert_eq!(key, ["e:2", "e:3"]);
        assert!(key_chunks(&[], 3).is_empty());
    }

    #[test]
    fn the_first_sentence_ends_at_its_mark() {
        assert_eq!(first_sentence("第一句。第二句。"), "第一句。");
        assert_eq!(first_sentence("One. Two."), "One.");
        assert_eq!(
            first_sentence("It costs 3.5 dollars. Then"),
            "It costs 3.5 dollars."
        );
        assert_eq!(first_sentence("Is it? Yes."), "Is it?");
    }
}
