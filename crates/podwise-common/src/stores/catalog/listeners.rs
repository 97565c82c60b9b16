//! Listeners: opaque ids with bearer tokens, stated preferences, and what they did with
//! episodes (the recommender's training data).

use secrecy::{ExposeSecret as _, SecretString};
use sha2::{Digest as _, Sha256};

use sqlx::AssertSqlSafe;

use super::model::FeedbackRow;
use super::{
    Catalog, FeedbackEvent, FeedbackKind, IssuedUser, Page, Pool, Preferences, StoreError,
    db_error, new_id, now_ms, on_pool,
};

impl Catalog {
    /// Creates a listener and their first bearer token. The token is returned once;
    /// only its hash is kept.
    ///
    /// # Errors
    /// When the database is unavailable.
    pub async fn create_user(&self) -> Result<IssuedUser, StoreError> {
        self.ready().await?;
        let user_id = new_id();
        let token = new_token();
        let now = now_ms();
        on_pool!(self, pool => {
            let mut tx = pool.begin().await.map_err(db_error)?;
            sqlx::query("INSERT INTO users (id, created_at) VALUES ($1, $2)")
                .bind(&user_id)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
            sqlx::query(
                "INSERT INTO user_tokens (token_hash, user_id, created_at) VALUES ($1, $2, $3)",
            )
            .bind(token_hash(&token))
            .bind(&user_id)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
            tx.commit().await.map_err(db_error)
        })?;
        Ok(IssuedUser { user_id, token })
    }

    /// The listener a bearer token belongs to, or `None` for an unknown or revoked one.
    ///
    /// # Errors
    /// When the database is unavailable.
    pub async fn authenticate(&self, token: &str) -> Result<Option<String>, StoreError> {
        self.ready().await?;
        let sql = "SELECT user_id FROM user_tokens WHERE token_hash = $1 AND revoked_at IS NULL";
        let hash = token_hash(&SecretString::from(token.to_owned()));
        let found: Option<(String,)> =
            on_pool!(self, pool => sqlx::query_as(sql).bind(hash).fetch_optional(pool).await)
                .map_err(db_error)?;
        Ok(found.map(|(user_id,)| user_id))
    }

    /// Stops a token from working; revoking it again changes nothing.
    ///
    /// # Errors
    /// When the database is unavailable.
    pub async fn revoke_token(&self, token: &str) -> Result<(), StoreError> {
        self.ready().await?;
        let sql = "UPDATE user_tokens SET revoked_at = $1 \
                   WHERE token_hash = $2 AND revoked_at IS NULL";
        let hash = token_hash(&SecretString::from(token.to_owned()));
        on_pool!(self, pool => {
            let query = sqlx::query(sql).bind(now_ms()).bind(hash);
            query.execute(pool).await.map(|_| ())
        })
        .map_err(db_error)?;
        Ok(())
    }

