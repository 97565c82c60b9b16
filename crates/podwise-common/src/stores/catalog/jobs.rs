//! Ingestion jobs: a durable queue with attempts, back-off and visible state.
//!
//! A job is claimed by moving it from `queued` to `running` in one conditional update,
//! so two workers never run the same job. A failed attempt goes back to `queued` with
//! a later `not_before` until it has used its attempts; a worker that died mid-job is
//! noticed by [`Catalog::requeue_stale_jobs`].

use std::time::Duration;

use sqlx::AssertSqlSafe;

use super::model::{JOB_COLUMNS, JobRow};
use super::{
    Catalog, Job, JobKind, JobState, NewJob, Page, Pool, StoreError, db_error, new_id, now_ms,
    on_pool,
};

/// How a failed attempt is retried.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: i64,
    /// Wait before the second attempt; doubled for each one after.
    pub first_delay: Duration,
}

impl Catalog {
    /// Queues a job.
    ///
    /// # Errors
    /// `Invalid` when the parent, podcast or episode it names does not exist.
    pub async fn create_job(&self, job: &NewJob) -> Result<Job, StoreError> {
        self.ready().await?;
        let sql = format!(
            "INSERT INTO ingestion_jobs (id, parent_id, kind, source, podcast_id, episode_id, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) \
             RETURNING {JOB_COLUMNS}"
        );
        let row: JobRow = on_pool!(self, pool => sqlx::query_as(AssertSqlSafe(sql.as_str()))
            .bind(new_id())
            .bind(&job.parent_id)
            .bind(job.kind.as_str())
            .bind(&job.source)
            .bind(&job.podcast_id)
            .bind(&job.episode_id)
            .bind(now_ms())
            .fetch_one(pool)
            .await)
        .map_err(db_error)?;
        row.try_into()
    }

    /// The job with this id.
    ///
    /// # Errors
    /// `NotFound` when there is none.
    pub async fn job(&self, id: &str) -> Result<Job, StoreError> {
        self.ready().await?;
        let sql = format!("SELECT {JOB_COLUMNS} FROM ingestion_jobs WHERE id = $1");
        let row: Option<JobRow> = on_pool!(self, pool => {
            let query = sqlx::query_as(AssertSqlSafe(sql.as_str())).bind(id);
            query.fetch_optional(pool).await
        })
        .map_err(db_error)?;
        row.ok_or_else(|| StoreError::NotFound(format!("no ingestion job {id}")))?
            .try_into()
    }

    /// Jobs, newest first, optionally only those in one state or under one parent.
    ///
    /// # Errors
    /// When the database is unavailable.
    pub async fn jobs(
        &self,
        state: Option<JobState>,
        parent_id: Option<&str>,
        page: Page,
    ) -> Result<Vec<Job>, StoreError> {
        self.ready().await?;
        let sql = format!(
            "SELECT {JOB_COLUMNS} FROM ingestion_jobs \
             WHERE ($1 IS NULL OR state = $1) AND ($2 IS NULL OR parent_id = $2) \
             ORDER BY created_at DESC, id LIMIT $3 OFFSET $4"
        );
        let rows: Vec<JobRow> = on_pool!(self, pool => sqlx::query_as(AssertSqlSafe(sql.as_str()))
            .bind(state.map(JobState::as_str))
            .bind(parent_id)
            .bind(page.limit())
            .bind(page.offset())
            .fetch_all(pool)
            .await)
        .map_err(db_error)?;
        rows.into_iter().map(Job::try_from).collect()
    }

    /// Takes the oldest queued job of one of `kinds` that is due, marking it running and
    /// counting the attempt; `None` when there is nothing to do.
    ///
    /// # Errors
    /// When the database is unavailable.
    pub async fn claim_next_job(&self, kinds: &[JobKind]) -> Result<Option<Job>, StoreError> {
        self.ready().await?;
        if kinds.is_empty() {
            return Ok(None);
        }
        let kind_list: Vec<String> = (0..kinds.len()).map(|i| format!("${}", i + 2)).collect();
        // The state check in the outer WHERE makes the claim safe: if another worker
        // took the same job first, this update matches no row.
        let sql = format!(
            "UPDATE ingestion_jobs SET state = 'running', attempts = attempts + 1, \
             stage = NULL, updated_at = $1 \
             WHERE state = 'queued' AND id = ( \
                 SELECT id FROM ingestion_jobs WHERE state = 'queued' AND not_before <= $1 \
                 AND kind IN ({}) ORDER BY created_at, id LIMIT 1) \
             RETURNING {JOB_COLUMNS}",
            kind_list.join(", ")
        );
        let row: Option<JobRow> = on_pool!(self, pool => {
            let mut query = sqlx::query_as(AssertSqlSafe(sql.as_str())).bind(now_ms());
            for kind in kinds {
                query = query.bind(kind.as_str());
            }
            query.fetch_optional(pool).await
        })
        .map_err(db_error)?;
        row.map(Job::try_from).transpose()
    }

