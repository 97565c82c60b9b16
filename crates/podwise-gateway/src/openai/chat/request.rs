//! The body of `POST /v1/chat/completions` as OpenAI defines it, and its translation into
//! the LLM service's `ChatRequest`.
//!
//! Fields whose JSON type is fixed are typed, so serde reports a wrong type (422). Fields
//! that OpenAI lets take several shapes (`content`, `stop`) are read as JSON values and
//! checked here, so each refusal (400) names the field and what it accepts. Fields
//! Podwise does not know are ignored, as OpenAI ignores them.

use podwise_common::ServiceError;
use podwise_proto::llm::v1::{ChatMessage, ChatRequest, ResponseFormat, Role};
use serde::Deserialize;
use serde_json::Value;

/// A chat completion request as an OpenAI client sends it.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct CompletionBody {
    /// Absent or empty selects the LLM service's default chat model.
    model: Option<String>,
    messages: Vec<MessageBody>,
    temperature: Option<f32>,
    top_p: Option<f32>,
    /// The older name of `max_completion_tokens`, still sent by many clients.
    max_tokens: Option<u32>,
    max_completion_tokens: Option<u32>,
    stop: Option<Value>,
    seed: Option<u64>,
    n: Option<u32>,
    stream: Option<bool>,
    stream_options: Option<StreamOptions>,
    response_format: Option<ResponseFormatBody>,
    /// Read only to refuse: answering without the tools would mislead the client.
    tools: Option<Value>,
    /// Read only to refuse: the LLM service reports no log-probabilities.
    logprobs: Option<bool>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct MessageBody {
    role: String,
    content: Option<Value>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct StreamOptions {
    include_usage: Option<bool>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct ResponseFormatBody {
    #[serde(rename = "type")]
    kind: String,
}

/// What the route needs from a request beyond the message it sends the LLM service.
#[derive(Debug)]
pub(crate) struct Completion {
    pub(crate) request: ChatRequest,
    pub(crate) stream: bool,
    /// Whether a streamed answer ends with a chunk that carries the token usage.
    pub(crate) include_usage: bool,
}

impl CompletionBody {
    /// Checks the request and translates it for the LLM service.
    ///
    /// # Errors
    /// `InvalidArgument` naming the first field Podwise cannot honour.
    pub(crate) fn into_completion(self) -> Result<Completion, ServiceError> {
        if self.messages.is_empty() {
            return Err(invalid("messages must hold at least one message"));
        }
        if let Some(n) = self.n
            && n != 1
        {
            return Err(invalid(format!(
                "n must be 1: one choice is generated, not {n}"
            )));
        }
        let no_tools = match &self.tools {
            None | Some(Value::Null) => true,
            Some(Value::Array(tools)) => tools.is_empty(),
            Some(_) => false,
        };
        if !no_tools {
            return Err(invalid("tools are not supported"));
        }
        if self.logprobs == Some(true) {
            return Err(invalid("logprobs are not supported"));
        }
        let stream = self.stream.unwrap_or(false);
        if self.stream_options.is_some() && !stream {
            return Err(invalid(
                "stream_options is only allowed when stream is true",
            ));
        }
        let include_usage = self
            .stream_options
            .and_then(|options| options.include_usage)
            .unwrap_or(false);

        let messages = self
            .messages
            .into_iter()
            .enumerate()
            .map(|(index, message)| message.into_proto(index))
            .collect::<Result<_, _>>()?;
        let request = ChatRequest {
            model: self.model.unwrap_or_default(),
            messages,
            temperature: in_range("temperature", self.temperature, 0.0, 2.0)?,
            top_p: in_range("top_p", self.top_p, 0.0, 1.0)?,
            max_tokens: max_tokens(self.max_completion_tokens, self.max_tokens)?,
            stop: stop_sequences(self.stop)?,
            seed: self.seed,
            response_format: response_format(self.response_format)?.into(),
        };
        Ok(Completion {
            request,
            stream,
            include_usage,
        })
    }
}

impl MessageBody {
    fn into_proto(self, index: usize) -> Result<ChatMessage, ServiceError> {
        let role = match self.role.as_str() {
            // OpenAI's newer name for the system role.
            "system" | "developer" => Role::System,
            "user" => Role::User,
            "assistant" => Role::Assistant,
            other => {
                return Err(invalid(format!(
                    "messages[{index}].role '{other}' is not one of system, developer, user, \
                     assistant"
                )));
            }
        };
        let content = match self.content {
            Some(Value::String(text)) => text,
            Some(Value::Array(parts)) => text_of_parts(index, &parts)?,
            // An assistant turn that called a tool has no content; the rest must have some.
            None | Some(Value::Null) if role == Role::Assistant => String::new(),
            None | Some(Value::Null) => {
                return Err(invalid(format!("messages[{index}].content is required")));
            }
            Some(_) => {
                return Err(invalid(format!(
                    "messages[{index}].content must be a string or an array of text parts"
                )));
            }
        };
        Ok(ChatMessage {
            role: role.into(),
            content,
        })
    }
}

/// Joins `[{"type": "text", "text": ...}, ...]` into one text; other part types (images,
/// audio, files) are refused because no Podwise model reads them.
fn text_of_parts(index: usize, parts: &[Value]) -> Result<String, ServiceError> {
    let mut text = String::new();
    for (part_index, part) in parts.iter().enumerate() {
        let field = format!("messages[{index}].content[{part_index}]");
        match (part.get("type").and_then(Value::as_str), part.get("text")) {
            (Some("text"), Some(Value::String(part_text))) => text.push_str(part_text),
            (Some("text"), _) => return Err(invalid(format!("{field}.text must be a string"))),
            (Some(other), _) => {
                return Err(invalid(format!(
                    "{field} is of type '{other}'; only text parts are accepted"
                )));
            }
            (None, _) => return Err(invalid(format!("{field} needs a type of 'text'"))),
        }
    }
    Ok(text)
}

fn in_range(
    field: &str,
    value: Option<f32>,
    min: f32,
    max: f32,
) -> Result<Option<f32>, ServiceError> {
    match value {
        Some(v) if !(min..=max).contains(&v) => Err(invalid(format!(
            "{field} must be between {min} and {max}, not {v}"
        ))),
        _ => Ok(value),
    }
}

/// `max_completion_tokens` wins over the older `max_tokens` when a client sends both.
fn max_tokens(completion: Option<u32>, legacy: Option<u32>) -> Result<Option<u32>, ServiceError> {
    match completion.or(legacy) {
        Some(0) => Err(invalid("max_completion_tokens must be at least 1")),
        limit => Ok(limit),
    }
}

/// `stop` may be one string or an array of them.
fn stop_sequences(stop: Option<Value>) -> Result<Vec<String>, ServiceError> {
    match stop {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(sequence)) => Ok(vec![sequence]),
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|item| match item {
                Value::String(sequence) => Ok(sequence),
                _ => Err(invalid("stop must be a string or an array of strings")),
            })
            .collect(),
        Some(_) => Err(invalid("stop must be a string or an array of strings")),
    }
}

fn response_format(format: Option<ResponseFormatBody>) -> Result<ResponseFormat, ServiceError> {
    match format.as_ref().map(|f| f.kind.as_str()) {
        None => Ok(ResponseFormat::Unspecified),
        Some("text") => Ok(ResponseFormat::Text),
        Some("json_object") => Ok(ResponseFormat::JsonObject),
        Some(other) => Err(invalid(format!(
            "response_format type '{other}' is not supported; use 'text' or 'json_object'"
        ))),
    }
}

fn invalid(message: impl Into<String>) -> ServiceError {
    ServiceError::InvalidArgument(message.into())
}
