//! Ingestion in the product API, for operators (an operator API key on every route).
//!
//! - `POST /api/v1/ingest/transcripts` takes ready transcripts,
//!   `{"podcasts": [{"id", "title", "category", "language", "author"?, "description"?,
//!   "episodes": [{"id", "title", "published"?, "description"?, "tags"?, "segments":
//!   [{"start", "end", "text"}]}]}]}` with times in seconds, and answers 202 with one
//!   job per episode.
//! - `POST /api/v1/ingest/audio` takes one episode's audio as `multipart/form-data`: the
//!   `file` (WAV, MP3, FLAC, Ogg Vorbis, M4A/AAC) and the fields `podcast_id`,
//!   `podcast_title`, `category`, `language`, `episode_id`, `episode_title`, and
//!   optionally `published`, `description`, `tags` (repeatable), `podcast_author` and
//!   `podcast_description`; 202 with its job.
//! - `POST /api/v1/ingest/feed` takes `{"url", "category", "language"?, "max_episodes"?}`
//!   (or `{"xml", ...}` with the feed itself) and answers 202 with a job per episode that
//!   has audio.
//! - `GET /api/v1/ingest/jobs?state=&podcast_id=&limit=` lists jobs, newest first.
//! - `GET /api/v1/ingest/jobs/{id}` shows one job: state (queued, transcribing, indexing,
//!   done, failed), attempts and the last error.

