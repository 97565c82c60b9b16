//! The ingestion workers: a fixed number of tasks, each claiming one job at a time from
//! the catalog's queue, so ingestion uses bounded resources however much is queued.
//!
//! A running job reports its stage every few seconds; a job whose worker went quiet
//! (the process died) is put back in the queue by [`requeue_orphans`], here or in another
//! replica. A failed attempt is retried after a back-off that doubles; an error that a
//! retry cannot fix (the request itself is wrong) fails the job at once.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use podwise_common::CancellationToken;
use podwise_common::ServiceError;
use podwise_common::stores::catalog::{Job, JobKind, JobState, RetryPolicy, TranscriptStatus};
use tokio::task::JoinHandle;
use tracing::{Instrument as _, info, warn};

use super::{STAGE_INDEXING, STAGE_TRANSCRIBING, audio, feed, indexer};
use crate::library::SharedLibrary;

/// The kinds of job these workers run.
const KINDS: [JobKind; 3] = [JobKind::Transcripts, JobKind::Audio, JobKind::Episode];
/// How often an idle worker looks for due jobs (retries come due without a wake-up).
const IDLE_POLL: Duration = Duration::from_secs(2);
/// How often a running job says it is alive.
const HEARTBEAT: Duration = Duration::from_secs(10);
/// Silence after which a running job is taken to be orphaned.
const ORPHANED_AFTER: Duration = Duration::from_secs(60);

/// Starts the workers and the orphan sweeper; they stop when `shutdown` is cancelled,
/// after the job in hand.
pub fn spawn(library: SharedLibrary, shutdown: CancellationToken) -> Vec<JoinHandle<()>> {
    let mut tasks: Vec<JoinHandle<()>> = (0..library.settings.ingest_workers)
        .map(|worker| {
            let span = tracing::info_span!("ingest_worker", worker);
            tokio::spawn(run(library.clone(), shutdown.clone()).instrument(span))
        })
        .collect();
    tasks.push(tokio::spawn(requeue_orphans(library, shutdown)));
    tasks
}

async fn run(library: SharedLibrary, shutdown: CancellationToken) {
    while !shutdown.is_cancelled() {
        // Registered before the claim, so a job queued between the claim and the wait
        // still wakes this worker.
        let queued = library.job_queued.notified();
        match library.catalog.claim_next_job(&KINDS).await {
            Ok(Some(job)) => run_job(&library, job).await,
            Ok(None) => {
                tokio::select! {
                    () = queued => {}
                    () = tokio::time::sleep(IDLE_POLL) => {}
                    () = shutdown.cancelled() => {}
                }
            }
            Err(error) => {
                warn!(%error, "cannot claim ingestion jobs; trying again shortly");
                tokio::select! {
                    () = tokio::time::sleep(IDLE_POLL * 5) => {}
                    () = shutdown.cancelled() => {}
                }
            }
        }
    }
}

async fn run_job(library: &SharedLibrary, job: Job) {
    let started = Instant::now();
    let episode_id = job.episode_id.clone().unwrap_or_default();
    let span = tracing::info_span!("ingest_job", job = %job.id, episode = %episode_id);
    async {
        info!(attempt = job.attempts, kind = %job.kind, "ingesting");
        let stage = Mutex::new(STAGE_INDEXING);
        let outcome = tokio::select! {
            outcome = work(library, &job, &episode_id, &stage) => outcome,
            () = heartbeat(library, &job.id, &stage) => unreachable!("the heartbeat never ends"),
        };
        let seconds = started.elapsed().as_secs_f64();
        match outcome {
            Ok(chunks) => {
                if let Err(error) = library
                    .catalog
                    .succeed_job(&job.id, Some(&episode_id))
                    .await
                {
                    warn!(%error, "the episode is indexed but its job could not be closed");
                }
                metrics::counter!("podwise_rag_ingest_jobs_total", "outcome" => "done")
                    .increment(1);
                metrics::histogram!("podwise_rag_ingest_seconds").record(seconds);
                info!(chunks, seconds, "episode indexed");
            }
            Err(error) => fail(library, &job, &episode_id, &error).await,
        }
    }
    .instrument(span)
    .await;
}

