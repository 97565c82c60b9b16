//! The gRPC face of the service: checks each request, hands it to the [`Engine`] and
//! maps the answer onto the contract's messages.

use podwise_common::ServiceError;
use podwise_proto::ml::v1::ml_service_server::MlService;
use podwise_proto::ml::v1::{
    EvaluateRequest, EvaluateResponse, ModelMetrics, RecommendRequest, RecommendResponse,
    Recommendation, RecommendationSource, SimilarEpisodesRequest, SimilarEpisodesResponse,
    StatusRequest, StatusResponse, TrainRequest, TrainResponse,
};
use tonic::{Request, Response, Status};

use crate::engine::Engine;
use crate::model::{Model, Pick, Source};

/// `k` of an evaluation when the request leaves it at 0.
const DEFAULT_EVALUATION_K: u32 = 10;
/// Held-out share of an evaluation when the request leaves it at 0.
const DEFAULT_HOLDOUT: f64 = 0.2;

/// Implements `podwise.ml.v1.MlService`.
#[derive(Debug, Clone)]
pub(crate) struct MlApi {
    pub engine: Engine,
}

#[tonic::async_trait]
impl MlService for MlApi {
    async fn recommend(
        &self,
        request: Request<RecommendRequest>,
    ) -> Result<Response<RecommendResponse>, Status> {
        let request = request.into_inner();
        let k = self.check_k(request.k)?;
        let category = Some(request.category.trim()).filter(|c| !c.is_empty());
        let (model, picks) = self
            .engine
            .recommend(
                request.user_id.trim(),
                k,
                category,
                &request.exclude_episode_ids,
            )
            .await?;
        tracing::debug!(
            k,
            items = picks.items.len(),
            cold_start = picks.cold_start,
            "recommended"
        );
        Ok(Response::new(RecommendResponse {
            items: to_messages(&model, picks.items),
            model_version: model.version.clone(),
            cold_start: picks.cold_start,
        }))
    }

    async fn similar_episodes(
        &self,
        request: Request<SimilarEpisodesRequest>,
    ) -> Result<Response<SimilarEpisodesResponse>, Status> {
        let request = request.into_inner();
        let k = self.check_k(request.k)?;
        let episode_id = request.episode_id.trim();
        if episode_id.is_empty() {
            return Err(ServiceError::InvalidArgument("episode_id is required".into()).into());
        }
        let (model, picks) = self.engine.similar(episode_id, k).await?;
        Ok(Response::new(SimilarEpisodesResponse {
            items: to_messages(&model, picks),
        }))
    }

    async fn train(
        &self,
        _request: Request<TrainRequest>,
    ) -> Result<Response<TrainResponse>, Status> {
        let report = self.engine.train().await?;
        Ok(Response::new(TrainResponse {
            model_version: report.version,
            seconds: report.seconds,
            users: report.users,
            episodes: report.episodes,
            interactions: report.interactions,
        }))
    }

    async fn evaluate(
        &self,
        request: Request<EvaluateRequest>,
    ) -> Result<Response<EvaluateResponse>, Status> {
        let request = request.into_inner();
        let k = if request.k == 0 {
            DEFAULT_EVALUATION_K
        } else {
            request.k
        };
        self.check_k(k)?;
        let fraction = if request.holdout_fraction == 0.0 {
            DEFAULT_HOLDOUT
        } else {
            request.holdout_fraction
        };
        if !(fraction > 0.0 && fraction < 1.0) {
            return Err(ServiceError::InvalidArgument(
                "holdout_fraction must be above 0 and below 1".into(),
            )
            .into());
        }
        let evaluation = self
            .engine
            .evaluate(k as usize, fraction, request.seed)
            .await?;
        Ok(Response::new(EvaluateResponse {
            k,
            models: evaluation
                .models
                .iter()
                .map(|(candidate, m)| ModelMetrics {
                    model: candidate.as_str().to_owned(),
                    precision: m.precision,
                    recall: m.recall,
                    ndcg: m.ndcg,
                    coverage: m.coverage,
                })
                .collect(),
            chosen_model: evaluation.chosen.as_str().to_owned(),
        }))
    }

    async fn status(
        &self,
        _request: Request<StatusRequest>,
    ) -> Result<Response<StatusResponse>, Status> {
        let training = self.engine.is_training();
        let response = match self.engine.current() {
            Some(model) => StatusResponse {
                model_version: model.version.clone(),
                trained_at_unix_ms: model.trained_at_ms,
                users: model.users.len() as u64,
                episodes: model.episodes.len() as u64,
                interactions: model.events,
                training,
            },
            None => StatusResponse {
                training,
                ..StatusResponse::default()
            },
        };
        Ok(Response::new(response))
    }
}

impl MlApi {
    fn check_k(&self, k: u32) -> Result<usize, ServiceError> {
        let max = self.engine.settings().max_k;
        if k == 0 || k > max {
            return Err(ServiceError::InvalidArgument(format!(
                "k must be between 1 and {max}, not {k}"
            )));
        }
        Ok(k as usize)
    }
}

fn to_messages(model: &Model, picks: Vec<Pick>) -> Vec<Recommendation> {
    picks
        .into_iter()
        .map(|pick| {
            let episode = model.episode(pick.item);
            Recommendation {
                episode_id: episode.id.clone(),
                podcast_id: episode.podcast_id.clone(),
                score: pick.score,
                reason: pick.reason,
                source: source(pick.source).into(),
            }
        })
        .collect()
}

fn source(source: Source) -> RecommendationSource {
    match source {
        Source::Collaborative => RecommendationSource::Collaborative,
        Source::Content => RecommendationSource::Content,
        Source::Popularity => RecommendationSource::Popularity,
        Source::Preference => RecommendationSource::Preference,
    }
}
