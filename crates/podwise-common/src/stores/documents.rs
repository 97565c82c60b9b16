//! Documents: transcripts with their timed segments, and listeners' chat history.
//!
//! MongoDB in a cluster, JSON rows in a SQLite file when embedded. The MongoDB adapter
//! keeps to the operations the MongoDB-wire test server implements correctly (plain
//! CRUD, sorted finds, default-named indexes, a simple `$group`), which real MongoDB
//! also runs.

mod model;
mod mongo;
mod sqlite;

pub use model::*;
pub use mongo::MongoDocuments;
pub use sqlite::SqliteDocuments;

use super::StoreError;
use crate::settings::{Profile, Settings};

/// The most chat messages one history call returns.
pub const MAX_HISTORY: u32 = 500;

/// The documents store, backed by MongoDB or by a SQLite file.
#[derive(Debug, Clone)]
pub enum DocumentStore {
    Mongo(MongoDocuments),
    Sqlite(SqliteDocuments),
}

impl DocumentStore {
    /// Opens the adapter the settings' profile selects. Nothing is contacted yet.
    ///
    /// # Errors
    /// When the connection settings cannot be parsed or the data directory cannot be
    /// created.
    pub async fn open(settings: &Settings) -> Result<Self, StoreError> {
        match settings.profile {
            Profile::Cluster => Ok(Self::Mongo(MongoDocuments::open(&settings.mongo).await?)),
            Profile::Embedded => Ok(Self::Sqlite(
                SqliteDocuments::open(&settings.paths.data_dir.join("documents.sqlite")).await?,
            )),
        }
    }

    /// Which adapter this is, for logs.
    pub fn adapter(&self) -> &'static str {
        match self {
            Self::Mongo(_) => "mongodb",
            Self::Sqlite(_) => "sqlite",
        }
    }

    /// Confirms the store answers and its indexes exist (for `/ready`).
    ///
    /// # Errors
    /// `Unavailable` with the reason.
    pub async fn check(&self) -> Result<(), StoreError> {
        match self {
            Self::Mongo(store) => store.check().await,
            Self::Sqlite(store) => store.check().await,
        }
    }

    /// Stores an episode's transcript, replacing any earlier one of that episode.
    ///
    /// # Errors
    /// When the store is unavailable.
    pub async fn put_transcript(&self, transcript: &Transcript) -> Result<(), StoreError> {
        match self {
            Self::Mongo(store) => store.put_transcript(transcript).await,
            Self::Sqlite(store) => store.put_transcript(transcript).await,
        }
    }

    /// The transcript of an episode, if it has one.
    ///
    /// # Errors
    /// When the store is unavailable.
    pub async fn transcript(&self, episode_id: &str) -> Result<Option<Transcript>, StoreError> {
        match self {
            Self::Mongo(store) => store.transcript(episode_id).await,
            Self::Sqlite(store) => store.transcript(episode_id).await,
        }
    }

    /// Removes an episode's transcript; removing a missing one succeeds.
    ///
    /// # Errors
    /// When the store is unavailable.
    pub async fn delete_transcript(&self, episode_id: &str) -> Result<(), StoreError> {
        match self {
            Self::Mongo(store) => store.delete_transcript(episode_id).await,
            Self::Sqlite(store) => store.delete_transcript(episode_id).await,
        }
    }

    /// Appends a message to a listener's conversation.
    ///
    /// # Errors
    /// When the store is unavailable.
    pub async fn append_message(&self, message: &ChatMessage) -> Result<(), StoreError> {
        match self {
            Self::Mongo(store) => store.append_message(message).await,
            Self::Sqlite(store) => store.append_message(message).await,
        }
    }

    /// The last `limit` messages of one conversation (at most [`MAX_HISTORY`]), oldest
    /// first, so they read as the conversation went.
    ///
    /// # Errors
    /// When the store is unavailable.
    pub async fn history(
        &self,
        user_id: &str,
        session_id: &str,
        limit: u32,
    ) -> Result<Vec<ChatMessage>, StoreError> {
        let limit = limit.min(MAX_HISTORY);
        let mut newest_first = match self {
            Self::Mongo(store) => store.newest_messages(user_id, session_id, limit).await?,
            Self::Sqlite(store) => store.newest_messages(user_id, session_id, limit).await?,
        };
        newest_first.reverse();
        Ok(newest_first)
    }

    /// A listener's conversations, most recently active first.
    ///
    /// # Errors
    /// When the store is unavailable.
    pub async fn sessions(&self, user_id: &str) -> Result<Vec<ChatSession>, StoreError> {
        let mut sessions = match self {
            Self::Mongo(store) => store.sessions(user_id).await?,
            Self::Sqlite(store) => store.sessions(user_id).await?,
        };
        sessions.sort_by(|a, b| {
            b.last_at
                .cmp(&a.last_at)
                .then(a.session_id.cmp(&b.session_id))
        });
        Ok(sessions)
    }

    /// Forgets one conversation of a listener.
    ///
    /// # Errors
    /// When the store is unavailable.
    pub async fn delete_session(&self, user_id: &str, session_id: &str) -> Result<(), StoreError> {
        match self {
            Self::Mongo(store) => store.delete_session(user_id, session_id).await,
            Self::Sqlite(store) => store.delete_session(user_id, session_id).await,
        }
    }
}

impl super::Store for DocumentStore {
    async fn check(&self) -> Result<(), StoreError> {
        DocumentStore::check(self).await
    }
}
