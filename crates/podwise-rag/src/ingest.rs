//! Ingestion: shows in, searchable chunks out.
//!
//! Requests ([`transcripts`]) store what they carry and queue one job per episode in the
//! catalog; [`worker`]s claim the jobs and run them through [`indexer`]: clean, chunk,
//! tag, embed, replace the episode's vectors and lexical entries, mark it done. Job state
//! lives in the catalog, so a restarted service picks up where the last one stopped, and
//! a failed attempt is retried with back-off without holding up other episodes.

pub mod indexer;
pub mod transcripts;
pub mod worker;

use podwise_common::stores::catalog::{Job, JobState};
use podwise_proto::rag::v1::{IngestionJob, JobState as JobStateMessage};

/// The stage a running job reports while its audio is transcribed.
pub const STAGE_TRANSCRIBING: &str = "transcribing";
/// The stage a running job reports while its transcript is chunked, embedded and indexed.
pub const STAGE_INDEXING: &str = "indexing";

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
