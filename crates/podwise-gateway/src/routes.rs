//! Every route the gateway serves, in one table, with the body limits and error handlers
//! that apply to them. The same table makes the OpenAPI document (`api_doc.rs`).

use actix_web::error::{JsonPayloadError, PayloadError};
use actix_web::http::{Method, header};
use actix_web::{HttpRequest, HttpResponse, Resource, Route, web};
use podwise_common::ServiceError;

use crate::api_error::ApiError;
use crate::endpoint::{Access, Endpoint};
use crate::{
    AppState, api_doc, ask, browse, ingest, objects, openai, probes, recommend, speech, tts, users,
    web_ui,
};

pub(crate) fn configure(config: &mut web::ServiceConfig, state: &web::Data<AppState>) {
    let limit = state.settings.api.max_body_bytes;
    config
        .app_data(
            web::JsonConfig::default()
                .limit(limit)
                .error_handler(|error, _request| json_error(error).into()),
        )
        .app_data(web::PayloadConfig::new(limit))
        .app_data(
            web::QueryConfig::default().error_handler(|error, _request| {
                ApiError::new(ServiceError::InvalidArgument(format!(
                    "the query string does not fit this route: {error}"
                )))
                .into()
            }),
        );
    // Each path once, with every method the table gives it; the others get 405.
    let endpoints = endpoints();
    let mut paths: Vec<&'static str> = Vec::new();
    for endpoint in &endpoints {
        if !paths.contains(&endpoint.path) {
            paths.push(endpoint.path);
        }
    }
    for path in paths {
        let routes = endpoints
            .iter()
            .filter(|endpoint| endpoint.path == path)
            .map(|endpoint| (endpoint.method.clone(), (endpoint.route)()))
            .collect();
        config.service(methods(path, routes));
    }
    // The listener web UI: the page at `/`, its files below `/ui/<version>/`. Pages, not
    // operations, so they stay out of the API document.
    config
        .service(readable("/", web_ui::index))
        .service(readable(
            &format!("{}{{version}}/{{name}}", web_ui::ASSET_PREFIX),
            web_ui::asset,
        ));
    config.default_service(web::to(not_found));
}

/// A path of static content, served to `GET` and `HEAD` (whose answer has no body).
fn readable<F, Args>(path: &str, handler: F) -> Resource
where
    F: actix_web::Handler<Args> + Clone,
    Args: actix_web::FromRequest + 'static,
    F::Output: actix_web::Responder + 'static,
{
    methods(
        path,
        vec![
            (Method::GET, web::get().to(handler.clone())),
            (Method::HEAD, web::head().to(handler)),
        ],
    )
}

