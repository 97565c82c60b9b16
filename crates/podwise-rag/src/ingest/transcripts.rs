//! Accepting ready transcripts: the request is checked whole before anything is written,
//! then each podcast and episode goes into the catalog, each transcript into the
//! documents, and one indexing job per episode into the queue.
//!
//! Nothing here indexes: the workers do, so a large upload answers at once with its jobs
//! and the listener-facing calls never wait behind it.

use podwise_common::ServiceError;
use podwise_common::stores::catalog::{JobKind, NewEpisode, Podcast};
use podwise_common::stores::documents::{Transcript, TranscriptSegment};
use podwise_proto::rag::v1::{
    EpisodeTranscript, IngestTranscriptsRequest, IngestionJob, PodcastTranscripts,
};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::queue;
use crate::library::Library;

/// What one request may carry; larger libraries are sent in several requests.
pub const MAX_EPISODES_PER_REQUEST: usize = 500;
pub const MAX_SEGMENTS_PER_EPISODE: usize = 20_000;
const MAX_ID_BYTES: usize = 128;
const MAX_TITLE_CHARS: usize = 500;

/// The source a transcripts job names: the transcript is already in the documents.
pub const TRANSCRIPT_SOURCE: &str = "transcript";

/// Checks, stores and queues every episode of `request`; answers one job per episode.
///
/// # Errors
/// `InvalidArgument` naming the first fault (nothing is written then); a store's
/// unavailability as it comes.
pub async fn ingest(
    library: &Library,
    request: IngestTranscriptsRequest,
) -> Result<Vec<IngestionJob>, ServiceError> {
    let categories = library.catalog.categories().await?;
    check(&request, |id| categories.iter().any(|c| c.id == id))?;
    let mut jobs = Vec::new();
    for podcast in &request.podcasts {
        library
            .catalog
            .upsert_podcast(&catalog_podcast(podcast))
            .await?;
        for episode in &podcast.episodes {
            let episode_id = library
                .catalog
                .upsert_episode(&catalog_episode(podcast, episode)?)
                .await?;
            library
                .documents
                .put_transcript(&transcript(&episode_id, &podcast.language, episode))
                .await?;
            let source = TRANSCRIPT_SOURCE.to_owned();
            jobs.push(
                queue(
                    library,
                    JobKind::Transcripts,
                    source,
                    &podcast.id,
                    episode_id,
                )
                .await?,
            );
        }
    }
    library.job_queued.notify_waiters();
    tracing::info!(
        podcasts = request.podcasts.len(),
        episodes = jobs.len(),
        "transcripts accepted and queued for indexing"
    );
    Ok(jobs)
}

/// Every rule a request must meet, checked before anything is stored.
fn check(
    request: &IngestTranscriptsRequest,
    category_exists: impl Fn(&str) -> bool,
) -> Result<(), ServiceError> {
    let invalid = |message: String| Err(ServiceError::InvalidArgument(message));
    if request.podcasts.is_empty() {
        return invalid("the request names no podcasts".into());
    }
    let episodes: usize = request.podcasts.iter().map(|p| p.episodes.len()).sum();
    if episodes > MAX_EPISODES_PER_REQUEST {
        return invalid(format!(
            "{episodes} episodes in one request; send at most {MAX_EPISODES_PER_REQUEST}"
        ));
    }
    for podcast in &request.podcasts {
        check_id("podcast id", &podcast.id)?;
        let at = format!("podcast {:?}", podcast.id);
        check_title(&at, &podcast.title)?;
        if !category_exists(&podcast.category) {
            return invalid(format!(
                "{at}: category {:?} is not one the catalog knows (business, education)",
                podcast.category
            ));
        }
        if podcast.language.trim().is_empty() {
            return invalid(format!(
                "{at}: language is missing (for example zh-TW or en)"
            ));
        }
        if podcast.episodes.is_empty() {
            return invalid(format!("{at} has no episodes"));
        }
        let mut seen = std::collections::HashSet::new();
        for episode in &podcast.episodes {
            check_id("episode id", &episode.id)?;
            let at = format!("{at}, episode {:?}", episode.id);
            if !seen.insert(episode.id.as_str()) {
                return invalid(format!("{at} appears twice"));
            }
            check_title(&at, &episode.title)?;
            if !episode.published.is_empty() {
                published_ms(&episode.published)
                    .map_err(|e| ServiceError::InvalidArgument(format!("{at}: {e}")))?;
            }
            check_segments(&at, episode)?;
        }
    }
    Ok(())
}