use actix_web::{HttpRequest, HttpResponse, web};
use podwise_common::ServiceError;
use podwise_proto::common::v1::AudioInput;
use podwise_proto::common::v1::audio_input::Source;
use podwise_proto::rag::v1::{
    EpisodeTranscript, GetJobRequest, IngestAudioRequest, IngestFeedRequest,
    IngestTranscriptsRequest, IngestionJob, JobState, ListJobsRequest, PodcastTranscripts,
    TimedText, ingest_feed_request,
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::api_error::ApiError;
use crate::ask::rag_client;
use crate::auth::Operator;
use crate::json_body;
use crate::upload::{self, Upload};
use crate::upstreams::grpc_request;

/// A library of transcripts is large; this is the most one request may carry.
pub(crate) const TRANSCRIPTS_BODY_LIMIT: usize = 32 * 1024 * 1024;
/// The largest episode file one upload may carry (the RAG service's inline limit).
pub(crate) const AUDIO_BODY_LIMIT: usize = 48 * 1024 * 1024;

/// Podcasts with their episodes' timed transcripts (times in seconds).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = TranscriptLibrary)]
pub(crate) struct Library {
    podcasts: Vec<PodcastBody>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct PodcastBody {
    id: String,
    title: String,
    category: String,
    language: String,
    #[serde(default)]
    author: String,
    #[serde(default)]
    description: String,
    episodes: Vec<EpisodeBody>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct EpisodeBody {
    id: String,
    title: String,
    #[serde(default)]
    published: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    tags: Vec<String>,
    segments: Vec<SegmentBody>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct SegmentBody {
    start: f64,
    end: f64,
    text: String,
}

impl From<Library> for IngestTranscriptsRequest {
    fn from(library: Library) -> Self {
        Self {
            podcasts: library
                .podcasts
                .into_iter()
                .map(|p| PodcastTranscripts {
                    id: p.id,
                    title: p.title,
                    category: p.category,
                    language: p.language,
                    author: p.author,
                    description: p.description,
                    episodes: p
                        .episodes
                        .into_iter()
                        .map(|e| EpisodeTranscript {
                            id: e.id,
                            title: e.title,
                            published: e.published,
                            description: e.description,
                            tags: e.tags,
                            segments: e
                                .segments
                                .into_iter()
                                .map(|s| TimedText {
                                    start_seconds: s.start,
                                    end_seconds: s.end,
                                    text: s.text,
                                })
                                .collect(),
                            audio_object_key: String::new(),
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}

pub(crate) async fn transcripts(
    state: web::Data<AppState>,
    http: HttpRequest,
    _operator: Operator,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let library: Library = json_body::read(&http, payload, TRANSCRIPTS_BODY_LIMIT).await?;
    let reply = rag_client(&state)
        .ingest_transcripts(grpc_request(&http, library.into()))
        .await?
        .into_inner();
    let jobs: Vec<Value> = reply.jobs.iter().map(job_json).collect();
    Ok(HttpResponse::Accepted().json(json!({ "jobs": jobs })))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct FeedBody {
    url: Option<String>,
    xml: Option<String>,
    category: String,
    #[serde(default)]
    language: String,
    #[serde(default)]
    max_episodes: u32,
}

pub(crate) async fn feed(
    state: web::Data<AppState>,
    http: HttpRequest,
    _operator: Operator,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body: FeedBody = json_body::read(&http, payload, TRANSCRIPTS_BODY_LIMIT).await?;
    let source = match (body.url, body.xml) {
        (Some(url), None) => ingest_feed_request::Source::Url(url),
        (None, Some(xml)) => ingest_feed_request::Source::FeedXml(xml.into_bytes()),
        _ => {
            return Err(ServiceError::InvalidArgument(
                "send the feed's url or its xml, one of the two".into(),
            )
            .into());
        }
    };
    let request = IngestFeedRequest {
        source: Some(source),
        category: body.category,
        language: body.language,
        max_episodes: body.max_episodes,
    };
    let reply = rag_client(&state)
        .ingest_feed(grpc_request(&http, request))
        .await?
        .into_inner();
    let jobs: Vec<Value> = reply.jobs.iter().map(job_json).collect();
    Ok(HttpResponse::Accepted().json(json!({ "jobs": jobs })))
}

pub(crate) async fn audio(
    state: web::Data<AppState>,
    http: HttpRequest,
    _operator: Operator,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let mut upload = upload::read(&http, payload, "file", AUDIO_BODY_LIMIT).await?;
    let request = audio_request(&mut upload)?;
    let reply = rag_client(&state)
        .ingest_audio(grpc_request(&http, request))
        .await?
        .into_inner();
    let jobs: Vec<Value> = reply.jobs.iter().map(job_json).collect();
    Ok(HttpResponse::Accepted().json(json!({ "jobs": jobs })))
}

fn audio_request(upload: &mut Upload) -> Result<IngestAudioRequest, ServiceError> {
    let file = upload.file.take().ok_or_else(|| {
        ServiceError::InvalidArgument("the upload has no file field with the audio".into())
    })?;
    let mut required = |name: &str| {
        upload
            .take(name)?
            .ok_or_else(|| ServiceError::InvalidArgument(format!("the field {name} is required")))
    };
    let podcast_id = required("podcast_id")?;
    let podcast_title = required("podcast_title")?;
    let category = required("category")?;
    let language = required("language")?;
    let episode_id = required("episode_id")?;
    let episode_title = required("episode_title")?;
    let request = IngestAudioRequest {
        podcast_id,
        podcast_title,
        category,
        language,
        episode_id,
        episode_title,
        published: upload.take("published")?.unwrap_or_default(),
        description: upload.take("description")?.unwrap_or_default(),
        tags: upload.take_all("tags"),
        podcast_author: upload.take("podcast_author")?.unwrap_or_default(),
        podcast_description: upload.take("podcast_description")?.unwrap_or_default(),
        audio: Some(AudioInput {
            format_hint: file.file_name.or(file.content_type).unwrap_or_default(),
            source: Some(Source::Data(file.bytes.to_vec())),
        }),
    };
    std::mem::take(upload).finish()?;
    Ok(request)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct JobsQuery {
    state: Option<String>,
    podcast_id: Option<String>,
    limit: Option<u32>,
}

pub(crate) async fn jobs(
    state: web::Data<AppState>,
    http: HttpRequest,
    _operator: Operator,
    query: web::Query<JobsQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let wanted = match query.state.as_deref() {
        None => JobState::Unspecified,
        Some(name) => state_by_name(name).ok_or_else(|| {
            ServiceError::InvalidArgument(format!(
                "state {name:?} is not one of queued, transcribing, indexing, done, failed"
            ))
        })?,
    };
    let request = ListJobsRequest {
        state: wanted as i32,
        podcast_id: query.podcast_id.unwrap_or_default(),
        limit: query.limit.unwrap_or(0),
    };
    let reply = rag_client(&state)
        .list_jobs(grpc_request(&http, request))
        .await?
        .into_inner();
    let jobs: Vec<Value> = reply.jobs.iter().map(job_json).collect();
    Ok(HttpResponse::Ok().json(json!({ "jobs": jobs })))
}

pub(crate) async fn job(
    state: web::Data<AppState>,
    http: HttpRequest,
    _operator: Operator,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let job = rag_client(&state)
        .get_job(grpc_request(
            &http,
            GetJobRequest {
                id: id.into_inner(),
            },
        ))
        .await?
        .into_inner();
    Ok(HttpResponse::Ok().json(job_json(&job)))
}

const STATES: [(JobState, &str); 5] = [
    (JobState::Queued, "queued"),
    (JobState::Transcribing, "transcribing"),
    (JobState::Indexing, "indexing"),
    (JobState::Done, "done"),
    (JobState::Failed, "failed"),
];

fn state_by_name(name: &str) -> Option<JobState> {
    STATES.iter().find(|(_, n)| *n == name).map(|(s, _)| *s)
}

fn job_json(job: &IngestionJob) -> Value {
    let state = STATES
        .iter()
        .find(|(s, _)| *s as i32 == job.state)
        .map_or("unspecified", |(_, n)| n);
    json!({
        "id": job.id,
        "podcast_id": job.podcast_id,
        "episode_id": job.episode_id,
        "state": state,
        "attempts": job.attempts,
        "last_error": (!job.last_error.is_empty()).then_some(&job.last_error),
        "created_at_unix_ms": job.created_at_unix_ms,
        "updated_at_unix_ms": job.updated_at_unix_ms,
    })
}
