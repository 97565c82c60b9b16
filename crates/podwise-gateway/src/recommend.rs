//! Recommendations in the product API, relayed to the ml service.
//!
//! - `GET /api/v1/recommendations?k=&category=` lists episodes for the listener whose
//!   bearer token comes with the request: `{"items": [{"episode_id", "podcast_id",
//!   "score", "reason", "source", "episode"}], "model_version", "cold_start"}`. `k`
//!   defaults to 10. `episode` is the episode as `GET /api/v1/episodes/{id}` shows it
//!   (title, show, duration, signed audio links), so that a list can be shown and played
//!   without a request per item.
//! - `GET /api/v1/episodes/{id}/similar?k=` lists episodes like that one, for anyone, the
//!   same way.
//! - `POST /api/v1/ml/train` (operator) trains a new model now and answers when it
//!   serves: `{"model_version", "seconds", "users", "episodes", "interactions"}`.
//! - `GET /api/v1/ml/evaluate?k=&holdout=&seed=` (operator) scores every candidate
//!   model on held-out feedback: `{"k", "models": [{"model", "precision", "recall",
//!   "ndcg", "coverage"}], "chosen_model"}`.

use actix_web::{HttpRequest, HttpResponse, web};
use podwise_common::grpc_client::TracedChannel;
use podwise_common::settings::ServiceName;
use podwise_proto::ml::v1::ml_service_client::MlServiceClient;
use podwise_proto::ml::v1::{
    EvaluateRequest, RecommendRequest, Recommendation, RecommendationSource,
    SimilarEpisodesRequest, TrainRequest,
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::api_error::ApiError;
use crate::auth::{Listener, Operator};
use crate::browse::episodes_json;
use crate::upstreams::grpc_request;

/// Episodes listed when the request does not say how many.
const DEFAULT_K: u32 = 10;

fn ml_client(state: &AppState) -> MlServiceClient<TracedChannel> {
    MlServiceClient::new(state.upstreams.channel(ServiceName::Ml))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct RecommendationsQuery {
    k: Option<u32>,
    category: Option<String>,
}

pub(crate) async fn recommendations(
    state: web::Data<AppState>,
    http: HttpRequest,
    listener: Listener,
    query: web::Query<RecommendationsQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let request = RecommendRequest {
        user_id: listener.user_id,
        k: query.k.unwrap_or(DEFAULT_K),
        category: query.category.unwrap_or_default(),
        exclude_episode_ids: Vec::new(),
    };
    let reply = ml_client(&state)
        .recommend(grpc_request(&http, request))
        .await?
        .into_inner();
    Ok(HttpResponse::Ok().json(json!({
        "items": items_json(&state, &reply.items).await,
        "model_version": reply.model_version,
        "cold_start": reply.cold_start,
    })))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct SimilarQuery {
    k: Option<u32>,
}

pub(crate) async fn similar(
    state: web::Data<AppState>,
    http: HttpRequest,
    episode_id: web::Path<String>,
    query: web::Query<SimilarQuery>,
) -> Result<HttpResponse, ApiError> {
    let request = SimilarEpisodesRequest {
        episode_id: episode_id.into_inner(),
        k: query.k.unwrap_or(DEFAULT_K),
    };
    let reply = ml_client(&state)
        .similar_episodes(grpc_request(&http, request))
        .await?
        .into_inner();
    Ok(HttpResponse::Ok().json(json!({ "items": items_json(&state, &reply.items).await })))
}

pub(crate) async fn train(
    state: web::Data<AppState>,
    http: HttpRequest,
    _operator: Operator,
) -> Result<HttpResponse, ApiError> {
    let reply = ml_client(&state)
        .train(grpc_request(&http, TrainRequest {}))
        .await?
        .into_inner();
    Ok(HttpResponse::Ok().json(json!({
        "model_version": reply.model_version,
        "seconds": reply.seconds,
        "users": reply.users,
        "episodes": reply.episodes,
        "interactions": reply.interactions,
    })))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct EvaluateQuery {
    k: Option<u32>,
    holdout: Option<f64>,
    seed: Option<u64>,
}

pub(crate) async fn evaluate(
    state: web::Data<AppState>,
    http: HttpRequest,
    _operator: Operator,
    query: web::Query<EvaluateQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    // Zeros select the service's defaults (10 and 0.2).
    let request = EvaluateRequest {
        k: query.k.unwrap_or(0),
        holdout_fraction: query.holdout.unwrap_or(0.0),
        seed: query.seed.unwrap_or(0),
    };
    let reply = ml_client(&state)
        .evaluate(grpc_request(&http, request))
        .await?
        .into_inner();
    let models: Vec<Value> = reply
        .models
        .iter()
        .map(|m| {
            json!({
                "model": m.model,
                "precision": m.precision,
                "recall": m.recall,
                "ndcg": m.ndcg,
                "coverage": m.coverage,
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({
        "k": reply.k,
        "models": models,
        "chosen_model": reply.chosen_model,
    })))
}

/// The recommender's items, each with its episode from the catalog. The list stays the
/// recommender's: an item whose episode the catalog cannot give (removed since the last
/// training, or the catalog down) is listed without `episode`, and the reason is logged.
async fn items_json(state: &AppState, items: &[Recommendation]) -> Vec<Value> {
    let mut found = Vec::with_capacity(items.len());
    for item in items {
        match state.catalog.episode(&item.episode_id).await {
            Ok(episode) => found.push(episode),
            Err(error) => tracing::warn!(
                episode = %item.episode_id,
                %error,
                "a recommended episode is listed without its details"
            ),
        }
    }
    let shown = match episodes_json(state, found).await {
        Ok(shown) => shown,
        Err(error) => {
            tracing::warn!(%error, "recommended episodes are listed without their details");
            Vec::new()
        }
    };
    items
        .iter()
        .map(|item| {
            let mut entry = json!({
                "episode_id": item.episode_id,
                "podcast_id": item.podcast_id,
                "score": item.score,
                "reason": item.reason,
                "source": source_name(item.source()),
            });
            if let Some(episode) = shown.iter().find(|e| e["id"] == item.episode_id.as_str()) {
                entry["episode"] = episode.clone();
            }
            entry
        })
        .collect()
}

fn source_name(source: RecommendationSource) -> &'static str {
    match source {
        RecommendationSource::Collaborative => "collaborative",
        RecommendationSource::Content => "content",
        RecommendationSource::Popularity => "popularity",
        RecommendationSource::Preference => "preference",
        RecommendationSource::Unspecified => "unspecified",
    }
}
