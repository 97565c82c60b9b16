//! What a chat completion is, whoever computes it: the request after validation, the
//! events a backend streams back, and the [`ChatBackend`] trait that the local engine and
//! every remote OpenAI-compatible backend implement.
//!
//! A reply is always produced as a stream; a one-shot reply is the stream collected. The
//! router (`crate::router`) tries backends in order and may fall back to the next one only
//! until the first event has been relayed: after that the caller has seen text, and a
//! second backend would start a different reply.

use std::fmt;

use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;

use crate::models::ModelInfo;

/// Who wrote a message of the conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    System,
    User,
    Assistant,
}

impl Role {
    /// The name chat templates and the OpenAI protocol use.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::System => "system",
            Self::User => "user",
            Self::Assistant => "assistant",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub role: Role,
    pub content: String,
}

/// How the next token is chosen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sampling {
    /// 0 picks the most likely token every time (greedy, deterministic).
    pub temperature: f32,
    /// Nucleus sampling: only the most likely tokens whose probabilities add up to this.
    pub top_p: f32,
    /// Fixes the random choices, so the same request gives the same reply.
    pub seed: Option<u64>,
}

/// A validated chat request: defaults applied, limits checked.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatRequest {
    /// `None` lets each backend use its own configured model.
    pub model: Option<String>,
    /// Never empty.
    pub messages: Vec<Message>,
    pub sampling: Sampling,
    /// At least 1 and at most the service's configured limit.
    pub max_tokens: u32,
    /// Generation ends before any of these would be emitted; they are not part of the reply.
    pub stop: Vec<String>,
    /// Ask for a single JSON object.
    pub json_object: bool,
}

/// Why generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinishReason {
    /// The model ended its reply or produced a stop sequence.
    Stop,
    /// `max_tokens` or the context window was reached.
    Length,
}

/// Tokens read and written for one request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
}

/// One step of a streamed reply. A well-formed stream is zero or more `Delta`s followed by
/// exactly one `Done`.
#[derive(Debug, Clone, PartialEq)]
pub enum ChatEvent {
    /// Text produced since the previous event.
    Delta(String),
    Done {
        /// The model that produced the reply, as the backend names it.
        model: String,
        finish_reason: FinishReason,
        usage: Usage,
    },
}

/// A reply being produced. Dropping it cancels generation.
pub type ChatStream = BoxStream<'static, Result<ChatEvent, BackendError>>;

/// Why a backend did not produce a reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    /// The request itself is at fault (unknown model, prompt longer than the context,
    /// JSON mode where unsupported): another backend is not tried. The message is shown
    /// to the caller.
    #[error("{0}")]
    Rejected(String),
    /// The backend is busy (its queue is full): another backend may be tried.
    #[error("{0}")]
    Busy(String),
    /// The backend failed or could not be reached: another backend may be tried. The
    /// reason goes to the log, never to the caller.
    #[error("{0}")]
    Failed(String),
}

/// Something that produces chat replies: the local model or a remote server.
pub trait ChatBackend: Send + Sync + fmt::Debug {
    /// The name used in logs and metrics, and as `owned_by` in the model list.
    fn name(&self) -> &str;

    /// The chat models this backend serves, its default first.
    fn models(&self) -> Vec<ModelInfo>;

    /// Starts a reply. The returned stream yields the events as they are produced.
    fn start(&self, request: ChatRequest) -> BoxFuture<'_, Result<ChatStream, BackendError>>;
}
