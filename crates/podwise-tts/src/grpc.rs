//! The gRPC face of the service: maps each RPC of the contract onto the service's logic.

use futures_util::stream::BoxStream;
use podwise_common::error::not_available;
use podwise_proto::tts::v1::tts_service_server::TtsService;
use podwise_proto::tts::v1::{
    AudioChunk, ListVoicesRequest, ListVoicesResponse, SynthesizeRequest, SynthesizeResponse,
};
use tonic::{Request, Response, Status};

/// Implements `podwise.tts.v1.TtsService`.
#[derive(Debug, Clone, Default)]
pub(crate) struct TtsApi;

#[tonic::async_trait]
impl TtsService for TtsApi {
    async fn synthesize(
        &self,
        _request: Request<SynthesizeRequest>,
    ) -> Result<Response<SynthesizeResponse>, Status> {
        Err(not_available("speech synthesis"))
    }
    type SynthesizeStreamStream = BoxStream<'static, Result<AudioChunk, Status>>;

    async fn synthesize_stream(
        &self,
        _request: Request<SynthesizeRequest>,
    ) -> Result<Response<Self::SynthesizeStreamStream>, Status> {
        Err(not_available("streamed speech synthesis"))
    }
    async fn list_voices(
        &self,
        _request: Request<ListVoicesRequest>,
    ) -> Result<Response<ListVoicesResponse>, Status> {
        Err(not_available("the voice list"))
    }
}
