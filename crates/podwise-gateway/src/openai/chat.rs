//! `POST /v1/chat/completions`: one reply as a `chat.completion` object, or with
//! `"stream": true` a stream of `chat.completion.chunk` events (see [`stream`]). The
//! model `podwise-rag` answers from the library instead ([`library`]).

mod library;
mod request;

pub(crate) use library::LIBRARY_MODEL;
pub(crate) use request::CompletionBody;
mod stream;

use actix_web::{HttpRequest, HttpResponse, web};
use podwise_common::ServiceError;
use podwise_common::settings::ServiceName;
use podwise_proto::common::v1::Usage;
use podwise_proto::llm::v1::{ChatResponse, FinishReason};
use serde::Serialize;

use crate::AppState;
use crate::api_error::ApiError;
use crate::openai::{grpc_request, llm_client, unix_seconds};

use self::request::Completion;

pub(crate) async fn chat_completions(
    state: web::Data<AppState>,
    http: HttpRequest,
    body: web::Json<CompletionBody>,
) -> Result<HttpResponse, ApiError> {
    let Completion {
        request,
        stream,
        include_usage,
    } = body.into_inner().into_completion()?;
    let requested_model = request.model.clone();
    let id = completion_id();
    if requested_model == library::LIBRARY_MODEL {
        return library::answer(state, http, request, stream, id).await;
    }
    let mut client = llm_client(&state);

    if stream {
        let mut upstream = client
            .chat_stream(grpc_request(&http, request))
            .await?
            .into_inner();
        // Wait for the first chunk before answering, so a request the service refuses
        // as it starts (an unknown model, an overloaded backend) still gets its HTTP
        // status instead of a 200 followed by an error event. The channel's deadline
        // covers only the response headers, so this wait gets the same bound.
        let deadline = state.settings.services.get(ServiceName::Llm).timeout;
        let first = tokio::time::timeout(deadline, upstream.message())
            .await
            .map_err(|_| {
                ServiceError::Timeout(format!(
                    "the model produced nothing within {} s",
                    deadline.as_secs()
                ))
            })??;
        let relay = stream::Relay::new(id, requested_model, include_usage, first, upstream);
        return Ok(stream::response(relay));
    }

    let reply = client
        .chat(grpc_request(&http, request))
        .await?
        .into_inner();
    Ok(HttpResponse::Ok().json(Completed::new(id, requested_model, reply)))
}

/// OpenAI's ids are opaque; a UUID keeps them unique across gateway replicas.
fn completion_id() -> String {
    format!("chatcmpl-{}", uuid::Uuid::new_v4().simple())
}

/// The name OpenAI gives a finish reason. A service that leaves it unset has still
/// ended the reply, which OpenAI calls `stop`.
fn finish_reason(reason: FinishReason) -> &'static str {
    match reason {
        FinishReason::Length => "length",
        FinishReason::Stop | FinishReason::Unspecified => "stop",
    }
}

/// OpenAI's `usage` object of a chat completion.
#[derive(Debug, Clone, Copy, Serialize)]
struct TokenUsage {
    prompt_tokens: u32,
    completion_tokens: u32,
    total_tokens: u32,
}

impl From<Option<Usage>> for TokenUsage {
    fn from(usage: Option<Usage>) -> Self {
        let usage = usage.unwrap_or_default();
        Self {
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
            total_tokens: usage.prompt_tokens.saturating_add(usage.completion_tokens),
        }
    }
}

/// A `chat.completion` object.
#[derive(Debug, Serialize)]
struct Completed {
    id: String,
    object: &'static str,
    created: u64,
    model: String,
    choices: [Choice; 1],
    usage: TokenUsage,
    system_fingerprint: Option<String>,
}

#[derive(Debug, Serialize)]
struct Choice {
    index: u32,
    message: AssistantMessage,
    logprobs: Option<()>,
    finish_reason: &'static str,
}

#[derive(Debug, Serialize)]
struct AssistantMessage {
    role: &'static str,
    content: String,
    refusal: Option<String>,
}

impl Completed {
    fn new(id: String, requested_model: String, reply: ChatResponse) -> Self {
        let finish = finish_reason(reply.finish_reason());
        Self {
            id,
            object: "chat.completion",
            created: unix_seconds(),
            // The service names the model it actually used, which matters when the
            // request left the choice to its default.
            model: if reply.model.is_empty() {
                requested_model
            } else {
                reply.model
            },
            choices: [Choice {
                index: 0,
                message: AssistantMessage {
                    role: "assistant",
                    content: reply.content,
                    refusal: None,
                },
                logprobs: None,
                finish_reason: finish,
            }],
            usage: reply.usage.into(),
            system_fingerprint: None,
        }
    }
}
