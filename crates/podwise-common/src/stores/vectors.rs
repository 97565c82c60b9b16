//! Vectors: transcript chunks with their embeddings, searched by cosine similarity.
//!
//! Milvus in a cluster; embedded, an in-process [`hnsw`] index kept on disk under the
//! data directory. Both adapters take the same chunks and give the same answers:
//! vectors are checked and scaled to unit length here, before either sees them, and a
//! chunk id written twice keeps only its last write.

mod checksum;
mod embedded;
pub mod hnsw;
mod milvus;
mod model;

use std::collections::HashMap;

pub use embedded::{COMPACT_AFTER_BYTES, EmbeddedVectors};
pub use milvus::MilvusVectors;
pub use model::*;

use super::StoreError;
use crate::settings::{Profile, Settings};

/// The most results one search may ask for.
pub const MAX_SEARCH_K: usize = 1_000;

/// The vector store, backed by Milvus or by the embedded index.
#[derive(Debug, Clone)]
pub enum VectorStore {
    Milvus(MilvusVectors),
    Embedded(EmbeddedVectors),
}

impl VectorStore {
    /// Opens the adapter the settings' profile selects, for vectors of `dimension`
    /// components (the embedding model's). Milvus is contacted on first use; the
    /// embedded index is loaded from `<data dir>/vectors` now.
    ///
    /// # Errors
    /// `Invalid` when the embedded index holds vectors of another dimension or the
    /// Milvus address is malformed; `Unavailable` when the embedded index cannot be
    /// loaded.
    pub async fn open(settings: &Settings, dimension: usize) -> Result<Self, StoreError> {
        match settings.profile {
            Profile::Cluster => Ok(Self::Milvus(MilvusVectors::new(
                &settings.milvus,
                &settings.milvus.collection,
                dimension,
            )?)),
            Profile::Embedded => Ok(Self::Embedded(
                EmbeddedVectors::open(&settings.paths.data_dir.join("vectors"), dimension).await?,
            )),
        }
    }

    /// Which adapter this is, for logs.
    pub fn adapter(&self) -> &'static str {
        match self {
            Self::Milvus(_) => "milvus",
            Self::Embedded(_) => "embedded",
        }
    }

    /// The number of components every vector has.
    pub fn dimension(&self) -> usize {
        match self {
            Self::Milvus(store) => store.dimension(),
            Self::Embedded(store) => store.dimension(),
        }
    }

    /// Confirms the store answers and its collection matches the dimension (for `/ready`).
    ///
    /// # Errors
    /// `Unavailable` with the reason, or `Invalid` for a collection of another dimension.
    pub async fn check(&self) -> Result<(), StoreError> {
        match self {
            Self::Milvus(store) => store.check().await,
            Self::Embedded(store) => store.check().await,
        }
    }

    /// Writes chunks, replacing any earlier chunk with the same id. Acknowledged only
    /// once the store has them durably.
    ///
    /// # Errors
    /// `Invalid` when a chunk or its vector cannot be stored (nothing is written then);
    /// `Unavailable` when the store cannot be reached.
    pub async fn upsert(&self, chunks: Vec<ChunkVector>) -> Result<(), StoreError> {
        let dimension = self.dimension();
        let mut last_of_id: HashMap<String, usize> = HashMap::new();
        let mut checked = Vec::with_capacity(chunks.len());
        for chunk in chunks {
            chunk.record.validate()?;
            let vector = unit_vector(&chunk.vector, dimension).map_err(|e| {
                StoreError::Invalid(format!("chunk {:?}: {e}", chunk.record.chunk_id))
            })?;
            match last_of_id.get(&chunk.record.chunk_id) {
                Some(&at) => checked[at] = ChunkVector { vector, ..chunk },
                None => {
                    last_of_id.insert(chunk.record.chunk_id.clone(), checked.len());
                    checked.push(ChunkVector { vector, ..chunk });
                }
            }
        }
        if checked.is_empty() {
            return Ok(());
        }
        match self {
            Self::Milvus(store) => store.upsert(&checked).await,
            Self::Embedded(store) => store.upsert(checked).await,
        }
    }

    /// Removes every chunk of an episode; removing an unknown episode succeeds.
    ///
    /// # Errors
    /// `Unavailable` when the store cannot be reached.
    pub async fn delete_episode(&self, episode_id: &str) -> Result<(), StoreError> {
        match self {
            Self::Milvus(store) => store.delete_episode(episode_id).await,
            Self::Embedded(store) => store.delete_episode(episode_id).await,
        }
    }

    /// The `k` chunks (at most [`MAX_SEARCH_K`]) most similar to `query` among those
    /// `filter` accepts, most similar first.
    ///
    /// # Errors
    /// `Invalid` for a query of the wrong dimension, with no direction or a non-finite
    /// component, or a `k` over the limit; `Unavailable` when the store cannot be reached.
    pub async fn search(
        &self,
        query: &[f32],
        k: usize,
        filter: &VectorFilter,
    ) -> Result<Vec<VectorHit>, StoreError> {
        if k > MAX_SEARCH_K {
            return Err(StoreError::Invalid(format!(
                "a search returns at most {MAX_SEARCH_K} chunks, {k} were asked for"
            )));
        }
        let query = unit_vector(query, self.dimension())?;
        if k == 0 {
            return Ok(Vec::new());
        }
        match self {
            Self::Milvus(store) => store.search(&query, k, filter).await,
            Self::Embedded(store) => store.search(query, k, filter.clone()).await,
        }
    }

    /// Every chunk of an episode with its unit vector, in the order they are spoken.
    ///
    /// # Errors
    /// `Unavailable` when the store cannot be reached.
    pub async fn episode_chunks(&self, episode_id: &str) -> Result<Vec<ChunkVector>, StoreError> {
        let mut chunks = match self {
            Self::Milvus(store) => store.episode_chunks(episode_id).await?,
            Self::Embedded(store) => store.episode_chunks(episode_id).await?,
        };
        chunks.sort_by(|a, b| {
            (a.record.start_ms, &a.record.chunk_id).cmp(&(b.record.start_ms, &b.record.chunk_id))
        });
        Ok(chunks)
    }
}

impl super::Store for VectorStore {
    async fn check(&self) -> Result<(), StoreError> {
        VectorStore::check(self).await
    }
}
