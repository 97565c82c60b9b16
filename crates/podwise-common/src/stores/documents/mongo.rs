//! The cluster documents store: MongoDB through the official driver.
//!
//! Collections `transcripts` (unique on `episode_id`) and `chat_messages` (indexed on
//! user, session and time). Indexes are created on first use, so a server that is down
//! at start-up is set up as soon as it returns.

use std::sync::Arc;
use std::time::Duration;

use futures_util::TryStreamExt as _;
use mongodb::bson::{Document, doc};
use mongodb::options::{ClientOptions, IndexOptions};
use mongodb::{Client, Collection, IndexModel};
use secrecy::ExposeSecret as _;
use tokio::sync::Mutex;

use super::{ChatMessage, ChatSession, Transcript};
use crate::settings::MongoSettings;
use crate::stores::StoreError;

/// How long an operation looks for a reachable server before the store counts as down.
const SERVER_SELECTION_TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Debug, Clone)]
pub struct MongoDocuments {
    transcripts: Collection<Transcript>,
    messages: Collection<ChatMessage>,
    indexed: Arc<Mutex<bool>>,
}

impl MongoDocuments {
    /// Builds the client; no server is contacted until the first operation.
    ///
    /// # Errors
    /// `Invalid` when the connection URI cannot be parsed.
    pub async fn open(settings: &MongoSettings) -> Result<Self, StoreError> {
        let uri = settings.connection_uri();
        let mut options = ClientOptions::parse(uri.expose_secret())
            .await
            // The driver's message may quote the URI; keep it (and its password) out.
            .map_err(|_| StoreError::Invalid("MONGO_URI is not a valid MongoDB URI".to_owned()))?;
        options.app_name = Some("podwise".to_owned());
        options.server_selection_timeout = Some(SERVER_SELECTION_TIMEOUT);
        options.connect_timeout = Some(Duration::from_secs(2));
        let client = Client::with_options(options).map_err(mongo_error)?;
        let database = client.database(&settings.db);
        Ok(Self {
            transcripts: database.collection("transcripts"),
            messages: database.collection("chat_messages"),
            indexed: Arc::default(),
        })
    }

    /// Creates the indexes once per process. Default index names only: the wire-
    /// compatible test server ignores custom ones.
    async fn ready(&self) -> Result<(), StoreError> {
        let mut indexed = self.indexed.lock().await;
        if *indexed {
            return Ok(());
        }
        let unique = IndexOptions::builder().unique(true).build();
        self.transcripts
            .create_index(
                IndexModel::builder()
                    .keys(doc! { "episode_id": 1 })
                    .options(unique)
                    .build(),
            )
            .await
            .map_err(mongo_error)?;
        self.messages
            .create_index(
                IndexModel::builder()
                    .keys(doc! { "user_id": 1, "session_id": 1, "at": 1 })
                    .build(),
            )
            .await
            .map_err(mongo_error)?;
        *indexed = true;
        Ok(())
    }

    pub(super) async fn check(&self) -> Result<(), StoreError> {
        self.ready().await?;
        self.transcripts
            .client()
            .database("admin")
            .run_command(doc! { "ping": 1 })
            .await
            .map_err(mongo_error)?;
        Ok(())
    }

    pub(super) async fn put_transcript(&self, transcript: &Transcript) -> Result<(), StoreError> {
        self.ready().await?;
        self.transcripts
            .replace_one(doc! { "episode_id": &transcript.episode_id }, transcript)
            .upsert(true)
            .await
            .map_err(mongo_error)?;
        Ok(())
    }

    pub(super) async fn transcript(
        &self,
        episode_id: &str,
    ) -> Result<Option<Transcript>, StoreError> {
        self.ready().await?;
        self.transcripts
            .find_one(doc! { "episode_id": episode_id })
            .await
            .map_err(mongo_error)
    }

    pub(super) async fn delete_transcript(&self, episode_id: &str) -> Result<(), StoreError> {
        self.ready().await?;
        self.transcripts
            .delete_many(doc! { "episode_id": episode_id })
            .await
            .map_err(mongo_error)?;
        Ok(())
    }

    pub(super) async fn append_message(&self, message: &ChatMessage) -> Result<(), StoreError> {
        self.ready().await?;
        self.messages
            .insert_one(message)
            .await
            .map_err(mongo_error)?;
        Ok(())
    }

    pub(super) async fn newest_messages(
        &self,
        user_id: &str,
        session_id: &str,
        limit: u32,
    ) -> Result<Vec<ChatMessage>, StoreError> {
        self.ready().await?;
        // `_id` grows with insertion, so it orders messages stored in the same millisecond.
        self.messages
            .find(doc! { "user_id": user_id, "session_id": session_id })
            .sort(doc! { "at": -1, "_id": -1 })
            .limit(i64::from(limit))
            .await
            .map_err(mongo_error)?
            .try_collect()
            .await
            .map_err(mongo_error)
    }

    pub(super) async fn sessions(&self, user_id: &str) -> Result<Vec<ChatSession>, StoreError> {
        self.ready().await?;
        let pipeline = [
            doc! { "$match": { "user_id": user_id } },
            doc! { "$group": {
                "_id": "$session_id",
                "messages": { "$sum": 1 },
                "last_at": { "$max": "$at" },
            } },
        ];
        let groups: Vec<Document> = self
            .messages
            .aggregate(pipeline)
            .await
            .map_err(mongo_error)?
            .try_collect()
            .await
            .map_err(mongo_error)?;
        groups.iter().map(session).collect()
    }

    pub(super) async fn delete_session(
        &self,
        user_id: &str,
        session_id: &str,
    ) -> Result<(), StoreError> {
        self.ready().await?;
        self.messages
            .delete_many(doc! { "user_id": user_id, "session_id": session_id })
            .await
            .map_err(mongo_error)?;
        Ok(())
    }
}

/// Reads one `$group` result; counts may come back as 32- or 64-bit integers.
fn session(group: &Document) -> Result<ChatSession, StoreError> {
    let number = |field: &str| {
        group
            .get_i64(field)
            .or_else(|_| group.get_i32(field).map(i64::from))
            .map_err(|e| StoreError::Internal(anyhow::anyhow!("session summary {field}: {e}")))
    };
    Ok(ChatSession {
        session_id: group
            .get_str("_id")
            .map_err(|e| StoreError::Internal(anyhow::anyhow!("session summary id: {e}")))?
            .to_owned(),
        messages: number("messages")?,
        last_at: number("last_at")?,
    })
}

/// Server trouble is `Unavailable`; a duplicate key is a `Conflict`; the rest is a bug.
fn mongo_error(error: mongodb::error::Error) -> StoreError {
    use mongodb::error::{ErrorKind, WriteFailure};
    match *error.kind {
        ErrorKind::ServerSelection { .. }
        | ErrorKind::Io(_)
        | ErrorKind::ConnectionPoolCleared { .. }
        | ErrorKind::DnsResolve { .. }
        | ErrorKind::Shutdown => StoreError::unavailable("documents", &error),
        ErrorKind::Write(WriteFailure::WriteError(ref write)) if write.code == 11000 => {
            StoreError::Conflict("a document with the same key exists".to_owned())
        }
        _ => StoreError::Internal(error.into()),
    }
}
