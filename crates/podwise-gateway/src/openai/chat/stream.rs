//! A streamed chat completion: the LLM service's `ChatChunk`s relayed as the server-sent
//! events OpenAI sends.
//!
//! The events are, in order: a chunk whose delta carries the assistant role, one chunk
//! per piece of text as each gRPC chunk arrives, a chunk with the finish reason and an
//! empty delta, a chunk with the token usage and no choices (only when the client asked
//! with `stream_options.include_usage`), then `data: [DONE]`. A failure after the
//! response has started can no longer change its status, so it becomes a
//! `data: {"error": {...}}` event in the gateway's error shape and the stream ends.
//!
//! The response body owns the gRPC stream: when the HTTP client goes away actix drops
//! the body, which drops the stream, which cancels generation in the LLM service.

use std::collections::VecDeque;
use std::time::Duration;

use actix_web::HttpResponse;
use actix_web::http::header;
use actix_web::web::Bytes;
use futures_util::Stream;
use podwise_common::ServiceError;
use podwise_proto::common::v1::Usage;
use podwise_proto::llm::v1::{ChatChunk, FinishReason};
use serde::Serialize;
use tonic::Streaming;

use super::{TokenUsage, finish_reason};
use crate::api_error::ApiError;
use crate::openai::unix_seconds;

/// How long the gRPC stream may take to end after its final chunk has been relayed.
const END_GRACE: Duration = Duration::from_secs(5);

/// The state of one streamed completion between the gRPC stream and the HTTP body.
pub(crate) struct Relay {
    id: String,
    created: u64,
    model: String,
    include_usage: bool,
    upstream: Streaming<ChatChunk>,
    /// Events translated but not yet handed to the HTTP body.
    pending: VecDeque<Bytes>,
    /// The final chunk has been relayed; what is left is waiting for the gRPC stream to
    /// end cleanly, so the service does not see a cancellation.
    answered: bool,
    finished: bool,
}

impl Relay {
    /// Starts relaying after the service's `first` chunk (`None` when its stream ended
    /// at once), which names the model for every event.
    pub(crate) fn new(
        id: String,
        requested_model: String,
        include_usage: bool,
        first: Option<ChatChunk>,
        upstream: Streaming<ChatChunk>,
    ) -> Self {
        let model = match &first {
            Some(chunk) if !chunk.model.is_empty() => chunk.model.clone(),
            _ => requested_model,
        };
        let mut relay = Self {
            id,
            created: unix_seconds(),
            model,
            include_usage,
            upstream,
            pending: VecDeque::new(),
            answered: false,
            finished: false,
        };
        relay.push_chunk(
            Delta {
                role: Some("assistant"),
                content: Some(""),
            },
            None,
        );
        match first {
            Some(chunk) => relay.relay(chunk),
            None => relay.end(),
        }
        relay
    }

    /// Waits for the next gRPC message and queues the events it makes.
    async fn advance(&mut self) {
        let next = if self.answered {
            // Only the stream's clean end is left to wait for; a service that never
            // sends it must not hold the client's connection open.
            match tokio::time::timeout(END_GRACE, self.upstream.message()).await {
                Ok(next) => next,
                Err(_) => Ok(None),
            }
        } else {
            self.upstream.message().await
        };
        match next {
            Ok(Some(chunk)) => self.relay(chunk),
            Ok(None) => self.end(),
            Err(status) if self.answered => {
                tracing::debug!(error = %status, "chat stream failed after its final chunk");
                self.finished = true;
            }
            Err(status) => {
                let error = ApiError::from(status);
                if let ServiceError::Internal(source) = &error.error {
                    tracing::error!(error = format!("{source:#}"), "chat stream failed");
                } else {
                    tracing::warn!(error = %error, "chat stream failed after it started");
                }
                let event = encode(&serde_json::json!({ "error": error.body() }));
                self.pending.push_back(event);
                self.finished = true;
            }
        }
    }

    /// The gRPC stream ended cleanly; without a final chunk it still ended the reply.
    fn end(&mut self) {
        if !self.answered {
            self.finish(FinishReason::Stop, None);
        }
        self.finished = true;
    }

    fn relay(&mut self, chunk: ChatChunk) {
        if self.answered {
            return;
        }
        if !chunk.delta.is_empty() {
            self.push_chunk(
                Delta {
                    role: None,
                    content: Some(&chunk.delta),
                },
                None,
            );
        }
        let reason = chunk.finish_reason();
        if reason != FinishReason::Unspecified {
            self.finish(reason, chunk.usage);
        }
    }

    fn finish(&mut self, reason: FinishReason, usage: Option<Usage>) {
        self.push_chunk(
            Delta {
                role: None,
                content: None,
            },
            Some(finish_reason(reason)),
        );
        if self.include_usage {
            let event = encode(&Event {
                usage: Some(Some(usage.into())),
                ..self.event()
            });
            self.pending.push_back(event);
        }
        self.pending
            .push_back(Bytes::from_static(b"data: [DONE]\n\n"));
        self.answered = true;
    }

    fn push_chunk(&mut self, delta: Delta<'_>, finish_reason: Option<&'static str>) {
        let event = encode(&Event {
            choices: vec![ChunkChoice {
                index: 0,
                delta,
                logprobs: None,
                finish_reason,
            }],
            ..self.event()
        });
        self.pending.push_back(event);
    }

    /// The fields every chunk shares, with no choices.
    fn event(&self) -> Event<'_> {
        Event {
            id: &self.id,
            object: "chat.completion.chunk",
            created: self.created,
            model: &self.model,
            system_fingerprint: None,
            choices: Vec::new(),
            usage: self.include_usage.then_some(None),
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        if !self.finished {
            // The HTTP client left; dropping `upstream` now is what stops the model.
            tracing::debug!(id = %self.id, "client left mid-stream; generation cancelled");
        }
    }
}

fn encode(event: &impl Serialize) -> Bytes {
    let json = serde_json::to_string(event).unwrap_or_default();
    Bytes::from(format!("data: {json}\n\n"))
}

/// The `text/event-stream` response that relays `relay` as its events are made.
pub(crate) fn response(relay: Relay) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        // Asks a buffering reverse proxy (nginx) to pass each event on at once.
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(events(relay))
}

fn events(relay: Relay) -> impl Stream<Item = Result<Bytes, actix_web::Error>> {
    futures_util::stream::unfold(relay, |mut relay| async move {
        loop {
            if let Some(event) = relay.pending.pop_front() {
                return Some((Ok(event), relay));
            }
            if relay.finished {
                return None;
            }
            relay.advance().await;
        }
    })
}

/// A `chat.completion.chunk` object.
#[derive(Serialize)]
struct Event<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    system_fingerprint: Option<&'a str>,
    choices: Vec<ChunkChoice<'a>>,
    /// Absent unless the client asked for usage; then `null` on every chunk but the
    /// usage chunk, as OpenAI sends it.
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<Option<TokenUsage>>,
}

#[derive(Serialize)]
struct ChunkChoice<'a> {
    index: u32,
    delta: Delta<'a>,
    logprobs: Option<()>,
    finish_reason: Option<&'static str>,
}

#[derive(Serialize)]
struct Delta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<&'a str>,
}
