//! The gRPC face of the service: maps each RPC of the contract onto the service's logic.

use futures_util::stream::BoxStream;
use podwise_common::error::not_available;
use podwise_proto::rag::v1::rag_service_server::RagService;
use podwise_proto::rag::v1::{
    AskEvent, AskRequest, AskResponse, GetChatHistoryRequest, GetChatHistoryResponse,
    GetEpisodeVectorsRequest, GetEpisodeVectorsResponse, GetJobRequest, IngestAudioRequest,
    IngestFeedRequest, IngestResponse, IngestTranscriptsRequest, IngestionJob, ListJobsRequest,
    ListJobsResponse, SearchRequest, SearchResponse, SummarizeRequest, SummarizeResponse,
};
use tonic::{Request, Response, Status};

/// Implements `podwise.rag.v1.RagService`.
#[derive(Debug, Clone, Default)]
pub(crate) struct RagApi;

#[tonic::async_trait]
impl RagService for RagApi {
    async fn ask(&self, _request: Request<AskRequest>) -> Result<Response<AskResponse>, Status> {
        Err(not_available("question answering"))
    }
    type AskStreamStream = BoxStream<'static, Result<AskEvent, Status>>;

    async fn ask_stream(
        &self,
        _request: Request<AskRequest>,
    ) -> Result<Response<Self::AskStreamStream>, Status> {
        Err(not_available("streamed question answering"))
    }
    async fn summarize(
        &self,
        _request: Request<SummarizeRequest>,
    ) -> Result<Response<SummarizeResponse>, Status> {
        Err(not_available("episode summaries"))
    }
    async fn search(
        &self,
        _request: Request<SearchRequest>,
    ) -> Result<Response<SearchResponse>, Status> {
        Err(not_available("library search"))
    }
    async fn get_chat_history(
        &self,
        _request: Request<GetChatHistoryRequest>,
    ) -> Result<Response<GetChatHistoryResponse>, Status> {
        Err(not_available("chat history"))
    }
    async fn ingest_transcripts(
        &self,
        _request: Request<IngestTranscriptsRequest>,
    ) -> Result<Response<IngestResponse>, Status> {
        Err(not_available("transcript ingestion"))
    }
    async fn ingest_feed(
        &self,
        _request: Request<IngestFeedRequest>,
    ) -> Result<Response<IngestResponse>, Status> {
        Err(not_available("feed ingestion"))
    }
    async fn ingest_audio(
        &self,
        _request: Request<IngestAudioRequest>,
    ) -> Result<Response<IngestResponse>, Status> {
        Err(not_available("audio ingestion"))
    }
    async fn get_job(
        &self,
        _request: Request<GetJobRequest>,
    ) -> Result<Response<IngestionJob>, Status> {
        Err(not_available("ingestion job status"))
    }
    async fn list_jobs(
        &self,
        _request: Request<ListJobsRequest>,
    ) -> Result<Response<ListJobsResponse>, Status> {
        Err(not_available("the ingestion job list"))
    }
    async fn get_episode_vectors(
        &self,
        _request: Request<GetEpisodeVectorsRequest>,
    ) -> Result<Response<GetEpisodeVectorsResponse>, Status> {
        Err(not_available("episode vectors"))
    }
}
