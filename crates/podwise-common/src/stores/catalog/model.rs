//! The records the catalog holds, as callers see them.

use std::fmt;

use secrecy::SecretString;

/// A topic area listeners pick at onboarding (`business`, `education`, ...).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Category {
    pub id: String,
    pub name_zh: String,
    pub name_en: String,
}

/// A show, as ingestion describes it.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Podcast {
    /// The Apple collection id where known, else one the ingester made up.
    pub id: String,
    pub title: String,
    pub author: String,
    pub description: String,
    pub category_id: String,
    /// BCP 47 tag of the spoken language (`zh-TW`, `en`).
    pub language: String,
    pub image_url: Option<String>,
    pub rss_url: Option<String>,
    pub rating: Option<f64>,
}

/// An episode to add or update; the catalog assigns the id.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEpisode {
    pub podcast_id: String,
    /// The feed's own identifier; the same guid for the same podcast updates in place.
    pub guid: String,
    pub title: String,
    pub description: String,
    /// Unix milliseconds.
    pub published_at: Option<i64>,
    pub duration_ms: Option<i64>,
    pub language: String,
    pub audio_key: Option<String>,
    pub preview_key: Option<String>,
    pub tags: Vec<String>,
}

/// An episode as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Episode {
    pub id: String,
    pub podcast_id: String,
    pub guid: String,
    pub title: String,
    pub description: String,
    pub published_at: Option<i64>,
    pub duration_ms: Option<i64>,
    pub language: String,
    pub audio_key: Option<String>,
    pub preview_key: Option<String>,
    pub transcript_status: TranscriptStatus,
    /// Sorted, without duplicates.
    pub tags: Vec<String>,
}

/// The row shape of `episodes`; tags come from their own table.
#[derive(sqlx::FromRow)]
pub(super) struct EpisodeRow {
    pub id: String,
    pub podcast_id: String,
    pub guid: String,
    pub title: String,
    pub description: String,
    pub published_at: Option<i64>,
    pub duration_ms: Option<i64>,
    pub language: String,
    pub audio_key: Option<String>,
    pub preview_key: Option<String>,
    pub transcript_status: String,
}

/// The columns of [`EpisodeRow`], for `SELECT` lists (prefixed `e.`).
pub(super) const EPISODE_COLUMNS: &str = "e.id, e.podcast_id, e.guid, e.title, e.description, \
     e.published_at, e.duration_ms, e.language, e.audio_key, e.preview_key, e.transcript_status";

/// Declares a closed set of values stored as text, with both conversions.
macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }
        }

        impl std::str::FromStr for $name {
            type Err = super::StoreError;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                match text {
                    $($text => Ok(Self::$variant),)+
                    other => Err(super::StoreError::Invalid(format!(
                        "{other:?} is not a valid {}", stringify!($name)
                    ))),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

text_enum!(
    /// Where an episode's transcript is.
    TranscriptStatus {
        Pending => "pending",
        Transcribing => "transcribing",
        Done => "done",
        Failed => "failed",
    }
);

text_enum!(
    /// What a listener did with an episode.
    FeedbackKind {
        PreviewPlayed => "preview_played",
        Liked => "liked",
        Disliked => "disliked",
        Skipped => "skipped",
        // Listened to the end: a strong sign of interest, and never offered again.
        Completed => "completed",
    }
);

text_enum!(
    /// What an ingestion job ingests.
    JobKind {
        Feed => "feed",
        Episode => "episode",
        Audio => "audio",
        Transcripts => "transcripts",
    }
);

text_enum!(
    /// Where an ingestion job is in its life.
    JobState {
        Queued => "queued",
        Running => "running",
        Succeeded => "succeeded",
        Failed => "failed",
    }
);

/// Which slice of a long listing to return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub limit: u32,
    pub offset: u32,
}

impl Page {
    /// The largest page a caller may ask for.
    pub const MAX_LIMIT: u32 = 200;

    /// The first `limit` records (capped at [`Page::MAX_LIMIT`]).
    pub fn first(limit: u32) -> Self {
        Self {
            limit: limit.min(Self::MAX_LIMIT),
            offset: 0,
        }
    }

    pub(super) fn limit(self) -> i64 {
        i64::from(self.limit.min(Self::MAX_LIMIT))
    }

    pub(super) fn offset(self) -> i64 {
        i64::from(self.offset)
    }
}

/// What the recommender needs to know about one episode: its show, the show's category
/// and rating, and its tags.
#[derive(Debug, Clone, PartialEq)]
pub struct EpisodeSummary {
    pub id: String,
    pub podcast_id: String,
    pub title: String,
    pub category_id: String,
    pub podcast_rating: Option<f64>,
    /// Unix milliseconds.
    pub published_at: Option<i64>,
    /// Sorted, without duplicates.
    pub tags: Vec<String>,
}

#[derive(sqlx::FromRow)]
pub(super) struct EpisodeSummaryRow {
    pub id: String,
    pub podcast_id: String,
    pub title: String,
    pub category_id: String,
    pub podcast_rating: Option<f64>,
    pub published_at: Option<i64>,
}

/// A tag and how many episodes of a category carry it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TagCount {
    pub tag: String,
    pub episodes: i64,
}

/// A listener just created: the token is shown to them once and never stored.
#[derive(Debug)]
pub struct IssuedUser {
    pub user_id: String,
    pub token: SecretString,
}

/// What a listener said they like.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Preferences {
    pub categories: Vec<String>,
    pub tags: Vec<String>,
}

/// One thing a listener did, with its time (Unix milliseconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedbackEvent {
    pub user_id: String,
    pub episode_id: String,
    pub kind: FeedbackKind,
    pub at: i64,
}

#[derive(sqlx::FromRow)]
pub(super) struct FeedbackRow {
    pub user_id: String,
    pub episode_id: String,
    pub kind: String,
    pub at: i64,
}

/// An ingestion job to queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJob {
    pub kind: JobKind,
    pub source: String,
    pub parent_id: Option<String>,
    pub podcast_id: Option<String>,
    pub episode_id: Option<String>,
}

/// An ingestion job as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub id: String,
    pub parent_id: Option<String>,
    pub kind: JobKind,
    pub source: String,
    pub podcast_id: Option<String>,
    pub episode_id: Option<String>,
    pub state: JobState,
    pub stage: Option<String>,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub not_before: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(sqlx::FromRow)]
pub(super) struct JobRow {
    pub id: String,
    pub parent_id: Option<String>,
    pub kind: String,
    pub source: String,
    pub podcast_id: Option<String>,
    pub episode_id: Option<String>,
    pub state: String,
    pub stage: Option<String>,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub not_before: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

pub(super) const JOB_COLUMNS: &str = "id, parent_id, kind, source, podcast_id, episode_id, \
     state, stage, attempts, last_error, not_before, created_at, updated_at";

impl TryFrom<JobRow> for Job {
    type Error = super::StoreError;

    fn try_from(row: JobRow) -> Result<Self, Self::Error> {
        Ok(Self {
            kind: row.kind.parse()?,
            state: row.state.parse()?,
            id: row.id,
            parent_id: row.parent_id,
            source: row.source,
            podcast_id: row.podcast_id,
            episode_id: row.episode_id,
            stage: row.stage,
            attempts: row.attempts,
            last_error: row.last_error,
            not_before: row.not_before,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}
