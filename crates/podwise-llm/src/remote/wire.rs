//! The JSON of the OpenAI chat completions API, as far as Podwise sends and reads it.
//!
//! Reading is lenient: every field a server may leave out has a default, and fields
//! Podwise does not use are ignored, because servers that call themselves compatible
//! differ in what they send.

use serde::{Deserialize, Serialize};

use crate::chat::{ChatRequest, FinishReason, Usage};

/// The body of `POST /chat/completions`.
#[derive(Debug, Serialize)]
pub(crate) struct CompletionRequest<'a> {
    model: &'a str,
    messages: Vec<WireMessage<'a>>,
    temperature: f32,
    top_p: f32,
    max_tokens: u32,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    stop: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    seed: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_format: Option<ResponseFormat>,
    stream: bool,
    stream_options: StreamOptions,
}

#[derive(Debug, Serialize)]
struct WireMessage<'a> {
    role: &'static str,
    content: &'a str,
}

#[derive(Debug, Serialize)]
struct ResponseFormat {
    r#type: &'static str,
}

#[derive(Debug, Serialize)]
struct StreamOptions {
    include_usage: bool,
}

impl<'a> CompletionRequest<'a> {
    /// A streamed request for `model` that asks for the usage in the last chunk.
    pub(crate) fn streamed(model: &'a str, request: &'a ChatRequest) -> Self {
        Self {
            model,
            messages: request
                .messages
                .iter()
                .map(|m| WireMessage {
                    role: m.role.as_str(),
                    content: &m.content,
                })
                .collect(),
            temperature: request.sampling.temperature,
            top_p: request.sampling.top_p,
            max_tokens: request.max_tokens,
            stop: &request.stop,
            seed: request.sampling.seed,
            response_format: request.json_object.then_some(ResponseFormat {
                r#type: "json_object",
            }),
            stream: true,
            stream_options: StreamOptions {
                include_usage: true,
            },
        }
    }
}

/// One streamed chunk, or a whole non-streamed completion: the two share their shape
/// except that a chunk's text is in `delta` and a completion's in `message`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Completion {
    pub(crate) model: Option<String>,
    pub(crate) choices: Vec<Choice>,
    pub(crate) usage: Option<WireUsage>,
    /// Some servers report a failure inside a stream that began with 200.
    pub(crate) error: Option<serde_json::Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Choice {
    pub(crate) delta: Option<Text>,
    pub(crate) message: Option<Text>,
    pub(crate) finish_reason: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Text {
    pub(crate) content: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct WireUsage {
    pub(crate) prompt_tokens: u32,
    pub(crate) completion_tokens: u32,
}

impl From<WireUsage> for Usage {
    fn from(usage: WireUsage) -> Self {
        Self {
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
        }
    }
}

/// Maps the protocol's finish reasons; `content_filter` and `tool_calls` end the reply
/// like a stop does, and only `length` means it was cut short.
pub(crate) fn finish_reason(raw: &str) -> FinishReason {
    match raw {
        "length" => FinishReason::Length,
        _ => FinishReason::Stop,
    }
}

/// The message of an error body, in either shape servers use: `{"error": {"message":
/// "…"}}` (OpenAI, vLLM, llama.cpp) or `{"error": "…"}` (Ollama's native errors).
pub(crate) fn error_message(error: &serde_json::Value) -> Option<&str> {
    match error {
        serde_json::Value::String(message) => Some(message),
        serde_json::Value::Object(fields) => fields.get("message")?.as_str(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::chat::{Message, Role, Sampling};

    #[test]
    fn a_request_carries_sampling_stop_json_mode_and_asks_for_usage() {
        let request = ChatRequest {
            model: None,
            messages: vec![Message {
                role: Role::User,
                content: "hi".into(),
            }],
            sampling: Sampling {
                temperature: 0.5,
                top_p: 0.75,
                seed: Some(7),
            },
            max_tokens: 64,
            stop: vec!["\n\n".into()],
            json_object: true,
        };

        let body =
            serde_json::to_value(CompletionRequest::streamed("m", &request)).expect("serialisable");

        assert_eq!(
            body,
            json!({
                "model": "m",
                "messages": [{"role": "user", "content": "hi"}],
                "temperature": 0.5,
                "top_p": 0.75,
                "max_tokens": 64,
                "stop": ["\n\n"],
                "seed": 7,
                "response_format": {"type": "json_object"},
                "stream": true,
                "stream_options": {"include_usage": true},
            })
        );
    }

    #[test]
    fn error_messages_are_read_in_both_shapes() {
        assert_eq!(error_message(&json!({"message": "bad"})), Some("bad"));
        assert_eq!(error_message(&json!("bad")), Some("bad"));
        assert_eq!(error_message(&json!(42)), None);
    }
}