    /// Replaces a listener's preferences as a whole.
    ///
    /// # Errors
    /// `NotFound` for an unknown user, `Invalid` for an unknown category.
    pub async fn set_preferences(
        &self,
        user_id: &str,
        preferences: &Preferences,
    ) -> Result<(), StoreError> {
        self.ready().await?;
        self.require_user(user_id).await?;
        on_pool!(self, pool => {
            let mut tx = pool.begin().await.map_err(db_error)?;
            for table in ["preferred_categories", "preferred_tags"] {
                sqlx::query(AssertSqlSafe(format!("DELETE FROM {table} WHERE user_id = $1")))
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error)?;
            }
            for category in unique(&preferences.categories) {
                sqlx::query(
                    "INSERT INTO preferred_categories (user_id, category_id) VALUES ($1, $2)",
                )
                .bind(user_id)
                .bind(category)
                .execute(&mut *tx)
                .await
                .map_err(|e| match db_error(e) {
                    StoreError::Invalid(_) => {
                        StoreError::Invalid(format!("there is no category {category:?}"))
                    }
                    other => other,
                })?;
            }
            for tag in unique(&preferences.tags) {
                sqlx::query("INSERT INTO preferred_tags (user_id, tag) VALUES ($1, $2)")
                    .bind(user_id)
                    .bind(tag)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error)?;
            }
            tx.commit().await.map_err(db_error)
        })
    }

    /// A listener's preferences, sorted.
    ///
    /// # Errors
    /// `NotFound` for an unknown user.
    pub async fn preferences(&self, user_id: &str) -> Result<Preferences, StoreError> {
        self.ready().await?;
        self.require_user(user_id).await?;
        let categories = "SELECT category_id FROM preferred_categories WHERE user_id = $1 \
                          ORDER BY category_id";
        let tags = "SELECT tag FROM preferred_tags WHERE user_id = $1 ORDER BY tag";
        let (categories, tags): (Vec<(String,)>, Vec<(String,)>) = on_pool!(self, pool => {
            let categories = sqlx::query_as(categories).bind(user_id).fetch_all(pool).await;
            let tags = sqlx::query_as(tags).bind(user_id).fetch_all(pool).await;
            (categories.map_err(db_error)?, tags.map_err(db_error)?)
        });
        Ok(Preferences {
            categories: categories.into_iter().map(|(c,)| c).collect(),
            tags: tags.into_iter().map(|(t,)| t).collect(),
        })
    }

    /// Records one thing a listener did with an episode.
    ///
    /// # Errors
    /// `NotFound` when the user or the episode does not exist: feedback about an
    /// unknown episode is refused, never stored.
    pub async fn record_feedback(
        &self,
        user_id: &str,
        episode_id: &str,
        kind: FeedbackKind,
    ) -> Result<FeedbackEvent, StoreError> {
        self.ready().await?;
        let at = now_ms();
        let sql = "INSERT INTO feedback_events (id, user_id, episode_id, kind, at) \
                   VALUES ($1, $2, $3, $4, $5)";
        let inserted = on_pool!(self, pool => sqlx::query(sql)
            .bind(new_id())
            .bind(user_id)
            .bind(episode_id)
            .bind(kind.as_str())
            .bind(at)
            .execute(pool)
            .await
            .map(|done| done.rows_affected()));
        match inserted.map_err(db_error) {
            Ok(_) => Ok(FeedbackEvent {
                user_id: user_id.to_owned(),
                episode_id: episode_id.to_owned(),
                kind,
                at,
            }),
            Err(StoreError::Invalid(_)) => Err(StoreError::NotFound(format!(
                "no user {user_id} or no episode {episode_id}"
            ))),
            Err(other) => Err(other),
        }
    }

    /// A listener's feedback, newest first.
    ///
    /// # Errors
    /// When the database is unavailable.
    pub async fn feedback_history(
        &self,
        user_id: &str,
        page: Page,
    ) -> Result<Vec<FeedbackEvent>, StoreError> {
        self.ready().await?;
        let sql = "SELECT user_id, episode_id, kind, at FROM feedback_events WHERE user_id = $1 \
                   ORDER BY at DESC, id LIMIT $2 OFFSET $3";
        let rows: Vec<FeedbackRow> = on_pool!(self, pool => sqlx::query_as(sql)
            .bind(user_id)
            .bind(page.limit())
            .bind(page.offset())
            .fetch_all(pool)
            .await)
        .map_err(db_error)?;
        rows.into_iter().map(feedback).collect()
    }

    /// Every feedback event of every listener, oldest first: the interaction matrix the
    /// recommender trains on.
    ///
    /// # Errors
    /// When the database is unavailable.
    pub async fn interactions(&self) -> Result<Vec<FeedbackEvent>, StoreError> {
        self.ready().await?;
        let sql = "SELECT user_id, episode_id, kind, at FROM feedback_events ORDER BY at, id";
        let rows: Vec<FeedbackRow> =
            on_pool!(self, pool => sqlx::query_as(sql).fetch_all(pool).await).map_err(db_error)?;
        rows.into_iter().map(feedback).collect()
    }

    async fn require_user(&self, user_id: &str) -> Result<(), StoreError> {
        let sql = "SELECT id FROM users WHERE id = $1";
        let found: Option<(String,)> =
            on_pool!(self, pool => sqlx::query_as(sql).bind(user_id).fetch_optional(pool).await)
                .map_err(db_error)?;
        found
            .map(|_| ())
            .ok_or_else(|| StoreError::NotFound(format!("no user {user_id}")))
    }
}

fn feedback(row: FeedbackRow) -> Result<FeedbackEvent, StoreError> {
    Ok(FeedbackEvent {
        kind: row.kind.parse()?,
        user_id: row.user_id,
        episode_id: row.episode_id,
        at: row.at,
    })
}

/// A bearer token: 244 random bits from the operating system, as 64 hex digits.
fn new_token() -> SecretString {
    let token = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    SecretString::from(token)
}

/// Tokens carry enough entropy that a fast unsalted hash cannot be reversed by search.
fn token_hash(token: &SecretString) -> String {
    hex::encode(Sha256::digest(token.expose_secret().as_bytes()))
}

fn unique(values: &[String]) -> Vec<&str> {
    let mut values: Vec<&str> = values
        .iter()
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
        .collect();
    values.sort_unstable();
    values.dedup();
    values
}
