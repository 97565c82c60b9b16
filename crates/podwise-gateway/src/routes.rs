//! Every route the gateway serves, in one place, with the body limits and error
//! handlers that apply to them.

use actix_web::error::{JsonPayloadError, PayloadError};
use actix_web::http::{Method, header};
use actix_web::{HttpRequest, HttpResponse, Resource, Route, web};
use podwise_common::ServiceError;
use podwise_common::stores::objects::SIGNED_OBJECT_PATH;

use crate::api_error::ApiError;
use crate::{
    AppState, ask, browse, ingest, objects, openai, probes, recommend, speech, tts, users, web_ui,
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
        )
        .route("/health", web::get().to(probes::health))
        .route("/ready", web::get().to(probes::ready))
        .route("/metrics", web::get().to(probes::metrics))
        .route(
            &format!("{SIGNED_OBJECT_PATH}{{key:.+}}"),
            web::get().to(objects::signed_object),
        )
        .service(only(
            "/v1/chat/completions",
            Method::POST,
            web::post().to(openai::chat_completions),
        ))
        .service(only(
            "/v1/embeddings",
            Method::POST,
            web::post().to(openai::embeddings),
        ))
        .service(only(
            "/v1/models",
            Method::GET,
            web::get().to(openai::models),
        ))
        .service(only(
            "/v1/audio/transcriptions",
            Method::POST,
            web::post().to(openai::transcriptions),
        ))
        .service(only(
            "/api/v1/stt/transcribe",
            Method::POST,
            web::post().to(speech::transcribe),
        ))
        .service(only(
            "/v1/audio/speech",
            Method::POST,
            web::post().to(openai::speech),
        ))
        .service(only(
            "/api/v1/tts/synthesize",
            Method::POST,
            web::post().to(tts::synthesize),
        ))
        .service(only(
            "/api/v1/tts/voices",
            Method::GET,
            web::get().to(tts::voices),
        ))
        .service(only(
            "/api/v1/users",
            Method::POST,
            web::post().to(users::create),
        ))
        .service(methods(
            "/api/v1/users/{user_id}/preferences",
            vec![
                (Method::GET, web::get().to(users::preferences)),
                (Method::PUT, web::put().to(users::set_preferences)),
            ],
        ))
        .service(only(
            "/api/v1/users/{user_id}/feedback",
            Method::POST,
            web::post().to(users::feedback),
        ))
        .service(only(
            "/api/v1/categories",
            Method::GET,
            web::get().to(browse::categories),
        ))
        .service(only(
            "/api/v1/categories/{id}/tags",
            Method::GET,
            web::get().to(browse::tags),
        ))
        .service(only(
            "/api/v1/previews",
            Method::GET,
            web::get().to(browse::previews),
        ))
        .service(only(
            "/api/v1/podcasts",
            Method::GET,
            web::get().to(browse::podcasts),
        ))
        .service(only(
            "/api/v1/podcasts/{id}",
            Method::GET,
            web::get().to(browse::podcast),
        ))
        .service(only(
            "/api/v1/podcasts/{id}/episodes",
            Method::GET,
            web::get().to(browse::podcast_episodes),
        ))
        .service(only(
            "/api/v1/episodes",
            Method::GET,
            web::get().to(browse::episodes),
        ))
        .service(only(
            "/api/v1/episodes/{id}",
            Method::GET,
            web::get().to(browse::episode),
        ))
        .service(only("/api/v1/ask", Method::POST, web::post().to(ask::ask)))
        .service(only(
            "/api/v1/ask/stream",
            Method::POST,
            web::post().to(ask::ask_stream),
        ))
        .service(only(
            "/api/v1/summarize",
            Method::POST,
            web::post().to(ask::summarize),
        ))
        .service(only(
            "/api/v1/chat-history",
            Method::GET,
            web::get().to(ask::chat_history),
        ))
        .service(only(
            "/api/v1/ingest/transcripts",
            Method::POST,
            web::post().to(ingest::transcripts),
        ))
        .service(only(
            "/api/v1/ingest/feed",
            Method::POST,
            web::post().to(ingest::feed),
        ))
        .service(only(
            "/api/v1/ingest/audio",
            Method::POST,
            web::post().to(ingest::audio),
        ))
        .service(only(
            "/api/v1/ingest/jobs",
            Method::GET,
            web::get().to(ingest::jobs),
        ))
        .service(only(
            "/api/v1/ingest/jobs/{id}",
            Method::GET,
            web::get().to(ingest::job),
        ))
        .service(only(
            "/api/v1/recommendations",
            Method::GET,
            web::get().to(recommend::recommendations),
        ))
        .service(only(
            "/api/v1/episodes/{id}/similar",
            Method::GET,
            web::get().to(recommend::similar),
        ))
        .service(only(
            "/api/v1/ml/train",
            Method::POST,
            web::post().to(recommend::train),
        ))
        .service(only(
            "/api/v1/ml/evaluate",
            Method::GET,
            web::get().to(recommend::evaluate),
        ))
        // The listener web UI: the page at `/`, its files below `/ui/<version>/`.
        .service(readable("/", web_ui::index))
        .service(readable(
            &format!("{}{{version}}/{{name}}", web_ui::ASSET_PREFIX),
            web_ui::asset,
        ))
        .default_service(web::to(not_found));
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

/// A path served by one method; any other method gets 405 with `Allow`, as HTTP clients
/// (and the OpenAI libraries) expect, rather than a 404 that suggests a wrong path.
fn only(path: &str, method: Method, route: Route) -> Resource {
    methods(path, vec![(method, route)])
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
