//! The LLM service as this service uses it: embeddings for chunks and questions, and
//! chat for written answers.

use podwise_common::ServiceError;
use podwise_common::grpc_client::TracedChannel;
use podwise_common::settings::RagSettings;
use podwise_proto::llm::v1::llm_service_client::LlmServiceClient;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use podwise_proto::llm::v1::{
    ChatChunk, ChatMessage, ChatRequest, EmbedRequest, EmbeddingKind, ListModelsRequest, ModelKind,
    ResponseFormat, Role,
};
use tonic::Streaming;

/// How long the LLM service's list of models is trusted before it is asked again.
const MODELS_TTL: Duration = Duration::from_secs(60);

/// Texts per embedding call: large enough to amortise the call, small enough that one
/// call never holds the LLM service's compute for long.
const EMBED_BATCH: usize = 32;

/// A client of the LLM service with this service's model choices.
#[derive(Debug, Clone)]
pub struct Llm {
    client: LlmServiceClient<TracedChannel>,
    embedding_model: String,
    chat_model: String,
    dimension: usize,
    /// Whether a remote chat model was offered, and when that was last asked.
    remote_chat: Arc<Mutex<Option<(Instant, bool)>>>,
}

/// What an embedding is for: e5-family models embed questions and passages differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Embedding {
    Question,
    Passage,
}

impl Llm {
    pub fn new(channel: TracedChannel, settings: &RagSettings) -> Self {
        Self {
            client: LlmServiceClient::new(channel).max_decoding_message_size(64 * 1024 * 1024),
            embedding_model: settings.embedding_model.clone(),
            chat_model: settings.chat_model.clone(),
            dimension: settings.embedding_dimension,
            remote_chat: Arc::default(),
        }
    }

    /// Whether the LLM service offers a chat model that is not its small local one, the
    /// condition for letting a model write answers in the `auto` style. An LLM service
    /// that cannot be asked counts as offering none.
    pub async fn has_remote_chat(&self) -> bool {
        if let Some((asked, answer)) = *self.remote_chat.lock().unwrap_or_else(|p| p.into_inner())
            && asked.elapsed() < MODELS_TTL
        {
            return answer;
        }
        let answer = match self.client.clone().list_models(ListModelsRequest {}).await {
            Ok(reply) => reply
                .into_inner()
                .models
                .iter()
                .any(|model| model.kind == ModelKind::Chat as i32 && model.owned_by != "local"),
            Err(status) => {
                tracing::warn!(error = %status, "cannot list the LLM service's models");
                false
            }
        };
        *self.remote_chat.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((Instant::now(), answer));
        answer
    }

    /// The length every vector must have.
    pub fn dimension(&self) -> usize {
        self.dimension
    }

    /// One unit vector per text, in order.
    ///
    /// # Errors
    /// `Unavailable` when the LLM service is down or busy; `FailedPrecondition` when its
    /// model's vectors are not of the configured dimension.
    pub async fn embed(
        &self,
        texts: &[String],
        kind: Embedding,
    ) -> Result<Vec<Vec<f32>>, ServiceError> {
        let mut vectors = Vec::with_capacity(texts.len());
        for batch in texts.chunks(EMBED_BATCH) {
            let request = EmbedRequest {
                model: self.embedding_model.clone(),
                inputs: batch.to_vec(),
                kind: match kind {
                    Embedding::Question => EmbeddingKind::Query,
                    Embedding::Passage => EmbeddingKind::Passage,
                } as i32,
            };
            let reply = self
                .client
                .clone()
                .embed(request)
                .await
                .map_err(|status| upstream("embeddings", &status))?
                .into_inner();
            if reply.dimensions as usize != self.dimension {
                return Err(ServiceError::FailedPrecondition(format!(
                    "the embedding model {} gives {}-dimensional vectors but \
                     PODWISE_RAG_EMBEDDING_DIMENSION is {}",
                    reply.model, reply.dimensions, self.dimension
                )));
            }
            if reply.embeddings.len() != batch.len() {
                return Err(ServiceError::BadUpstream(format!(
                    "the LLM service embedded {} of {} texts",
                    reply.embeddings.len(),
                    batch.len()
                )));
            }
            vectors.extend(reply.embeddings.into_iter().map(|e| e.values));
        }
        Ok(vectors)
    }

    /// A reply written token by token for `system` and `user` prompts.
    ///
    /// # Errors
    /// The LLM service's refusal, or `Unavailable` when it is down.
    pub async fn chat_stream(
        &self,
        system: String,
        user: String,
        max_tokens: u32,
    ) -> Result<Streaming<ChatChunk>, ServiceError> {
        let request = ChatRequest {
            model: self.chat_model.clone(),
            messages: vec![
                ChatMessage {
                    role: Role::System as i32,
                    content: system,
                },
                ChatMessage {
                    role: Role::User as i32,
                    content: user,
                },
            ],
            // Answers are read back as facts; sampling would only add invention.
            temperature: Some(0.0),
            top_p: None,
            max_tokens: Some(max_tokens),
            stop: Vec::new(),
            seed: Some(0),
            response_format: ResponseFormat::Text as i32,
        };
        Ok(self
            .client
            .clone()
            .chat_stream(request)
            .await
            .map_err(|status| upstream("answers", &status))?
            .into_inner())
    }
}

/// The LLM service's failure in this service's words: what could not be done and why.
fn upstream(what: &str, status: &tonic::Status) -> ServiceError {
    let error = ServiceError::from_status(status);
    match error {
        ServiceError::Unavailable {
            message,
            retry_after,
        } => ServiceError::Unavailable {
            message: format!("the LLM service cannot make {what} now: {message}"),
            retry_after,
        },
        other => other,
    }
}
