//! Indexing one episode from its stored transcript: clean, chunk, tag, embed, then
//! replace what the stores held for it.
//!
//! Everything that can fail slowly (the embeddings) happens before the first write, and
//! the writes replace the episode's chunks whole, so running it twice leaves the same
//! state as running it once, and a retry after a failure repairs whatever was cut off.

use podwise_common::ServiceError;
use podwise_common::stores::catalog::{Episode, NewEpisode, TranscriptStatus};
use podwise_common::stores::documents::Transcript;
use podwise_common::stores::vectors::{ChunkRecord, ChunkVector};

use super::transcripts::seconds_to_ms;
use super::unchanged;
use crate::library::Library;
use crate::llm::Embedding;
use crate::text::TimedText;
use crate::text::chunk::{ChunkOptions, chunk};
use crate::text::clean::clean_segments;
use crate::text::language;
use crate::text::tags::TagVocabulary;
use crate::text::tokens::search_tokens;

/// Tags kept per chunk and per episode.
const CHUNK_TAGS: usize = 5;
const EPISODE_TAGS: usize = 8;

/// What indexing an episode produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Indexed {
    pub chunks: usize,
    pub tags: Vec<String>,
}

/// Indexes `episode_id` from the transcript in the documents.
///
/// # Errors
/// `NotFound` when the episode or its transcript is missing; `FailedPrecondition` when
/// cleaning leaves nothing to index; the stores' and the LLM service's failures.
pub async fn index_episode(library: &Library, episode_id: &str) -> Result<Indexed, ServiceError> {
    let episode = library.catalog.episode(episode_id).await?;
    let podcast = library.catalog.podcast(&episode.podcast_id).await?;
    let mut transcript = library
        .documents
        .transcript(episode_id)
        .await?
        .ok_or_else(|| ServiceError::NotFound(format!("episode {episode_id} has no transcript")))?;
    let language = match transcript.language.as_str() {
        "" => language::detect(&transcript.raw_text).to_owned(),
        given => given.to_owned(),
    };

    let segments = timed_segments(&transcript);
    let cleaned = clean_segments(&segments, &language);
    let chunks = chunk(&cleaned, &ChunkOptions::default());
    if chunks.is_empty() {
        return Err(ServiceError::FailedPrecondition(format!(
            "episode {episode_id}: nothing is left of the transcript after cleaning"
        )));
    }

    let vocabulary = TagVocabulary::builtin();
    let category = podcast.category_id.as_str();
    let cleaned_text: String = cleaned
        .iter()
        .map(|s| s.text.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    let tags = episode_tags(vocabulary, category, &episode, &cleaned_text);

    // The title gives a passage its context ("the episode about X says ..."), which the
    // embedding uses; the stored and quoted text is the passage alone.
    let passages: Vec<String> = chunks
        .iter()
        .map(|c| format!("{}\n{}", episode.title, c.text))
        .collect();
    let vectors = library.llm.embed(&passages, Embedding::Passage).await?;

    let records: Vec<ChunkRecord> = chunks
        .iter()
        .map(|c| ChunkRecord {
            chunk_id: format!("{episode_id}:{}", c.index),
            episode_id: episode_id.to_owned(),
            podcast_id: podcast.id.clone(),
            category: category.to_owned(),
            start_ms: seconds_to_ms(c.start),
            end_ms: seconds_to_ms(c.end).max(seconds_to_ms(c.start)),
            tags: vocabulary.tags_for(category, &c.text, CHUNK_TAGS),
            text: c.text.clone(),
        })
        .collect();
    let lexical: Vec<(ChunkRecord, Vec<String>)> = records
        .iter()
        .map(|r| (r.clone(), search_tokens(&r.text)))
        .collect();
    let stored: Vec<ChunkVector> = records
        .into_iter()
        .zip(vectors)
        .map(|(record, vector)| ChunkVector { record, vector })
        .collect();

    library.vectors.delete_episode(episode_id).await?;
    library.vectors.upsert(stored).await?;
    library.lexical_index().replace_episode(episode_id, lexical);

    transcript.language = language;
    transcript.cleaned_text = cleaned_text;
    library.documents.put_transcript(&transcript).await?;
    library
        .catalog
        .upsert_episode(&NewEpisode {
            tags: tags.clone(),
            ..unchanged(&episode)
        })
        .await?;
    library
        .catalog
        .set_transcript_status(episode_id, TranscriptStatus::Done)
        .await?;
    // Tells the other replicas to load these chunks into their word indexes.
    library.catalog.mark_indexed(episode_id).await?;
    Ok(Indexed {
        chunks: chunks.len(),
        tags,
    })
}

/// The tags the ingester gave (in their canonical form where the vocabulary knows
/// them) followed by those the transcript is most about.
fn episode_tags(
    vocabulary: &TagVocabulary,
    category: &str,
    episode: &Episode,
    cleaned_text: &str,
) -> Vec<String> {
    let mut tags: Vec<String> = Vec::new();
    let given = episode.tags.iter().map(|t| {
        vocabulary
            .canonical(t)
            .map_or_else(|| t.clone(), str::to_owned)
    });
    let found = vocabulary.tags_for_titled(category, &episode.title, cleaned_text, EPISODE_TAGS);
    for tag in given.chain(found) {
        if !tags.contains(&tag) && tags.len() < EPISODE_TAGS.max(episode.tags.len()) {
            tags.push(tag);
        }
    }
    tags
}

fn timed_segments(transcript: &Transcript) -> Vec<TimedText> {
    transcript
        .segments
        .iter()
        .map(|s| TimedText {
            start: s.start_ms as f64 / 1000.0,
            end: s.end_ms as f64 / 1000.0,
            text: s.text.clone(),
        })
        .collect()
}