async fn work(
    library: &SharedLibrary,
    job: &Job,
    episode_id: &str,
    stage: &Mutex<&'static str>,
) -> Result<usize, ServiceError> {
    if episode_id.is_empty() {
        return Err(ServiceError::InvalidArgument(
            "the job names no episode".to_owned(),
        ));
    }
    let enter = |name: &'static str| async move {
        *stage.lock().unwrap_or_else(PoisonError::into_inner) = name;
        library.catalog.set_job_stage(&job.id, name).await
    };
    match job.kind {
        JobKind::Transcripts => {}
        JobKind::Audio => {
            enter(STAGE_TRANSCRIBING).await?;
            audio::transcribe(library, episode_id, &job.source).await?;
        }
        JobKind::Episode => {
            // Fetching the audio is the first part of getting its transcript.
            enter(STAGE_TRANSCRIBING).await?;
            let key = feed::download(library, episode_id, &job.source).await?;
            audio::transcribe(library, episode_id, &key).await?;
        }
        other => {
            return Err(ServiceError::Unimplemented(format!(
                "this build does not ingest {other} jobs"
            )));
        }
    }
    enter(STAGE_INDEXING).await?;
    Ok(indexer::index_episode(library, episode_id).await?.chunks)
}

/// Keeps telling the catalog the job is alive, in the stage it is in; never returns.
async fn heartbeat(library: &SharedLibrary, job_id: &str, stage: &Mutex<&'static str>) {
    let mut ticks = tokio::time::interval(HEARTBEAT);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        let current = *stage.lock().unwrap_or_else(PoisonError::into_inner);
        if let Err(error) = library.catalog.set_job_stage(job_id, current).await {
            warn!(%error, "cannot record the job's progress");
        }
    }
}

async fn fail(library: &SharedLibrary, job: &Job, episode_id: &str, error: &ServiceError) {
    let retryable = matches!(
        error,
        ServiceError::Unavailable { .. }
            | ServiceError::Timeout(_)
            | ServiceError::BadUpstream(_)
            | ServiceError::Internal(_)
            | ServiceError::RateLimited { .. }
    );
    let retry = RetryPolicy {
        max_attempts: if retryable {
            i64::from(library.settings.ingest_attempts)
        } else {
            job.attempts
        },
        first_delay: library.settings.ingest_retry_delay,
    };
    let message = match error {
        // The detail of an internal error is for the log, not the job's public record.
        ServiceError::Internal(source) => {
            warn!(
                error = format!("{source:#}"),
                "internal error while ingesting"
            );
            "internal error (see the rag service's log)".to_owned()
        }
        other => other.to_string(),
    };
    match library.catalog.fail_job(&job.id, &message, retry).await {
        Ok(JobState::Failed) => {
            warn!(error = %message, attempts = job.attempts, "ingestion failed for good");
            metrics::counter!("podwise_rag_ingest_jobs_total", "outcome" => "failed").increment(1);
            if let Err(error) = library
                .catalog
                .set_transcript_status(episode_id, TranscriptStatus::Failed)
                .await
            {
                warn!(%error, "cannot mark the episode's transcript as failed");
            }
        }
        Ok(_) => {
            warn!(error = %message, attempt = job.attempts, "ingestion attempt failed; will retry");
            metrics::counter!("podwise_rag_ingest_jobs_total", "outcome" => "retried").increment(1);
        }
        Err(store) => warn!(error = %store, job_error = %message, "cannot record the failure"),
    }
}

/// Puts jobs whose worker went quiet back in the queue, now and then every minute.
async fn requeue_orphans(library: SharedLibrary, shutdown: CancellationToken) {
    let mut ticks = tokio::time::interval(ORPHANED_AFTER);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            () = shutdown.cancelled() => return,
        }
        match library.catalog.requeue_stale_jobs(ORPHANED_AFTER).await {
            Ok(0) => {}
            Ok(requeued) => {
                info!(
                    requeued,
                    "ingestion jobs of a stopped worker are queued again"
                );
                library.job_queued.notify_waiters();
            }
            Err(error) => warn!(%error, "cannot look for orphaned ingestion jobs"),
        }
    }
}
