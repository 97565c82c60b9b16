//! The OpenAI-compatible routes: `POST /v1/chat/completions`, `POST /v1/embeddings` and
//! `GET /v1/models`, relayed to the LLM service over gRPC, and
//! `POST /v1/audio/transcriptions`, relayed to the STT service, and `POST /v1/audio/speech`,
//! relayed to the TTS service.
//!
//! Each route reads the OpenAI request shape, refuses what Podwise cannot honour with a
//! 400 that says why (rather than quietly answering something else), and writes the
//! OpenAI response shape back, so existing OpenAI client libraries work unchanged.
//! Failures keep the gateway's one error shape from [`crate::api_error`].

mod chat;
mod embeddings;
mod models;
mod speech;
mod transcriptions;

use std::time::{SystemTime, UNIX_EPOCH};

use podwise_common::grpc_client::TracedChannel;
use podwise_common::settings::ServiceName;
use podwise_proto::llm::v1::llm_service_client::LlmServiceClient;

use crate::AppState;
use crate::upstreams::grpc_request;

pub(crate) use chat::{CompletionBody, chat_completions};
pub(crate) use embeddings::{EmbeddingsBody, embeddings};
pub(crate) use models::models;
pub(crate) use speech::{SpeechBody, speech};
pub(crate) use transcriptions::transcriptions;

/// The largest reply the gateway accepts from the LLM service. tonic's default of 4 MiB
/// is less than the vectors of a large embedding batch.
const MAX_REPLY_BYTES: usize = 64 * 1024 * 1024;

/// A client of the LLM service on the gateway's shared, traced channel.
fn llm_client(state: &AppState) -> LlmServiceClient<TracedChannel> {
    LlmServiceClient::new(state.upstreams.channel(ServiceName::Llm))
        .max_decoding_message_size(MAX_REPLY_BYTES)
}

/// Seconds since the Unix epoch, the unit of OpenAI's `created` fields.
fn unix_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or_default()
}