pub(super) fn check_id(what: &str, id: &str) -> Result<(), ServiceError> {
    let fine = !id.is_empty()
        && id.len() <= MAX_ID_BYTES
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'));
    if fine {
        Ok(())
    } else {
        Err(ServiceError::InvalidArgument(format!(
            "{what} {id:?} must be 1 to {MAX_ID_BYTES} letters, digits, '-', '_', '.' or ':'"
        )))
    }
}

pub(super) fn check_title(at: &str, title: &str) -> Result<(), ServiceError> {
    let chars = title.trim().chars().count();
    if chars == 0 || chars > MAX_TITLE_CHARS {
        return Err(ServiceError::InvalidArgument(format!(
            "{at}: the title must be 1 to {MAX_TITLE_CHARS} characters"
        )));
    }
    Ok(())
}

fn check_segments(at: &str, episode: &EpisodeTranscript) -> Result<(), ServiceError> {
    let invalid = |message: String| Err(ServiceError::InvalidArgument(format!("{at}: {message}")));
    if episode.segments.is_empty() {
        return invalid("the transcript has no segments".into());
    }
    if episode.segments.len() > MAX_SEGMENTS_PER_EPISODE {
        return invalid(format!("more than {MAX_SEGMENTS_PER_EPISODE} segments"));
    }
    let mut previous_start = 0.0;
    for (index, segment) in episode.segments.iter().enumerate() {
        let (start, end) = (segment.start_seconds, segment.end_seconds);
        if !(start.is_finite() && end.is_finite() && start >= 0.0 && end >= start) {
            return invalid(format!(
                "segment {index} runs from {start} to {end}: times must be seconds, \
                 not negative, and end at or after the start"
            ));
        }
        if start < previous_start {
            return invalid(format!("segment {index} starts before the one before it"));
        }
        previous_start = start;
    }
    if episode.segments.iter().all(|s| s.text.trim().is_empty()) {
        return invalid("every segment is empty".into());
    }
    Ok(())
}

/// Unix milliseconds of an RFC 3339 date-time, or of midnight UTC of a plain date.
pub fn published_ms(published: &str) -> Result<i64, String> {
    let text = published.trim();
    let full = if text.len() == 10 {
        format!("{text}T00:00:00Z")
    } else {
        text.to_owned()
    };
    let at = OffsetDateTime::parse(&full, &Rfc3339).map_err(|_| {
        format!("published {published:?} is not a date (2024-05-01) or an RFC 3339 date-time")
    })?;
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).map_err(|_| "out of range".to_owned())
}

fn catalog_podcast(podcast: &PodcastTranscripts) -> Podcast {
    Podcast {
        id: podcast.id.clone(),
        title: podcast.title.trim().to_owned(),
        author: podcast.author.clone(),
        description: podcast.description.clone(),
        category_id: podcast.category.clone(),
        language: podcast.language.clone(),
        image_url: None,
        rss_url: None,
        rating: None,
    }
}

fn catalog_episode(
    podcast: &PodcastTranscripts,
    episode: &EpisodeTranscript,
) -> Result<NewEpisode, ServiceError> {
    let published_at = match episode.published.as_str() {
        "" => None,
        text => Some(published_ms(text).map_err(ServiceError::InvalidArgument)?),
    };
    let duration_ms = episode
        .segments
        .iter()
        .map(|s| seconds_to_ms(s.end_seconds))
        .max();
    Ok(NewEpisode {
        podcast_id: podcast.id.clone(),
        guid: episode.id.clone(),
        title: episode.title.trim().to_owned(),
        description: episode.description.clone(),
        published_at,
        duration_ms,
        language: podcast.language.clone(),
        audio_key: (!episode.audio_object_key.is_empty()).then(|| episode.audio_object_key.clone()),
        preview_key: None,
        tags: episode.tags.clone(),
    })
}