/// Every operation of the API, grouped as the OpenAPI document lists them.
pub(crate) fn endpoints() -> Vec<Endpoint> {
    use Access::{Listener, Operator, OptionalListener};
    use Method as M;
    let json = "application/json";
    let audio = "audio/wav";
    vec![
        // Operations.
        Endpoint::new(
            M::GET,
            "/health",
            || web::get().to(probes::health),
            "operations",
            "Whether the gateway process is alive",
        ),
        Endpoint::new(
            M::GET,
            "/ready",
            || web::get().to(probes::ready),
            "operations",
            "Whether every service answers, each as ok, degraded or down",
        )
        .answers(
            200,
            json,
            "all services ready (503 with the same body when not)",
        ),
        Endpoint::new(
            M::GET,
            "/metrics",
            || web::get().to(probes::metrics),
            "operations",
            "Prometheus metrics of the gateway",
        )
        .answers(200, "text/plain", "metrics in the Prometheus text format"),
        Endpoint::new(
            M::GET,
            "/api/openapi.json",
            || web::get().to(api_doc::document),
            "operations",
            "This document",
        ),
        Endpoint::new(
            M::GET,
            "/api/docs",
            || web::get().to(api_doc::explorer),
            "operations",
            "A page to read this document and try its operations",
        )
        .answers(200, "text/html", "the API explorer"),
        Endpoint::new(
            M::GET,
            "/api/docs/explorer.js",
            || web::get().to(api_doc::explorer_script),
            "operations",
            "The API explorer's script",
        )
        .answers(200, "text/javascript", "the script"),
        // Listeners.
        Endpoint::new(
            M::POST,
            "/api/v1/users",
            || web::post().to(users::create),
            "listeners",
            "Create a listener: an opaque id and a bearer token, shown once",
        )
        .answers(201, json, "`{\"user_id\", \"token\"}`"),
        Endpoint::new(
            M::GET,
            "/api/v1/users/{user_id}/preferences",
            || web::get().to(users::preferences),
            "listeners",
            "The listener's preferences",
        )
        .access(Listener),
        Endpoint::new(
            M::PUT,
            "/api/v1/users/{user_id}/preferences",
            || web::put().to(users::set_preferences),
            "listeners",
            "Replace the listener's preferred categories and tags",
        )
        .access(Listener)
        .json::<users::PreferencesBody>(),
        Endpoint::new(
            M::POST,
            "/api/v1/users/{user_id}/feedback",
            || web::post().to(users::feedback),
            "listeners",
            "Record that the listener liked, disliked, skipped, played or finished an episode",
        )
        .access(Listener)
        .json::<users::FeedbackBody>()
        .answers(201, json, "the stored event"),
        // The catalog.
        Endpoint::new(
            M::GET,
            "/api/v1/categories",
            || web::get().to(browse::categories),
            "catalog",
            "The categories",
        ),
        Endpoint::new(
            M::GET,
            "/api/v1/categories/{id}/tags",
            || web::get().to(browse::tags),
            "catalog",
            "The tags of a category's episodes, most used first",
        )
        .query::<browse::TagsQuery>(),
        Endpoint::new(
            M::GET,
            "/api/v1/previews",
            || web::get().to(browse::previews),
            "catalog",
            "One-minute previews for a tag, one episode per podcast",
        )
        .query::<browse::PreviewsQuery>(),
        Endpoint::new(
            M::GET,
            "/api/v1/podcasts",
            || web::get().to(browse::podcasts),
            "catalog",
            "Podcasts, best rated first",
        )
        .query::<browse::PodcastsQuery>(),
        Endpoint::new(
            M::GET,
            "/api/v1/podcasts/{id}",
            || web::get().to(browse::podcast),
            "catalog",
            "One podcast",
        ),
        Endpoint::new(
            M::GET,
            "/api/v1/podcasts/{id}/episodes",
            || web::get().to(browse::podcast_episodes),
            "catalog",
            "A podcast's episodes, newest first",
        )
        .query::<browse::PageQuery>(),
        Endpoint::new(
            M::GET,
            "/api/v1/episodes",
            || web::get().to(browse::episodes),
            "catalog",
            "Search episodes by title, description or show",
        )
        .query::<browse::EpisodesQuery>(),
        Endpoint::new(
            M::GET,
            "/api/v1/episodes/{id}",
            || web::get().to(browse::episode),
            "catalog",
            "One episode, with signed audio links",
        ),
        Endpoint::new(
            M::GET,
            "/api/v1/objects/{key:.+}",
            || web::get().to(objects::signed_object),
            "catalog",
            "Audio behind a signed link (embedded object store), with byte ranges",
        )
        .answers(
            200,
            "application/octet-stream",
            "the object, or 206 with a range",
        ),
        // Questions.
        Endpoint::new(
            M::POST,
            "/api/v1/ask",
            || web::post().to(ask::ask),
            "questions",
            "Ask the library; a grounded answer with cited episodes and moments",
        )
        .access(OptionalListener)
        .json::<ask::AskBody>(),
        Endpoint::new(
            M::POST,
            "/api/v1/ask/stream",
            || web::post().to(ask::ask_stream),
            "questions",
            "The same answer as server-sent events: citations, deltas, done",
        )
        .access(OptionalListener)
        .json::<ask::AskBody>()
        .answers(
            200,
            "text/event-stream",
            "events `citations`, `delta`, `done`, `error`",
        ),
        Endpoint::new(
            M::POST,
            "/api/v1/summarize",
            || web::post().to(ask::summarize),
            "questions",
            "A faithful summary of an episode found by title, with key moments",
        )
        .json::<ask::SummarizeBody>(),
        Endpoint::new(
            M::GET,
            "/api/v1/chat-history",
            || web::get().to(ask::chat_history),
            "questions",
            "The listener's own questions and answers",
        )
        .access(Listener)
        .query::<ask::HistoryQuery>(),
        // Recommendations.
        Endpoint::new(
            M::GET,
            "/api/v1/recommendations",
            || web::get().to(recommend::recommendations),
            "recommendations",
            "Episodes for the listener, one per podcast, each with a reason and its episode",
        )
        .access(Listener)
        .query::<recommend::RecommendationsQuery>(),
        Endpoint::new(
            M::GET,
            "/api/v1/episodes/{id}/similar",
            || web::get().to(recommend::similar),
            "recommendations",
            "Episodes like this one, each with a reason and its episode",
        )
        .query::<recommend::SimilarQuery>(),
        Endpoint::new(
            M::POST,
            "/api/v1/ml/train",
            || web::post().to(recommend::train),
            "recommendations",
            "Train a new model now; answers once it serves",
        )
        .access(Operator),
        Endpoint::new(
            M::GET,
            "/api/v1/ml/evaluate",
            || web::get().to(recommend::evaluate),
            "recommendations",
            "Score every candidate model on held-out feedback",
        )
        .access(Operator)
        .query::<recommend::EvaluateQuery>(),
        // Speech.
        Endpoint::new(
            M::POST,
            "/api/v1/tts/synthesize",
            || web::post().to(tts::synthesize),
            "speech",
            "Speak a text; the audio streams as it is made",
        )
        .json::<tts::SynthesizeBody>()
        .answers(200, audio, "the audio (WAV, PCM or FLAC)"),
        Endpoint::new(
            M::GET,
            "/api/v1/tts/voices",
            || web::get().to(tts::voices),
            "speech",
            "The voices, with language, gender, engine and licence",
        ),
        Endpoint::new(
            M::POST,
            "/api/v1/stt/transcribe",
            || web::post().to(speech::transcribe),
            "speech",
            "Transcribe audio: text, language and timed segments",
        )
        .multipart(
            "`file` (WAV, MP3, FLAC, Ogg Vorbis, M4A/AAC); optional `language`, \
                        `prompt`, `word_timestamps`",
        ),
        // Ingestion.
        Endpoint::new(
            M::POST,
            "/api/v1/ingest/transcripts",
            || web::post().to(ingest::transcripts),
            "ingestion",
            "Ingest ready transcripts; one job per episode",
        )
        .access(Operator)
        .json::<ingest::Library>()
        .answers(202, json, "the jobs"),
        Endpoint::new(
            M::POST,
            "/api/v1/ingest/audio",
            || web::post().to(ingest::audio),
            "ingestion",
            "Ingest one episode's audio: stored, previewed, transcribed, indexed",
        )
        .access(Operator)
        .multipart(
            "`file` and `podcast_id`, `podcast_title`, `category`, `language`, \
                        `episode_id`, `episode_title`; optional `published`, `description`, \
                        `tags` (repeatable), `podcast_author`, `podcast_description`",
        )
        .answers(202, json, "the job"),
        Endpoint::new(
            M::POST,
            "/api/v1/ingest/feed",
            || web::post().to(ingest::feed),
            "ingestion",
            "Ingest an RSS or Atom feed by URL or XML; a job per episode",
        )
        .access(Operator)
        .json::<ingest::FeedBody>()
        .answers(202, json, "the jobs"),
        Endpoint::new(
            M::GET,
            "/api/v1/ingest/jobs",
            || web::get().to(ingest::jobs),
            "ingestion",
            "Ingestion jobs, newest first",
        )
        .access(Operator)
        .query::<ingest::JobsQuery>(),
        Endpoint::new(
            M::GET,
            "/api/v1/ingest/jobs/{id}",
            || web::get().to(ingest::job),
            "ingestion",
            "One job: state, stage, attempts and last error",
        )
        .access(Operator),
        // OpenAI-compatible.
        Endpoint::new(
            M::POST,
            "/v1/chat/completions",
            || web::post().to(openai::chat_completions),
            "openai",
            "Chat completion (`stream` for chunks); model `podwise-rag` answers from the \
             library with citations",
        )
        .json::<openai::CompletionBody>(),
        Endpoint::new(
            M::POST,
            "/v1/embeddings",
            || web::post().to(openai::embeddings),
            "openai",
            "Embeddings of one text or several",
        )
        .json::<openai::EmbeddingsBody>(),
        Endpoint::new(
            M::GET,
            "/v1/models",
            || web::get().to(openai::models),
            "openai",
            "The models that can be asked for now",
        ),
        Endpoint::new(
            M::POST,
            "/v1/audio/speech",
            || web::post().to(openai::speech),
            "openai",
            "Speech for a text, as OpenAI's speech route",
        )
        .json::<openai::SpeechBody>()
        .answers(200, audio, "the audio"),
        Endpoint::new(
            M::POST,
            "/v1/audio/transcriptions",
            || web::post().to(openai::transcriptions),
            "openai",
            "Transcription, as OpenAI's route: json, text, srt, vtt or verbose_json",
        )
        .multipart(
            "`file`; optional `model`, `language`, `prompt`, `response_format`, \
                        `timestamp_granularities[]`",
        ),
    ]
}

