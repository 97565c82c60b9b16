//! Ingestion: shows in, searchable chunks out.
//!
//! Requests ([`transcripts`], [`audio`], [`feed`]) store what they carry and queue one job
//! per episode in the catalog; [`worker`]s claim the jobs, download a feed's audio, have
//! audio transcribed (with a [`preview`] cut first), and run every transcript through
//! [`indexer`]: clean, chunk, tag, embed, replace the episode's vectors and lexical
//! entries, mark it done. Job state
//! lives in the catalog, so a restarted service picks up where the last one stopped, and
//! a failed attempt is retried with back-off without holding up other episodes.

pub mod audio;
pub mod feed;
pub mod indexer;
pub mod preview;
pub mod transcripts;
pub mod worker;

use podwise_common::ServiceError;
use podwise_common::stores::catalog::{
    Episode, Job, JobKind, JobState, NewEpisode, NewJob, TranscriptStatus,
};

use crate::library::Library;
use podwise_proto::rag::v1::{IngestionJob, JobState as JobStateMessage};

/// The stage a running job reports while its audio is transcribed.
pub const STAGE_TRANSCRIBING: &str = "transcribing";
/// The stage a running job reports while its transcript is chunked, embedded and indexed.
pub const STAGE_INDEXING: &str = "indexing";

/// Refuses a category the catalog does not know.
///
/// # Errors
/// `InvalidArgument` naming it; the catalog's unavailability.
pub async fn require_category(library: &Library, category: &str) -> Result<(), ServiceError> {
    let known = library.catalog.categories().await?;
    if known.iter().any(|c| c.id == category) {
        return Ok(());
    }
    let names: Vec<&str> = known.iter().map(|c| c.id.as_str()).collect();
    Err(ServiceError::InvalidArgument(format!(
        "category {category:?} is not one the catalog knows ({})",
        names.join(", ")
    )))
}

/// Marks the episode's transcript as pending and queues its job; the caller wakes the
/// workers once everything of its request is queued.
///
/// # Errors
/// The catalog's refusal or unavailability.
pub async fn queue(
    library: &Library,
    kind: JobKind,
    source: String,
    podcast_id: &str,
    episode_id: String,
) -> Result<IngestionJob, ServiceError> {
    library
        .catalog
        .set_transcript_status(&episode_id, TranscriptStatus::Pending)
        .await?;
    let job = library
        .catalog
        .create_job(&NewJob {
            kind,
            source,
            parent_id: None,
            podcast_id: Some(podcast_id.to_owned()),
            episode_id: Some(episode_id),
        })
        .await?;
    Ok(job_message(&job))
}

/// The catalog record that writes `episode` back unchanged: the base of every update
/// to an episode's tags or preview.
pub fn unchanged(episode: &Episode) -> NewEpisode {
    NewEpisode {
        podcast_id: episode.podcast_id.clone(),
        guid: episode.guid.clone(),
        title: episode.title.clone(),
        description: episode.description.clone(),
        published_at: episode.published_at,
        duration_ms: episode.duration_ms,
        language: episode.language.clone(),
        audio_key: episode.audio_key.clone(),
        preview_key: episode.preview_key.clone(),
        tags: episode.tags.clone(),
    }
}

/// A job as the contract shows it: the catalog's state refined by the running stage.
pub fn job_message(job: &Job) -> IngestionJob {
    let state = match job.state {
        JobState::Queued => JobStateMessage::Queued,
        JobState::Running => match job.stage.as_deref() {
            Some(STAGE_TRANSCRIBING) => JobStateMessage::Transcribing,
            _ => JobStateMessage::Indexing,
        },
        JobState::Succeeded => JobStateMessage::Done,
        JobState::Failed => JobStateMessage::Failed,
    };
    IngestionJob {
        id: job.id.clone(),
        podcast_id: job.podcast_id.clone().unwrap_or_default(),
        episode_id: job.episode_id.clone().unwrap_or_default(),
        state: state as i32,
        attempts: u32::try_from(job.attempts).unwrap_or(u32::MAX),
        last_error: job.last_error.clone().unwrap_or_default(),
        created_at_unix_ms: job.created_at,
        updated_at_unix_ms: job.updated_at,
    }
}
