//! Podcasts, episodes and their tags: what ingestion writes and listeners browse.

use std::collections::BTreeMap;

use sqlx::AssertSqlSafe;

use super::model::{EPISODE_COLUMNS, EpisodeRow, EpisodeSummaryRow};
use super::{
    Catalog, Category, Episode, EpisodeSummary, NewEpisode, Page, Podcast, Pool, StoreError,
    TagCount, TranscriptStatus, db_error, new_id, now_ms, on_pool,
};

impl Catalog {
    /// Every category, in id order.
    ///
    /// # Errors
    /// When the database is unavailable.
    pub async fn categories(&self) -> Result<Vec<Category>, StoreError> {
        self.ready().await?;
        let sql = "SELECT id, name_zh, name_en FROM categories ORDER BY id";
        on_pool!(self, pool => sqlx::query_as(sql).fetch_all(pool).await).map_err(db_error)
    }

    /// Adds a podcast, or updates the one with the same id.
    ///
    /// # Errors
    /// `Invalid` for an unknown category, `Conflict` when another podcast has the
    /// same RSS URL.
    pub async fn upsert_podcast(&self, podcast: &Podcast) -> Result<(), StoreError> {
        self.ready().await?;
        let sql = "INSERT INTO podcasts (id, title, author, description, category_id, language, \
                   image_url, rss_url, rating, created_at, updated_at) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) \
                   ON CONFLICT (id) DO UPDATE SET title = excluded.title, \
                   author = excluded.author, description = excluded.description, \
                   category_id = excluded.category_id, language = excluded.language, \
                   image_url = excluded.image_url, rss_url = excluded.rss_url, \
                   rating = excluded.rating, updated_at = excluded.updated_at";
        on_pool!(self, pool => sqlx::query(sql)
            .bind(&podcast.id)
            .bind(&podcast.title)
            .bind(&podcast.author)
            .bind(&podcast.description)
            .bind(&podcast.category_id)
            .bind(&podcast.language)
            .bind(&podcast.image_url)
            .bind(&podcast.rss_url)
            .bind(podcast.rating)
            .bind(now_ms())
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))
        .map_err(db_error)?;
        Ok(())
    }

    /// The podcast with this id.
    ///
    /// # Errors
    /// `NotFound` when there is none.
    pub async fn podcast(&self, id: &str) -> Result<Podcast, StoreError> {
        self.ready().await?;
        let sql = "SELECT id, title, author, description, category_id, language, image_url, \
                   rss_url, rating FROM podcasts WHERE id = $1";
        on_pool!(self, pool => sqlx::query_as(sql).bind(id).fetch_optional(pool).await)
            .map_err(db_error)?
            .ok_or_else(|| StoreError::NotFound(format!("no podcast {id}")))
    }

    /// Podcasts, optionally of one category, best rated first.
    ///
    /// # Errors
    /// When the database is unavailable.
    pub async fn podcasts(
        &self,
        category: Option<&str>,
        page: Page,
    ) -> Result<Vec<Podcast>, StoreError> {
        self.ready().await?;
        let sql = "SELECT id, title, author, description, category_id, language, image_url, \
                   rss_url, rating FROM podcasts WHERE ($1 IS NULL OR category_id = $1) \
                   ORDER BY rating IS NULL, rating DESC, title, id LIMIT $2 OFFSET $3";
        on_pool!(self, pool => sqlx::query_as(sql)
            .bind(category)
            .bind(page.limit())
            .bind(page.offset())
            .fetch_all(pool)
            .await)
        .map_err(db_error)
    }

    /// Adds an episode or updates the one with the same podcast and guid, replacing its
    /// tags, in one transaction. Returns the episode's id, which never changes.
    ///
    /// # Errors
    /// `Invalid` when the podcast does not exist.
    pub async fn upsert_episode(&self, episode: &NewEpisode) -> Result<String, StoreError> {
        self.ready().await?;
        let upsert = "INSERT INTO episodes (id, podcast_id, guid, title, description, \
                      published_at, duration_ms, language, audio_key, preview_key, \
                      created_at, updated_at) \
                      VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) \
                      ON CONFLICT (podcast_id, guid) DO UPDATE SET title = excluded.title, \
                      description = excluded.description, published_at = excluded.published_at, \
                      duration_ms = excluded.duration_ms, language = excluded.language, \
                      audio_key = COALESCE(excluded.audio_key, episodes.audio_key), \
                      preview_key = COALESCE(excluded.preview_key, episodes.preview_key), \
                      updated_at = excluded.updated_at \
                      RETURNING id";
        let tags = normalise_tags(&episode.tags);
        on_pool!(self, pool => {
            let mut tx = pool.begin().await.map_err(db_error)?;
            let (id,): (String,) = sqlx::query_as(upsert)
                .bind(new_id())
                .bind(&episode.podcast_id)
                .bind(&episode.guid)
                .bind(&episode.title)
                .bind(&episode.description)
                .bind(episode.published_at)
                .bind(episode.duration_ms)
                .bind(&episode.language)
                .bind(&episode.audio_key)
                .bind(&episode.preview_key)
                .bind(now_ms())
                .fetch_one(&mut *tx)
                .await
                .map_err(db_error)?;
            sqlx::query("DELETE FROM episode_tags WHERE episode_id = $1")
                .bind(&id)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
            for tag in &tags {
                sqlx::query("INSERT INTO episode_tags (episode_id, tag) VALUES ($1, $2)")
                    .bind(&id)
                    .bind(tag)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error)?;
            }
            tx.commit().await.map_err(db_error)?;
            Ok(id)
        })
    }

    /// The episode with this id, with its tags.
    ///
    /// # Errors
    /// `NotFound` when there is none.
    pub async fn episode(&self, id: &str) -> Result<Episode, StoreError> {
        self.ready().await?;
        let sql = format!("SELECT {EPISODE_COLUMNS} FROM episodes e WHERE e.id = $1");
        let row: Option<EpisodeRow> = on_pool!(self, pool => {
            let query = sqlx::query_as(AssertSqlSafe(sql.as_str())).bind(id);
            query.fetch_optional(pool).await
        })
        .map_err(db_error)?;
        let row = row.ok_or_else(|| StoreError::NotFound(format!("no episode {id}")))?;
        let mut episodes = self.with_tags(vec![row]).await?;
        episodes
            .pop()
            .ok_or_else(|| StoreError::NotFound(format!("no episode {id}")))
    }

    /// A podcast's episodes, newest first.
    ///
    /// # Errors
    /// When the database is unavailable.
    pub async fn episodes_of(
        &self,
        podcast_id: &str,
        page: Page,
    ) -> Result<Vec<Episode>, StoreError> {
        self.ready().await?;
        let sql = format!(
            "SELECT {EPISODE_COLUMNS} FROM episodes e WHERE e.podcast_id = $1 \
             ORDER BY e.published_at IS NULL, e.published_at DESC, e.id LIMIT $2 OFFSET $3"
        );
        let rows = on_pool!(self, pool => sqlx::query_as(AssertSqlSafe(sql.as_str()))
            .bind(podcast_id)
            .bind(page.limit())
            .bind(page.offset())
            .fetch_all(pool)
            .await)
        .map_err(db_error)?;
        self.with_tags(rows).await
    }

    /// Episodes whose title or description, or whose podcast's title, contains `text`
    /// (case-insensitive), optionally in one category; newest first.
    ///
    /// # Errors
    /// When the database is unavailable.
    pub async fn search_episodes(
        &self,
        text: &str,
        category: Option<&str>,
        page: Page,
    ) -> Result<Vec<Episode>, StoreError> {
        self.ready().await?;
        let pattern = format!("%{}%", escape_like(&text.to_lowercase()));
        let sql = format!(
            "SELECT {EPISODE_COLUMNS} FROM episodes e JOIN podcasts p ON p.id = e.podcast_id \
             WHERE (LOWER(e.title) LIKE $1 ESCAPE '\\' OR LOWER(e.description) LIKE $1 ESCAPE '\\' \
                    OR LOWER(p.title) LIKE $1 ESCAPE '\\') \
               AND ($2 IS NULL OR p.category_id = $2) \
             ORDER BY e.published_at IS NULL, e.published_at DESC, e.id LIMIT $3 OFFSET $4"
        );
        let rows = on_pool!(self, pool => sqlx::query_as(AssertSqlSafe(sql.as_str()))
            .bind(&pattern)
            .bind(category)
            .bind(page.limit())
            .bind(page.offset())
            .fetch_all(pool)
            .await)
        .map_err(db_error)?;
        self.with_tags(rows).await
    }

    /// The tags used in a category, most used first: what onboarding offers.
    ///
    /// # Errors
    /// When the database is unavailable.
    pub async fn tags_in_category(
        &self,
        category: &str,
        limit: u32,
    ) -> Result<Vec<TagCount>, StoreError> {
        self.ready().await?;
        let sql = "SELECT t.tag AS tag, COUNT(DISTINCT t.episode_id) AS episodes \
                   FROM episode_tags t JOIN episodes e ON e.id = t.episode_id \
                   JOIN podcasts p ON p.id = e.podcast_id WHERE p.category_id = $1 \
                   GROUP BY t.tag ORDER BY episodes DESC, t.tag LIMIT $2";
        on_pool!(self, pool => sqlx::query_as(sql)
            .bind(category)
            .bind(Page::first(limit).limit())
            .fetch_all(pool)
            .await)
        .map_err(db_error)
    }

    /// Up to `count` episodes carrying `tag` that have a preview, each from a different
    /// podcast (that podcast's newest such episode), newest first.
    ///
    /// # Errors
    /// When the database is unavailable.
    pub async fn previews_for_tag(
        &self,
        tag: &str,
        count: u32,
    ) -> Result<Vec<Episode>, StoreError> {
        self.ready().await?;
        let sql = format!(
            "SELECT {EPISODE_COLUMNS} FROM episodes e JOIN ( \
                 SELECT e.id AS id, ROW_NUMBER() OVER ( \
                     PARTITION BY e.podcast_id \
                     ORDER BY e.published_at IS NULL, e.published_at DESC, e.id) AS newest \
                 FROM episodes e JOIN episode_tags t ON t.episode_id = e.id \
                 WHERE t.tag = $1 AND e.preview_key IS NOT NULL) ranked \
             ON ranked.id = e.id AND ranked.newest = 1 \
             ORDER BY e.published_at IS NULL, e.published_at DESC, e.id LIMIT $2"
        );
        let rows = on_pool!(self, pool => sqlx::query_as(AssertSqlSafe(sql.as_str()))
            .bind(tag)
            .bind(Page::first(count).limit())
            .fetch_all(pool)
            .await)
        .map_err(db_error)?;
        self.with_tags(rows).await
    }

    /// Records how far an episode's transcript has come.
    ///
    /// # Errors
    /// `NotFound` for an unknown episode.
    pub async fn set_transcript_status(
        &self,
        episode_id: &str,
        status: TranscriptStatus,
    ) -> Result<(), StoreError> {
        self.ready().await?;
        let sql = "UPDATE episodes SET transcript_status = $1, updated_at = $2 WHERE id = $3";
        let done = on_pool!(self, pool => sqlx::query(sql)
            .bind(status.as_str())
            .bind(now_ms())
            .bind(episode_id)
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))
        .map_err(db_error)?;
        if done == 0 {
            return Err(StoreError::NotFound(format!("no episode {episode_id}")));
        }
        Ok(())
    }

    /// Records that an episode's chunks were just written to the vector store, so that
    /// other RAG replicas reload them into their word index. Returns the time recorded.
    ///
    /// # Errors
    /// `NotFound` for an unknown episode.
    pub async fn mark_indexed(&self, episode_id: &str) -> Result<i64, StoreError> {
        self.ready().await?;
        let now = now_ms();
        let sql = "UPDATE episodes SET indexed_at = $1 WHERE id = $2";
        let done = on_pool!(self, pool => sqlx::query(sql)
            .bind(now)
            .bind(episode_id)
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))
        .map_err(db_error)?;
        if done == 0 {
            return Err(StoreError::NotFound(format!("no episode {episode_id}")));
        }
        Ok(now)
    }

    /// Episodes indexed at or after `since` (Unix milliseconds), oldest first, each with
    /// the time it was indexed; at most `limit`.
    ///
    /// # Errors
    /// When the database is unavailable.
    pub async fn indexed_since(
        &self,
        since: i64,
        limit: u32,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        self.ready().await?;
        let sql = "SELECT id, indexed_at FROM episodes WHERE indexed_at >= $1 \
                   ORDER BY indexed_at, id LIMIT $2";
        on_pool!(self, pool => sqlx::query_as(sql)
            .bind(since)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await)
        .map_err(db_error)
    }

    /// Every episode with its show's category and rating and its tags, in id order: the
    /// candidates the recommender ranks. Two queries whatever the catalog's size.
    ///
    /// # Errors
    /// When the database is unavailable.
    pub async fn episode_index(&self) -> Result<Vec<EpisodeSummary>, StoreError> {
        self.ready().await?;
        let episodes = "SELECT e.id AS id, e.podcast_id AS podcast_id, e.title AS title, \
                        p.category_id AS category_id, p.rating AS podcast_rating, \
                        e.published_at AS published_at \
                        FROM episodes e JOIN podcasts p ON p.id = e.podcast_id ORDER BY e.id";
        let tags = "SELECT episode_id, tag FROM episode_tags ORDER BY episode_id, tag";
        type Rows = (Vec<EpisodeSummaryRow>, Vec<(String, String)>);
        let (rows, pairs): Rows = on_pool!(self, pool => {
            let rows = sqlx::query_as(episodes).fetch_all(pool).await;
            let pairs = sqlx::query_as(tags).fetch_all(pool).await;
            (rows.map_err(db_error)?, pairs.map_err(db_error)?)
        });
        let mut tags: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (episode_id, tag) in pairs {
            tags.entry(episode_id).or_default().push(tag);
        }
        Ok(rows
            .into_iter()
            .map(|row| EpisodeSummary {
                tags: tags.remove(&row.id).unwrap_or_default(),
                id: row.id,
                podcast_id: row.podcast_id,
                title: row.title,
                category_id: row.category_id,
                podcast_rating: row.podcast_rating,
                published_at: row.published_at,
            })
            .collect())
    }

    /// Attaches each episode's tags with one query for the whole list.
    async fn with_tags(&self, rows: Vec<EpisodeRow>) -> Result<Vec<Episode>, StoreError> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders: Vec<String> = (1..=rows.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT episode_id, tag FROM episode_tags WHERE episode_id IN ({}) ORDER BY tag",
            placeholders.join(", ")
        );
        let pairs: Vec<(String, String)> = on_pool!(self, pool => {
            let mut query = sqlx::query_as(AssertSqlSafe(sql.as_str()));
            for row in &rows {
                query = query.bind(&row.id);
            }
            query.fetch_all(pool).await
        })
        .map_err(db_error)?;
        let mut tags: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (episode_id, tag) in pairs {
            tags.entry(episode_id).or_default().push(tag);
        }
        rows.into_iter()
            .map(|row| {
                Ok(Episode {
                    tags: tags.remove(&row.id).unwrap_or_default(),
                    transcript_status: row.transcript_status.parse()?,
                    id: row.id,
                    podcast_id: row.podcast_id,
                    guid: row.guid,
                    title: row.title,
                    description: row.description,
                    published_at: row.published_at,
                    duration_ms: row.duration_ms,
                    language: row.language,
                    audio_key: row.audio_key,
                    preview_key: row.preview_key,
                })
            })
            .collect()
    }
}

/// Trimmed, non-empty, unique, sorted: tags compare as written by people.
fn normalise_tags(tags: &[String]) -> Vec<String> {
    let mut tags: Vec<String> = tags
        .iter()
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .collect();
    tags.sort();
    tags.dedup();
    tags
}

/// Makes `%`, `_` and `\` in user text match themselves in a `LIKE ... ESCAPE '\'`.
fn escape_like(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}
