//! The `podwise-rag` chat model: the same completion shape, answered by the RAG service
//! from the library instead of by a language model alone. The last user message is the
//! question; the reply carries the answer as its content and the citations in an extra
//! `citations` field, which plain OpenAI clients ignore. Streamed, the text arrives in
//! `chat.completion.chunk` events as it is written, and the last chunk (the one with the
//! finish reason) carries the citations.

use actix_web::{HttpRequest, HttpResponse, web};
use bytes::Bytes;
use futures_util::StreamExt as _;
use podwise_common::ServiceError;
use podwise_proto::llm::v1::{ChatRequest, Role};
use podwise_proto::rag::v1::{AskEvent, AskRequest, ask_event};
use serde_json::{Value, json};

use crate::AppState;
use crate::api_error::ApiError;
use crate::ask::{answer_json, rag_client};
use crate::openai::{grpc_request, unix_seconds};

/// The model name that selects the library.
pub(crate) const LIBRARY_MODEL: &str = "podwise-rag";

pub(crate) async fn answer(
    state: web::Data<AppState>,
    http: HttpRequest,
    request: ChatRequest,
    stream: bool,
    id: String,
) -> Result<HttpResponse, ApiError> {
    let question = request
        .messages
        .iter()
        .rev()
        .find(|m| m.role == Role::User as i32)
        .map(|m| m.content.clone())
        .ok_or_else(|| ServiceError::InvalidArgument("there is no user message".into()))?;
    let ask = AskRequest {
        question,
        ..AskRequest::default()
    };
    if stream {
        return streamed(state, &http, ask, id).await;
    }
    let reply = rag_client(&state)
        .ask(grpc_request(&http, ask))
        .await?
        .into_inner();
    let details = answer_json(&state, &reply).await;
    Ok(HttpResponse::Ok().json(json!({
        "id": id,
        "object": "chat.completion",
        "created": unix_seconds(),
        "model": LIBRARY_MODEL,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": reply.answer, "refusal": null},
            "logprobs": null,
            "finish_reason": "stop",
        }],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        "system_fingerprint": null,
        "citations": details["citations"],
        "grounded": details["grounded"],
    })))
}

/// The answer as `chat.completion.chunk` events, ending with `data: [DONE]`.
async fn streamed(
    state: web::Data<AppState>,
    http: &HttpRequest,
    ask: AskRequest,
    id: String,
) -> Result<HttpResponse, ApiError> {
    let mut upstream = rag_client(&state)
        .ask_stream(grpc_request(http, ask))
        .await?
        .into_inner();
    // A refusal before the first event keeps its HTTP status.
    let first = upstream.message().await?;
    let created = unix_seconds();
    let chunk = move |delta: Value, finish: Value, extra: Option<Value>| {
        let mut event = json!({
            "id": id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": LIBRARY_MODEL,
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}],
        });
        if let Some(citations) = extra {
            event["citations"] = citations;
        }
        Bytes::from(format!("data: {event}\n\n"))
    };
    let opening = chunk(
        json!({"role": "assistant", "content": ""}),
        Value::Null,
        None,
    );
    let state = state.into_inner();
    let events = futures_util::stream::unfold(
        (Some(upstream), first, state, chunk),
        |(upstream, pending, state, chunk)| async move {
            let mut upstream = upstream?;
            let event = match pending {
                Some(event) => Ok(Some(event)),
                None => upstream.message().await,
            };
            let bytes = match event {
                Ok(Some(AskEvent {
                    event: Some(ask_event::Event::Delta(text)),
                })) => chunk(json!({"content": text}), Value::Null, None),
                Ok(Some(AskEvent {
                    event: Some(ask_event::Event::Done(answer)),
                })) => {
                    let details = answer_json(&state, &answer).await;
                    let last = chunk(json!({}), json!("stop"), Some(details["citations"].clone()));
                    let mut bytes = last.to_vec();
                    bytes.extend_from_slice(b"data: [DONE]\n\n");
                    return Some((Ok(Bytes::from(bytes)), (None, None, state, chunk)));
                }
                // Citations come with the last chunk; nothing to send for them now.
                Ok(Some(_)) => Bytes::new(),
                Ok(None) => return None,
                Err(status) => {
                    let body = ApiError::from(status).body();
                    let bytes = Bytes::from(format!("data: {}\n\n", json!({"error": body})));
                    return Some((Ok(bytes), (None, None, state, chunk)));
                }
            };
            Some((
                Ok::<_, actix_web::Error>(bytes),
                (Some(upstream), None, state, chunk),
            ))
        },
    );
    let body = futures_util::stream::once(async move { Ok(opening) }).chain(events);
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(body.boxed_local()))
}