/// A path served by several methods, each by its own route; others get 405 with `Allow`.
fn methods(path: &str, routes: Vec<(Method, Route)>) -> Resource {
    let allow: Vec<&str> = routes.iter().map(|(method, _)| method.as_str()).collect();
    let allow = allow.join(", ");
    let resource = routes
        .into_iter()
        .fold(web::resource(path), |resource, (_, route)| {
            resource.route(route)
        });
    resource.default_service(web::to(move |request: HttpRequest| {
        let allow = allow.clone();
        async move {
            HttpResponse::MethodNotAllowed()
                .insert_header((header::ALLOW, allow.as_str()))
                .json(serde_json::json!({
                    "code": "method_not_allowed",
                    "message": format!(
                        "{} takes {allow}, not {}",
                        request.path(),
                        request.method()
                    ),
                }))
        }
    }))
}

/// Body problems become the JSON error shape with their proper status.
fn json_error(error: JsonPayloadError) -> ApiError {
    let error = match error {
        JsonPayloadError::OverflowKnownLength { length, limit } => ServiceError::PayloadTooLarge(
            format!("the body is {length} bytes; this route takes at most {limit}"),
        ),
        JsonPayloadError::Overflow { limit } => {
            ServiceError::PayloadTooLarge(format!("the body exceeds the limit of {limit} bytes"))
        }
        JsonPayloadError::ContentType => {
            ServiceError::UnsupportedMediaType("send the body as application/json".to_owned())
        }
        JsonPayloadError::Deserialize(e) => {
            ServiceError::Unprocessable(format!("the JSON body does not fit this route: {e}"))
        }
        JsonPayloadError::Payload(PayloadError::Overflow) => {
            ServiceError::PayloadTooLarge("the body is too large".to_owned())
        }
        other => ServiceError::InvalidArgument(format!("the body could not be read: {other}")),
    };
    ApiError::new(error)
}

async fn not_found(request: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::new(ServiceError::NotFound(format!(
        "no route for {} {}",
        request.method(),
        request.path()
    ))))
}
