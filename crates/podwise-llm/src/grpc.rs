//! The gRPC face of the service: checks each request, hands chat to the [`Router`] and
//! embeddings to the [`Embedders`], and turns their answers and errors into the contract
//! of `proto/podwise/llm/v1`.

mod validate;

use std::sync::Arc;

use futures_util::StreamExt as _;
use futures_util::stream::BoxStream;
use podwise_common::ServiceError;
use podwise_proto::common::v1::Usage as PbUsage;
use podwise_proto::llm::v1 as pb;
use podwise_proto::llm::v1::llm_service_server::LlmService;
use tonic::{Request, Response, Status};
use tracing::warn;

use crate::chat::{BackendError, ChatEvent, FinishReason, Usage};
use crate::embedders::Embedders;
use crate::embeddings::Purpose;
use crate::models::{ModelInfo, ModelKind};
use crate::router::Router;

/// Implements `podwise.llm.v1.LlmService`.
#[derive(Debug, Clone)]
pub(crate) struct LlmApi {
    pub(crate) router: Arc<Router>,
    pub(crate) embedders: Arc<Embedders>,
    /// The largest `max_tokens` a request may ask for; also the default.
    pub(crate) max_tokens: u32,
}

impl LlmApi {
    async fn start(
        &self,
        request: pb::ChatRequest,
    ) -> Result<BoxStream<'static, Result<ChatEvent, BackendError>>, Status> {
        let request = validate::chat_request(request, self.max_tokens)?;
        Ok(self
            .router
            .start(request)
            .await
            .map_err(ServiceError::from)?)
    }
}

#[tonic::async_trait]
impl LlmService for LlmApi {
    async fn chat(
        &self,
        request: Request<pb::ChatRequest>,
    ) -> Result<Response<pb::ChatResponse>, Status> {
        let mut events = self.start(request.into_inner()).await?;
        let mut content = String::new();
        while let Some(event) = events.next().await {
            match event.map_err(stream_failure)? {
                ChatEvent::Delta(text) => content.push_str(&text),
                ChatEvent::Done {
                    model,
                    finish_reason,
                    usage,
                } => {
                    return Ok(Response::new(pb::ChatResponse {
                        model,
                        content,
                        finish_reason: finish_reason_of(finish_reason).into(),
                        usage: Some(usage_of(usage)),
                    }));
                }
            }
        }
        Err(stream_failure(BackendError::Failed(
            "the reply ended before it was complete".to_owned(),
        )))
    }

    type ChatStreamStream = BoxStream<'static, Result<pb::ChatChunk, Status>>;

    async fn chat_stream(
        &self,
        request: Request<pb::ChatRequest>,
    ) -> Result<Response<Self::ChatStreamStream>, Status> {
        let events = self.start(request.into_inner()).await?;
        // Dropping this stream (the client went away) drops the backend's stream, which
        // stops generation there.
        let chunks = events.map(|event| match event {
            Ok(ChatEvent::Delta(delta)) => Ok(pb::ChatChunk {
                delta,
                ..Default::default()
            }),
            Ok(ChatEvent::Done {
                model,
                finish_reason,
                usage,
            }) => Ok(pb::ChatChunk {
                delta: String::new(),
                finish_reason: finish_reason_of(finish_reason).into(),
                usage: Some(usage_of(usage)),
                model,
            }),
            Err(e) => Err(stream_failure(e)),
        });
        Ok(Response::new(chunks.boxed()))
    }

    async fn embed(
        &self,
        request: Request<pb::EmbedRequest>,
    ) -> Result<Response<pb::EmbedResponse>, Status> {
        let request = request.into_inner();
        let purpose = match pb::EmbeddingKind::try_from(request.kind) {
            Ok(pb::EmbeddingKind::Passage) => Purpose::Passage,
            Ok(pb::EmbeddingKind::Query | pb::EmbeddingKind::Unspecified) => Purpose::Query,
            Err(_) => {
                return Err(
                    ServiceError::InvalidArgument("kind is not a known kind".to_owned()).into(),
                );
            }
        };
        let model = self
            .embedders
            .model(Some(request.model.as_str()).filter(|m| !m.is_empty()))?;
        let id = model.id().to_owned();
        let dimensions = u32::try_from(model.dimensions()).unwrap_or(u32::MAX);
        let embedded = self.embedders.embed(model, request.inputs, purpose).await?;
        Ok(Response::new(pb::EmbedResponse {
            model: id,
            dimensions,
            embeddings: embedded
                .vectors
                .into_iter()
                .map(|values| pb::Embedding { values })
                .collect(),
            usage: Some(PbUsage {
                prompt_tokens: embedded.tokens,
                completion_tokens: 0,
            }),
        }))
    }

    async fn list_models(
        &self,
        _request: Request<pb::ListModelsRequest>,
    ) -> Result<Response<pb::ListModelsResponse>, Status> {
        let models = self
            .router
            .models()
            .into_iter()
            .chain(self.embedders.models())
            .map(model_of)
            .collect();
        Ok(Response::new(pb::ListModelsResponse { models }))
    }
}

/// A reply that failed after it started: the router has logged which backend and why, so
/// the caller gets a generic message.
fn stream_failure(error: BackendError) -> Status {
    match error {
        BackendError::Rejected(message) => ServiceError::InvalidArgument(message).into(),
        BackendError::Busy(_) | BackendError::Failed(_) => {
            warn!(error = %error, "a chat reply failed after it started");
            ServiceError::BadUpstream("the model backend failed while replying".to_owned()).into()
        }
    }
}

fn finish_reason_of(reason: FinishReason) -> pb::FinishReason {
    match reason {
        FinishReason::Stop => pb::FinishReason::Stop,
        FinishReason::Length => pb::FinishReason::Length,
    }
}

fn usage_of(usage: Usage) -> PbUsage {
    PbUsage {
        prompt_tokens: usage.prompt_tokens,
        completion_tokens: usage.completion_tokens,
    }
}

fn model_of(model: ModelInfo) -> pb::ModelInfo {
    pb::ModelInfo {
        id: model.id,
        kind: match model.kind {
            ModelKind::Chat => pb::ModelKind::Chat,
            ModelKind::Embedding => pb::ModelKind::Embedding,
        }
        .into(),
        owned_by: model.owned_by,
        context_length: model.context_length,
        dimensions: model.dimensions,
    }
}
