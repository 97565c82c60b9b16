//! Everything the service works with, opened once and shared by the gRPC handlers and
//! the ingestion workers.

use std::sync::{Arc, RwLock};

use podwise_common::ServiceError;
use podwise_common::settings::{RagSettings, Settings};
use podwise_common::stores::catalog::{Catalog, Page};
use podwise_common::stores::documents::DocumentStore;
use podwise_common::stores::objects::ObjectStore;
use podwise_common::stores::vectors::VectorStore;
use tokio::sync::Notify;

use crate::llm::Llm;
use crate::search::lexical::LexicalIndex;
use crate::text::tokens::search_tokens;

/// The stores, the LLM client and the in-memory lexical index.
#[derive(Debug)]
pub struct Library {
    pub settings: RagSettings,
    pub catalog: Catalog,
    pub documents: DocumentStore,
    pub objects: ObjectStore,
    pub vectors: VectorStore,
    pub llm: Llm,
    pub lexical: RwLock<LexicalIndex>,
    /// Woken when a job is queued, so an idle worker starts at once instead of at its
    /// next poll.
    pub job_queued: Notify,
}

pub type SharedLibrary = Arc<Library>;

impl Library {
    /// Opens the four stores the settings' profile selects.
    ///
    /// # Errors
    /// When a store's settings are unusable or an embedded store's files cannot be opened.
    pub async fn open(settings: &Settings, llm: Llm) -> anyhow::Result<Self> {
        use anyhow::Context as _;
        let catalog = Catalog::open(settings)
            .await
            .context("cannot open the catalog")?;
        let documents = DocumentStore::open(settings)
            .await
            .context("cannot open the document store")?;
        let objects = ObjectStore::open(settings)
            .await
            .context("cannot open the object store")?;
        let vectors = VectorStore::open(settings, settings.rag.embedding_dimension)
            .await
            .context("cannot open the vector store")?;
        Ok(Self {
            settings: settings.rag.clone(),
            catalog,
            documents,
            objects,
            vectors,
            llm,
            lexical: RwLock::default(),
            job_queued: Notify::new(),
        })
    }

    /// Fills the lexical index from the chunks already in the vector store, episode by
    /// episode, so a restarted service finds by words what it finds by meaning.
    ///
    /// # Errors
    /// When the catalog or the vector store cannot be read.
    pub async fn load_lexical_index(&self) -> Result<usize, ServiceError> {
        let mut offset = 0;
        let mut chunks = 0;
        loop {
            let page = Page {
                limit: Page::MAX_LIMIT,
                offset,
            };
            let episodes = self.catalog.search_episodes("", None, page).await?;
            if episodes.is_empty() {
                break;
            }
            offset += Page::MAX_LIMIT;
            for episode in episodes {
                let stored = self.vectors.episode_chunks(&episode.id).await?;
                chunks += stored.len();
                let indexed = stored
                    .into_iter()
                    .map(|chunk| {
                        let tokens = search_tokens(&chunk.record.text);
                        (chunk.record, tokens)
                    })
                    .collect();
                self.lexical_index().replace_episode(&episode.id, indexed);
            }
        }
        Ok(chunks)
    }

    /// The lexical index for writing. A panic while it was held leaves at worst one
    /// episode half-replaced, which the next ingestion of it repairs, so a poisoned lock
    /// is taken over rather than propagated.
    pub fn lexical_index(&self) -> std::sync::RwLockWriteGuard<'_, LexicalIndex> {
        self.lexical
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The lexical index for searching.
    pub fn lexical_reader(&self) -> std::sync::RwLockReadGuard<'_, LexicalIndex> {
        self.lexical
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
