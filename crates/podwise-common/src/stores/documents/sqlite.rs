//! The embedded documents store: each document a JSON row in its own SQLite file.

use std::path::Path;
use std::sync::Arc;

use sqlx::migrate::Migrator;
use sqlx::sqlite::SqlitePool;
use tokio::sync::Mutex;

use super::{ChatMessage, ChatSession, Transcript};
use crate::stores::StoreError;
use crate::stores::sqlite_file::open_pool;

static MIGRATIONS: Migrator = sqlx::migrate!("migrations/documents");

#[derive(Debug, Clone)]
pub struct SqliteDocuments {
    pool: SqlitePool,
    migrated: Arc<Mutex<bool>>,
}

impl SqliteDocuments {
    /// Opens (and creates) the store's file; the schema is applied on first use.
    ///
    /// # Errors
    /// When the file's directory cannot be created.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        Ok(Self {
            pool: open_pool(path, "documents").await?,
            migrated: Arc::default(),
        })
    }

    async fn ready(&self) -> Result<&SqlitePool, StoreError> {
        let mut migrated = self.migrated.lock().await;
        if !*migrated {
            MIGRATIONS.run(&self.pool).await.map_err(|e| {
                StoreError::unavailable("documents", format!("migrating the schema: {e}"))
            })?;
            *migrated = true;
        }
        Ok(&self.pool)
    }

    pub(super) async fn check(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(self.ready().await?)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    pub(super) async fn put_transcript(&self, transcript: &Transcript) -> Result<(), StoreError> {
        let sql = "INSERT INTO transcripts (episode_id, body, updated_at) VALUES ($1, $2, $3) \
                   ON CONFLICT (episode_id) DO UPDATE SET body = excluded.body, \
                   updated_at = excluded.updated_at";
        sqlx::query(sql)
            .bind(&transcript.episode_id)
            .bind(to_json(transcript)?)
            .bind(transcript.updated_at)
            .execute(self.ready().await?)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    pub(super) async fn transcript(
        &self,
        episode_id: &str,
    ) -> Result<Option<Transcript>, StoreError> {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT body FROM transcripts WHERE episode_id = $1")
                .bind(episode_id)
                .fetch_optional(self.ready().await?)
                .await
                .map_err(db_error)?;
        row.map(|(body,)| from_json(&body)).transpose()
    }

    pub(super) async fn delete_transcript(&self, episode_id: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM transcripts WHERE episode_id = $1")
            .bind(episode_id)
            .execute(self.ready().await?)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    pub(super) async fn append_message(&self, message: &ChatMessage) -> Result<(), StoreError> {
        let sql =
            "INSERT INTO chat_messages (user_id, session_id, at, body) VALUES ($1, $2, $3, $4)";
        sqlx::query(sql)
            .bind(&message.user_id)
            .bind(&message.session_id)
            .bind(message.at)
            .bind(to_json(message)?)
            .execute(self.ready().await?)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    pub(super) async fn newest_messages(
        &self,
        user_id: &str,
        session_id: &str,
        limit: u32,
    ) -> Result<Vec<ChatMessage>, StoreError> {
        let sql = "SELECT body FROM chat_messages WHERE user_id = $1 AND session_id = $2 \
                   ORDER BY at DESC, seq DESC LIMIT $3";
        let rows: Vec<(String,)> = sqlx::query_as(sql)
            .bind(user_id)
            .bind(session_id)
            .bind(i64::from(limit))
            .fetch_all(self.ready().await?)
            .await
            .map_err(db_error)?;
        rows.iter().map(|(body,)| from_json(body)).collect()
    }

    pub(super) async fn sessions(&self, user_id: &str) -> Result<Vec<ChatSession>, StoreError> {
        let sql = "SELECT session_id, COUNT(*), MAX(at) FROM chat_messages WHERE user_id = $1 \
                   GROUP BY session_id";
        let rows: Vec<(String, i64, i64)> = sqlx::query_as(sql)
            .bind(user_id)
            .fetch_all(self.ready().await?)
            .await
            .map_err(db_error)?;
        Ok(rows
            .into_iter()
            .map(|(session_id, messages, last_at)| ChatSession {
                session_id,
                messages,
                last_at,
            })
            .collect())
    }

    pub(super) async fn delete_session(
        &self,
        user_id: &str,
        session_id: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM chat_messages WHERE user_id = $1 AND session_id = $2")
            .bind(user_id)
            .bind(session_id)
            .execute(self.ready().await?)
            .await
            .map_err(db_error)?;
        Ok(())
    }
}

fn to_json(value: &impl serde::Serialize) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Internal(e.into()))
}

fn from_json<T: serde::de::DeserializeOwned>(body: &str) -> Result<T, StoreError> {
    serde_json::from_str(body)
        .map_err(|e| StoreError::Internal(anyhow::anyhow!("a stored document is unreadable: {e}")))
}

fn db_error(error: sqlx::Error) -> StoreError {
    match error {
        sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => {
            StoreError::unavailable("documents", error)
        }
        other => StoreError::Internal(other.into()),
    }
}
