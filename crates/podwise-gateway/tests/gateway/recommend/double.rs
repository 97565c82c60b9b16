//! A stand-in ml service: it answers with fixed items, after any the test puts first
//! (refusing the way the real service does for `k` out of range and unknown episodes),
//! and records every request.

use std::sync::{Arc, Mutex};

use podwise_common::ServiceError;
use podwise_proto::ml::v1::ml_service_server::MlService;
use podwise_proto::ml::v1::{
    EvaluateRequest, EvaluateResponse, ModelMetrics, RecommendRequest, RecommendResponse,
    Recommendation, RecommendationSource, SimilarEpisodesRequest, SimilarEpisodesResponse,
    StatusRequest, StatusResponse, TrainRequest, TrainResponse,
};
use tonic::{Request, Response, Status};

/// What the stand-in was asked, in order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Seen {
    Recommend(RecommendRequest),
    Similar(SimilarEpisodesRequest),
    Train,
    Evaluate(EvaluateRequest),
}

#[derive(Debug, Clone, Default)]
pub(crate) struct ScriptedMl {
    pub(crate) seen: Arc<Mutex<Vec<Seen>>>,
    /// Episode ids recommended before the fixed items (ids the test's catalog has).
    pub(crate) first: Arc<Mutex<Vec<String>>>,
}

impl ScriptedMl {
    fn record(&self, seen: Seen) {
        self.seen.lock().expect("not poisoned").push(seen);
    }
}

fn item(episode_id: &str, reason: &str, source: RecommendationSource) -> Recommendation {
    Recommendation {
        episode_id: episode_id.to_owned(),
        podcast_id: format!("podcast-of-{episode_id}"),
        score: 0.5,
        reason: reason.to_owned(),
        source: source.into(),
    }
}

fn check_k(k: u32) -> Result<(), Status> {
    if k == 0 || k > 100 {
        return Err(
            ServiceError::InvalidArgument(format!("k must be between 1 and 100, not {k}")).into(),
        );
    }
    Ok(())
}

#[tonic::async_trait]
impl MlService for ScriptedMl {
    async fn recommend(
        &self,
        request: Request<RecommendRequest>,
    ) -> Result<Response<RecommendResponse>, Status> {
        let request = request.into_inner();
        self.record(Seen::Recommend(request.clone()));
        check_k(request.k)?;
        let first = self.first.lock().expect("not poisoned").clone();
        let mut items: Vec<Recommendation> = first
            .iter()
            .map(|id| {
                item(
                    id,
                    "matches your interest in 理財",
                    RecommendationSource::Preference,
                )
            })
            .collect();
        items.extend([
            item(
                "ep-1",
                "because you liked 股市入門",
                RecommendationSource::Collaborative,
            ),
            item("ep-2", "popular in 商業", RecommendationSource::Popularity),
        ]);
        Ok(Response::new(RecommendResponse {
            items,
            model_version: "v-test".to_owned(),
            cold_start: false,
        }))
    }

    async fn similar_episodes(
        &self,
        request: Request<SimilarEpisodesRequest>,
    ) -> Result<Response<SimilarEpisodesResponse>, Status> {
        let request = request.into_inner();
        self.record(Seen::Similar(request.clone()));
        check_k(request.k)?;
        if request.episode_id != "ep-1" {
            return Err(
                ServiceError::NotFound(format!("no episode {}", request.episode_id)).into(),
            );
        }
        Ok(Response::new(SimilarEpisodesResponse {
            items: vec![item(
                "ep-3",
                "close in content to 股市入門",
                RecommendationSource::Content,
            )],
        }))
    }

    async fn train(
        &self,
        _request: Request<TrainRequest>,
    ) -> Result<Response<TrainResponse>, Status> {
        self.record(Seen::Train);
        Ok(Response::new(TrainResponse {
            model_version: "v-new".to_owned(),
            seconds: 1.5,
            users: 3,
            episodes: 4,
            interactions: 5,
        }))
    }

    async fn evaluate(
        &self,
        request: Request<EvaluateRequest>,
    ) -> Result<Response<EvaluateResponse>, Status> {
        let request = request.into_inner();
        self.record(Seen::Evaluate(request));
        Ok(Response::new(EvaluateResponse {
            k: 10,
            models: vec![ModelMetrics {
                model: "als".to_owned(),
                precision: 0.25,
                recall: 0.5,
                ndcg: 0.4,
                coverage: 0.75,
            }],
            chosen_model: "als".to_owned(),
        }))
    }

    async fn status(
        &self,
        _request: Request<StatusRequest>,
    ) -> Result<Response<StatusResponse>, Status> {
        Ok(Response::new(StatusResponse::default()))
    }
}
