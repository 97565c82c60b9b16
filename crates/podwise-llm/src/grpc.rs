//! The gRPC face of the service: maps each RPC of the contract onto the service's logic.

use futures_util::stream::BoxStream;
use podwise_common::error::not_available;
use podwise_proto::llm::v1::llm_service_server::LlmService;
use podwise_proto::llm::v1::{
    ChatChunk, ChatRequest, ChatResponse, EmbedRequest, EmbedResponse, ListModelsRequest,
    ListModelsResponse,
};
use tonic::{Request, Response, Status};

/// Implements `podwise.llm.v1.LlmService`.
#[derive(Debug, Clone, Default)]
pub(crate) struct LlmApi;

#[tonic::async_trait]
impl LlmService for LlmApi {
    async fn chat(&self, _request: Request<ChatRequest>) -> Result<Response<ChatResponse>, Status> {
        Err(not_available("chat completion"))
    }
    type ChatStreamStream = BoxStream<'static, Result<ChatChunk, Status>>;

    async fn chat_stream(
        &self,
        _request: Request<ChatRequest>,
    ) -> Result<Response<Self::ChatStreamStream>, Status> {
        Err(not_available("streamed chat completion"))
    }
    async fn embed(
        &self,
        _request: Request<EmbedRequest>,
    ) -> Result<Response<EmbedResponse>, Status> {
        Err(not_available("embedding"))
    }
    async fn list_models(
        &self,
        _request: Request<ListModelsRequest>,
    ) -> Result<Response<ListModelsResponse>, Status> {
        Err(not_available("the model list"))
    }
}
