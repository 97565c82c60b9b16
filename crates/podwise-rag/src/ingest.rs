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

use podwise_common::stores::catalog::{Episode, Job, JobState, NewEpisode};
use podwise_proto::rag::v1::{IngestionJob, JobState as JobStateMessage};

/// The stage a running job reports while its audio is transcribed.
pub const STAGE_TRANSCRIBING: &str = "transcribing";
/// The stage a running job reports while its transcript is chunked, embedded and indexed.
pub const STAGE_INDEXING: &str = "indexing";

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