    /// Records which pipeline step a running job is in; also tells
    /// [`requeue_stale_jobs`](Self::requeue_stale_jobs) the worker is alive.
    ///
    /// # Errors
    /// `NotFound` when the job is not running.
    pub async fn set_job_stage(&self, id: &str, stage: &str) -> Result<(), StoreError> {
        self.update_running(id, "stage = $3", Some(stage)).await
    }

    /// Marks a running job as done, linking the episode it produced (if any).
    ///
    /// # Errors
    /// `NotFound` when the job is not running.
    pub async fn succeed_job(&self, id: &str, episode_id: Option<&str>) -> Result<(), StoreError> {
        self.update_running(
            id,
            "state = 'succeeded', stage = NULL, last_error = NULL, \
             episode_id = COALESCE($3, episode_id)",
            episode_id,
        )
        .await
    }

    /// Records a failed attempt: the job is queued again after a back-off, or marked
    /// failed once it has used its attempts. Returns the job's new state.
    ///
    /// # Errors
    /// `NotFound` when the job is not running.
    pub async fn fail_job(
        &self,
        id: &str,
        error: &str,
        retry: RetryPolicy,
    ) -> Result<JobState, StoreError> {
        let job = self.job(id).await?;
        if job.state != JobState::Running {
            return Err(StoreError::NotFound(format!(
                "ingestion job {id} is not running"
            )));
        }
        let state = if job.attempts >= retry.max_attempts {
            JobState::Failed
        } else {
            JobState::Queued
        };
        let doublings = u32::try_from(job.attempts.saturating_sub(1))
            .unwrap_or(u32::MAX)
            .min(16);
        let delay = retry
            .first_delay
            .saturating_mul(2u32.saturating_pow(doublings));
        let not_before =
            now_ms().saturating_add(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX));
        let sql = "UPDATE ingestion_jobs SET state = $1, last_error = $2, not_before = $3, \
                   stage = NULL, updated_at = $4 WHERE id = $5 AND state = 'running'";
        on_pool!(self, pool => sqlx::query(sql)
            .bind(state.as_str())
            .bind(error)
            .bind(not_before)
            .bind(now_ms())
            .bind(id)
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))
        .map_err(db_error)?;
        Ok(state)
    }

    /// Puts running jobs that have shown no progress for `silence` back in the queue:
    /// their worker died. Returns how many were requeued.
    ///
    /// # Errors
    /// When the database is unavailable.
    pub async fn requeue_stale_jobs(&self, silence: Duration) -> Result<u64, StoreError> {
        self.ready().await?;
        let now = now_ms();
        let cutoff = now.saturating_sub(i64::try_from(silence.as_millis()).unwrap_or(i64::MAX));
        let sql = "UPDATE ingestion_jobs SET state = 'queued', stage = NULL, \
                   last_error = 'the worker stopped answering', updated_at = $1 \
                   WHERE state = 'running' AND updated_at < $2";
        on_pool!(self, pool => sqlx::query(sql)
            .bind(now)
            .bind(cutoff)
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))
        .map_err(db_error)
    }

    /// Applies `assignments` (which may use `$3` for `value`) to a running job.
    async fn update_running(
        &self,
        id: &str,
        assignments: &str,
        value: Option<&str>,
    ) -> Result<(), StoreError> {
        self.ready().await?;
        let sql = format!(
            "UPDATE ingestion_jobs SET {assignments}, updated_at = $1 \
             WHERE id = $2 AND state = 'running'"
        );
        let changed = on_pool!(self, pool => sqlx::query(AssertSqlSafe(sql.as_str()))
            .bind(now_ms())
            .bind(id)
            .bind(value)
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))
        .map_err(db_error)?;
        if changed == 0 {
            return Err(StoreError::NotFound(format!(
                "ingestion job {id} is not running"
            )));
        }
        Ok(())
    }
}
