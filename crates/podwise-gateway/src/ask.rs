//! Questions to the library in the product API, relayed to the RAG service.
//!
//! - `POST /api/v1/ask` takes `{"question", "user_id"?, "session_id"?, "language"?,
//!   "max_citations"?}` and answers `{"answer", "grounded", "citations": [...], "mode",
//!   "session_id", ...}`. A question with a `user_id` is part of that listener's history,
//!   so it needs their bearer token; an anonymous one is answered and not recorded.
//! - `POST /api/v1/ask/stream` takes the same body and answers server-sent events:
//!   `citations` first, then `delta` events with the text as it is written, then `done`
//!   with the whole response (or `error`).
//! - `POST /api/v1/summarize` takes `{"query"?, "episode_id"?, "language"?}`.
//! - `GET /api/v1/chat-history?session_id=&limit=` lists the caller's own turns.
//!
//! Every citation carries signed URLs for the episode's audio and preview, valid for an
//! hour, so a player can start at the cited moment without a token.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use bytes::Bytes;
use futures_util::StreamExt as _;
use podwise_common::grpc_client::TracedChannel;
use podwise_common::settings::ServiceName;
use podwise_proto::rag::v1::rag_service_client::RagServiceClient;
use podwise_proto::rag::v1::{
    AnswerMode, AskRequest, AskResponse, Citation, GetChatHistoryRequest, QuestionKind,
    SummarizeRequest, ask_event,
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::api_error::ApiError;
use crate::auth::Listener;
use crate::json_body;
use crate::objects::signed_url;
use crate::upstreams::grpc_request;

pub(crate) fn rag_client(state: &AppState) -> RagServiceClient<TracedChannel> {
    RagServiceClient::new(state.upstreams.channel(ServiceName::Rag))
        .max_decoding_message_size(64 * 1024 * 1024)
        .max_encoding_message_size(64 * 1024 * 1024)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AskBody {
    question: String,
    user_id: Option<String>,
    session_id: Option<String>,
    language: Option<String>,
    max_citations: Option<u32>,
}

/// The request for the RAG service, once the caller may speak for `user_id`. The
/// listener's extraction is kept as it came, so a question with a `user_id` reports why
/// the token failed: missing or unknown (401), or the catalog down (503).
fn ask_request(
    body: AskBody,
    listener: Result<Listener, ApiError>,
) -> Result<AskRequest, ApiError> {
    let user_id = body.user_id.unwrap_or_default();
    if !user_id.is_empty() {
        listener?.require_self(&user_id)?;
    }
    Ok(AskRequest {
        question: body.question,
        user_id,
        session_id: body.session_id.unwrap_or_default(),
        language: body.language.unwrap_or_default(),
        max_citations: body.max_citations.unwrap_or(0),
    })
}

pub(crate) async fn ask(
    state: web::Data<AppState>,
    http: HttpRequest,
    listener: Result<Listener, ApiError>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body: AskBody = json_body::read(&http, payload, state.settings.api.max_body_bytes).await?;
    let request = ask_request(body, listener)?;
    let answer = rag_client(&state)
        .ask(grpc_request(&http, request))
        .await?
        .into_inner();
    Ok(HttpResponse::Ok().json(answer_json(&state, &answer).await))
}

pub(crate) async fn ask_stream(
    state: web::Data<AppState>,
    http: HttpRequest,
    listener: Result<Listener, ApiError>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body: AskBody = json_body::read(&http, payload, state.settings.api.max_body_bytes).await?;
    let request = ask_request(body, listener)?;
    let mut upstream = rag_client(&state)
        .ask_stream(grpc_request(&http, request))
        .await?
        .into_inner();
    // The first event decides the status: a refusal (an unknown session) is still an
    // ordinary JSON error, not a stream that fails at once.
    let first = upstream.message().await?;
    let state = state.into_inner();
    let events = futures_util::stream::unfold(
        (Some(upstream), first, state),
        |(upstream, pending, state)| async move {
            let mut upstream = upstream?;
            let event = match pending {
                Some(event) => Some(Ok(event)),
                None => upstream.message().await.transpose(),
            };
            let bytes = match event {
                None => return None,
                Some(Ok(event)) => sse(&state, event).await,
                Some(Err(status)) => {
                    let error = ApiError::from(status);
                    let bytes = encode("error", &error.body());
                    return Some((Ok::<_, actix_web::Error>(bytes), (None, None, state)));
                }
            };
            Some((Ok(bytes), (Some(upstream), None, state)))
        },
    );
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(events.boxed_local()))
}

/// One event of a streamed answer as `event: <name>` and its JSON data.
async fn sse(state: &AppState, event: podwise_proto::rag::v1::AskEvent) -> Bytes {
    match event.event {
        Some(ask_event::Event::Citations(citations)) => {
            let mut list = Vec::with_capacity(citations.citations.len());
            for citation in &citations.citations {
                list.push(citation_json(state, citation).await);
            }
            encode("citations", &json!({ "citations": list }))
        }
        Some(ask_event::Event::Delta(text)) => encode("delta", &json!({ "text": text })),
        Some(ask_event::Event::Done(answer)) => encode("done", &answer_json(state, &answer).await),
        None => Bytes::new(),
    }
}

fn encode(name: &str, data: &Value) -> Bytes {
    Bytes::from(format!("event: {name}\ndata: {data}\n\n"))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SummarizeBody {
    query: Option<String>,
    episode_id: Option<String>,
    language: Option<String>,
}

pub(crate) async fn summarize(
    state: web::Data<AppState>,
    http: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body: SummarizeBody =
        json_body::read(&http, payload, state.settings.api.max_body_bytes).await?;
    let request = SummarizeRequest {
        query: body.query.unwrap_or_default(),
        episode_id: body.episode_id.unwrap_or_default(),
        user_id: String::new(),
        language: body.language.unwrap_or_default(),
    };
    let summary = rag_client(&state)
        .summarize(grpc_request(&http, request))
        .await?
        .into_inner();
    let episode = match &summary.episode {
        Some(citation) => citation_json(&state, citation).await,
        None => Value::Null,
    };
    let moments: Vec<Value> = summary
        .key_moments
        .iter()
        .map(|moment| {
            let span = moment.span.unwrap_or_default();
            json!({"start": span.start_seconds, "end": span.end_seconds, "text": moment.text})
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({
        "found": summary.found,
        "summary": summary.summary,
        "episode": episode,
        "key_moments": moments,
        "mode": mode_name(summary.mode),
    })))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct HistoryQuery {
    session_id: Option<String>,
    limit: Option<u32>,
}

pub(crate) async fn chat_history(
    state: web::Data<AppState>,
    http: HttpRequest,
    listener: Listener,
    query: web::Query<HistoryQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let request = GetChatHistoryRequest {
        user_id: listener.user_id,
        session_id: query.session_id.unwrap_or_default(),
        limit: query.limit.unwrap_or(0),
    };
    let history = rag_client(&state)
        .get_chat_history(grpc_request(&http, request))
        .await?
        .into_inner();
    let mut turns = Vec::with_capacity(history.turns.len());
    for turn in &history.turns {
        let mut citations = Vec::with_capacity(turn.citations.len());
        for citation in &turn.citations {
            citations.push(citation_json(&state, citation).await);
        }
        turns.push(json!({
            "session_id": turn.session_id,
            "question": turn.question,
            "answer": turn.answer,
            "citations": citations,
            "created_at_unix_ms": turn.created_at_unix_ms,
        }));
    }
    Ok(HttpResponse::Ok().json(json!({ "turns": turns })))
}

pub(crate) async fn answer_json(state: &AppState, answer: &AskResponse) -> Value {
    let mut citations = Vec::with_capacity(answer.citations.len());
    for citation in &answer.citations {
        citations.push(citation_json(state, citation).await);
    }
    let kind = match QuestionKind::try_from(answer.kind) {
        Ok(QuestionKind::Summary) => "summary",
        _ => "search",
    };
    json!({
        "answer": answer.answer,
        "grounded": answer.grounded,
        "citations": citations,
        "language": answer.language,
        "kind": kind,
        "category": answer.category,
        "nearest_topics": answer.nearest_topics,
        "session_id": answer.session_id,
        "mode": mode_name(answer.mode),
    })
}

pub(crate) async fn citation_json(state: &AppState, citation: &Citation) -> Value {
    let span = citation.span.unwrap_or_default();
    json!({
        "podcast_id": citation.podcast_id,
        "podcast_title": citation.podcast_title,
        "episode_id": citation.episode_id,
        "title": citation.episode_title,
        "start": span.start_seconds,
        "end": span.end_seconds,
        "snippet": citation.snippet,
        "score": citation.score,
        "preview_url": signed_url(state, &citation.preview_object_key).await,
        "audio_url": signed_url(state, &citation.audio_object_key).await,
    })
}

fn mode_name(mode: i32) -> &'static str {
    match AnswerMode::try_from(mode) {
        Ok(AnswerMode::Generated) => "generated",
        Ok(AnswerMode::Extractive) => "extractive",
        Ok(AnswerMode::Gated) => "gated",
        _ => "unspecified",
    }
}
