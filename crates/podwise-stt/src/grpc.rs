//! The gRPC face of the service: maps each RPC of the contract onto the service's logic.

use futures_util::stream::BoxStream;
use podwise_common::error::not_available;
use podwise_proto::stt::v1::stt_service_server::SttService;
use podwise_proto::stt::v1::{TranscribeEvent, TranscribeRequest, TranscribeResponse};
use tonic::{Request, Response, Status};

/// Implements `podwise.stt.v1.SttService`.
#[derive(Debug, Clone, Default)]
pub(crate) struct SttApi;

#[tonic::async_trait]
impl SttService for SttApi {
    async fn transcribe(
        &self,
        _request: Request<TranscribeRequest>,
    ) -> Result<Response<TranscribeResponse>, Status> {
        Err(not_available("transcription"))
    }
    type TranscribeStreamStream = BoxStream<'static, Result<TranscribeEvent, Status>>;

    async fn transcribe_stream(
        &self,
        _request: Request<TranscribeRequest>,
    ) -> Result<Response<Self::TranscribeStreamStream>, Status> {
        Err(not_available("streamed transcription"))
    }
}
