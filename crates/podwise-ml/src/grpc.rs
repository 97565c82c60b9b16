//! The gRPC face of the service: maps each RPC of the contract onto the service's logic.

use podwise_common::error::not_available;
use podwise_proto::ml::v1::ml_service_server::MlService;
use podwise_proto::ml::v1::{
    EvaluateRequest, EvaluateResponse, RecommendRequest, RecommendResponse, SimilarEpisodesRequest,
    SimilarEpisodesResponse, StatusRequest, StatusResponse, TrainRequest, TrainResponse,
};
use tonic::{Request, Response, Status};

/// Implements `podwise.ml.v1.MlService`.
#[derive(Debug, Clone, Default)]
pub(crate) struct MlApi;

#[tonic::async_trait]
impl MlService for MlApi {
    async fn recommend(
        &self,
        _request: Request<RecommendRequest>,
    ) -> Result<Response<RecommendResponse>, Status> {
        Err(not_available("recommendations"))
    }
    async fn similar_episodes(
        &self,
        _request: Request<SimilarEpisodesRequest>,
    ) -> Result<Response<SimilarEpisodesResponse>, Status> {
        Err(not_available("similar episodes"))
    }
    async fn train(
        &self,
        _request: Request<TrainRequest>,
    ) -> Result<Response<TrainResponse>, Status> {
        Err(not_available("model training"))
    }
    async fn evaluate(
        &self,
        _request: Request<EvaluateRequest>,
    ) -> Result<Response<EvaluateResponse>, Status> {
        Err(not_available("offline evaluation"))
    }
    async fn status(
        &self,
        _request: Request<StatusRequest>,
    ) -> Result<Response<StatusResponse>, Status> {
        Err(not_available("model status"))
    }
}
