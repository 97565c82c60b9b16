//! What the vector store holds and answers, the same for both adapters.

use serde::{Deserialize, Serialize};

use crate::stores::StoreError;

/// A chunk of a transcript, as stored beside its embedding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkRecord {
    /// Stable across re-ingestion (derived from the episode and position), so writing
    /// the same chunk again replaces it.
    pub chunk_id: String,
    pub episode_id: String,
    pub podcast_id: String,
    pub category: String,
    pub start_ms: i64,
    pub end_ms: i64,
    pub tags: Vec<String>,
    pub text: String,
}

/// A chunk with its embedding. The store keeps the vector scaled to unit length, which
/// is what reading it back gives.
#[derive(Debug, Clone, PartialEq)]
pub struct ChunkVector {
    pub record: ChunkRecord,
    pub vector: Vec<f32>,
}

/// Which chunks a search may return; empty parts do not restrict.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VectorFilter {
    pub category: Option<String>,
    /// Only chunks of these podcasts.
    pub podcast_ids: Vec<String>,
}

impl VectorFilter {
    /// Whether a chunk passes the filter.
    pub fn accepts(&self, record: &ChunkRecord) -> bool {
        self.category.as_ref().is_none_or(|c| *c == record.category)
            && (self.podcast_ids.is_empty() || self.podcast_ids.contains(&record.podcast_id))
    }
}

/// One search result: the chunk and its cosine similarity to the query (1 = same
/// direction).
#[derive(Debug, Clone, PartialEq)]
pub struct VectorHit {
    pub record: ChunkRecord,
    pub score: f32,
}

/// The longest text, id or tag list one chunk may carry, in bytes: Milvus's VarChar
/// limit, enforced in both adapters so they accept the same chunks.
pub const MAX_TEXT_BYTES: usize = 65_535;
pub const MAX_ID_BYTES: usize = 128;
pub const MAX_TAGS_BYTES: usize = 4_096;

impl ChunkRecord {
    /// The tags as one string with a separator on both ends (`|a|b|`), so a tag can be
    /// matched whole by a substring filter.
    pub(super) fn joined_tags(&self) -> String {
        if self.tags.is_empty() {
            return String::new();
        }
        format!("|{}|", self.tags.join("|"))
    }

    pub(super) fn split_tags(joined: &str) -> Vec<String> {
        joined
            .split('|')
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// Refuses chunks that either adapter could not store whole.
    pub(super) fn validate(&self) -> Result<(), StoreError> {
        let invalid = |what: &str| {
            Err(StoreError::Invalid(format!(
                "chunk {:?}: {what}",
                self.chunk_id
            )))
        };
        for (name, id) in [
            ("chunk id", &self.chunk_id),
            ("episode id", &self.episode_id),
            ("podcast id", &self.podcast_id),
            ("category", &self.category),
        ] {
            if id.is_empty() || id.len() > MAX_ID_BYTES {
                return invalid(&format!("the {name} must be 1 to {MAX_ID_BYTES} bytes"));
            }
        }
        if self.tags.iter().any(|t| t.is_empty() || t.contains('|')) {
            return invalid("a tag is empty or contains '|'");
        }
        if self.joined_tags().len() > MAX_TAGS_BYTES {
            return invalid(&format!("the tags exceed {MAX_TAGS_BYTES} bytes"));
        }
        if self.text.len() > MAX_TEXT_BYTES {
            return invalid(&format!("the text exceeds {MAX_TEXT_BYTES} bytes"));
        }
        if self.end_ms < self.start_ms {
            return invalid("it ends before it starts");
        }
        Ok(())
    }
}

/// The vector scaled to unit length, or why it cannot be stored or searched with: the
/// wrong dimension, a NaN or infinite component, or no direction at all (all zeros).
pub(super) fn unit_vector(vector: &[f32], dimension: usize) -> Result<Vec<f32>, StoreError> {
    super::hnsw::unit_vector(vector, dimension).map_err(|e| StoreError::Invalid(e.to_string()))
}
