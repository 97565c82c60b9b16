//! The `podwise-rag` chat model: the same completion shape, answered by the RAG service
//! from the library instead of by a language model alone. The last user message is the
//! question; the reply carries the answer as its content and the citations in an extra
//! `citations` field, which plain OpenAI clients ignore.

use actix_web::{HttpRequest, HttpResponse, web};
use podwise_common::ServiceError;
use podwise_proto::llm::v1::{ChatRequest, Role};
use podwise_proto::rag::v1::AskRequest;
use serde_json::json;

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
    if stream {
        return Err(ServiceError::InvalidArgument(format!(
            "the {LIBRARY_MODEL} model does not stream over this route; \
             use POST /api/v1/ask/stream for a streamed, cited answer"
        ))
        .into());
    }
    let question = request
        .messages
        .iter()
        .rev()
        .find(|m| m.role == Role::User as i32)
        .map(|m| m.content.clone())
        .ok_or_else(|| ServiceError::InvalidArgument("there is no user message".into()))?;
    let reply = rag_client(&state)
        .ask(grpc_request(
            &http,
            AskRequest {
                question,
                ..AskRequest::default()
            },
        ))
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