fn transcript(episode_id: &str, language: &str, episode: &EpisodeTranscript) -> Transcript {
    let segments: Vec<TranscriptSegment> = episode
        .segments
        .iter()
        .map(|s| TranscriptSegment {
            start_ms: seconds_to_ms(s.start_seconds),
            end_ms: seconds_to_ms(s.end_seconds),
            text: s.text.clone(),
            confidence: None,
        })
        .collect();
    let raw_text = segments
        .iter()
        .map(|s| s.text.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    Transcript {
        episode_id: episode_id.to_owned(),
        language: language.to_owned(),
        model: "provided".to_owned(),
        segments,
        raw_text,
        // The indexing job cleans it.
        cleaned_text: String::new(),
        updated_at: 0,
    }
}

pub fn seconds_to_ms(seconds: f64) -> i64 {
    (seconds * 1000.0).round() as i64
}

#[cfg(test)]
mod tests {
    use podwise_proto::rag::v1::TimedText;

    use super::*;

    fn request() -> IngestTranscriptsRequest {
        IngestTranscriptsRequest {
            podcasts: vec![PodcastTranscripts {
                id: "pod-1".into(),
                title: "商業放大鏡".into(),
                category: "business".into(),
                language: "zh-TW".into(),
                episodes: vec![EpisodeTranscript {
                    id: "ep-1".into(),
                    title: "半導體".into(),
                    published: "2024-05-01".into(),
                    segments: vec![
                        TimedText {
                            start_seconds: 0.0,
                            end_seconds: 4.5,
                            text: "台積電在新竹。".into(),
                        },
                        TimedText {
                            start_seconds: 4.5,
                            end_seconds: 9.0,
                            text: "晶圓代工是它的生意。".into(),
                        },
                    ],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    fn fault(change: impl FnOnce(&mut IngestTranscriptsRequest)) -> String {
        let mut request = request();
        change(&mut request);
        match check(&request, |id| id == "business" || id == "education") {
            Err(ServiceError::InvalidArgument(message)) => message,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn a_well_formed_request_passes() {
        check(&request(), |id| id == "business").expect("valid");
    }

    #[test]
    fn each_fault_is_refused_by_name() {
        fn episode(r: &mut IngestTranscriptsRequest) -> &mut EpisodeTranscript {
            &mut r.podcasts[0].episodes[0]
        }
        type Change = Box<dyn FnOnce(&mut IngestTranscriptsRequest)>;
        let cases: Vec<(Change, &str)> = vec![
            (Box::new(|r| r.podcasts.clear()), "no podcasts"),
            (
                Box::new(|r| r.podcasts[0].category = "cooking".into()),
                "cooking",
            ),
            (Box::new(|r| r.podcasts[0].id = "a b".into()), "podcast id"),
            (Box::new(|r| r.podcasts[0].language.clear()), "language"),
            (Box::new(|r| episode(r).title = " ".into()), "title"),
            (
                Box::new(|r| episode(r).published = "May 1st".into()),
                "May 1st",
            ),
            (Box::new(|r| episode(r).segments.clear()), "no segments"),
            (
                Box::new(|r| episode(r).segments[1].end_seconds = 1.0),
                "segment 1",
            ),
            (
                Box::new(|r| episode(r).segments[0].start_seconds = f64::NAN),
                "segment 0",
            ),
            (
                Box::new(|r| episode(r).segments[1].start_seconds = 0.0 - 1.0),
                "segment 1",
            ),
            (
                Box::new(|r| {
                    let copy = r.podcasts[0].episodes[0].clone();
                    r.podcasts[0].episodes.push(copy);
                }),
                "twice",
            ),
        ];
        for (change, expected) in cases {
            let message = fault(change);
            assert!(
                message.contains(expected),
                "{message:?} should name {expected:?}"
            );
        }
    }

    #[test]
    fn dates_and_date_times_become_unix_milliseconds() {
        assert_eq!(published_ms("1970-01-02"), Ok(86_400_000));
        assert_eq!(published_ms("1970-01-01T00:00:01+00:00"), Ok(1_000));
        assert_eq!(published_ms("1970-01-01T08:00:00+08:00"), Ok(0));
        assert!(published_ms("2024-13-01").is_err());
    }
}
