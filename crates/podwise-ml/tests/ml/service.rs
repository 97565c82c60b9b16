//! The ml service over gRPC, on a catalog written the way the other services write it.

use std::time::Duration;

use podwise_common::Settings;
use podwise_common::stores::catalog::Catalog;
use podwise_common::testing::{
    RunningService, assert_healthy, channel, grpc_health, probe, settings_with, spawn,
};
use podwise_proto::ml::v1::ml_service_client::MlServiceClient;
use podwise_proto::ml::v1::{
    EvaluateRequest, RecommendRequest, RecommendationSource, SimilarEpisodesRequest, StatusRequest,
    TrainRequest,
};
use tonic::Code;
use tonic::transport::Channel;
use tonic_health::pb::health_check_response::ServingStatus;

use crate::world::{World, populate};

/// Settings of a service that trains only when asked (plus once at start).
fn test_settings() -> Settings {
    settings_with(&[("PODWISE_ML_TRAIN_INTERVAL_SECS", "0")])
}

async fn start(settings: &Settings) -> (RunningService, MlServiceClient<Channel>) {
    let service = spawn(podwise_ml::build(settings).await.expect("build"));
    let client = MlServiceClient::new(channel(service.addr));
    (service, client)
}

async fn world_in(settings: &Settings) -> World {
    let catalog = Catalog::open(settings).await.expect("catalog");
    populate(&catalog, 11).await
}

/// Waits until the service serves a model (the first training runs at start).
async fn wait_for_model(client: &mut MlServiceClient<Channel>) -> String {
    for _ in 0..100 {
        let status = client
            .status(StatusRequest {})
            .await
            .expect("status")
            .into_inner();
        if !status.model_version.is_empty() {
            return status.model_version;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no model after 5 s");
}

fn request(user_id: &str, k: u32) -> RecommendRequest {
    RecommendRequest {
        user_id: user_id.to_owned(),
        k,
        category: String::new(),
        exclude_episode_ids: Vec::new(),
    }
}

#[tokio::test]
async fn the_service_answers_health_ready_metrics_and_grpc_health() {
    let settings = test_settings();
    let (service, mut client) = start(&settings).await;
    wait_for_model(&mut client).await;
    // gRPC health follows readiness on a five-second refresh.
    for _ in 0..70 {
        if grpc_health(service.addr, "").await.ok() == Some(ServingStatus::Serving) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    assert_healthy(service.addr, "ml").await;

    service.stop().await;
}

#[tokio::test]
async fn training_on_demand_serves_listeners_from_their_own_group_without_the_rag_service() {
    let settings = test_settings();
    let world = world_in(&settings).await;
    let (service, mut client) = start(&settings).await;

    let trained = client
        .train(TrainRequest {})
        .await
        .expect("train")
        .into_inner();

    assert_eq!(trained.users, world.users.iter().flatten().count() as u64);
    assert_eq!(trained.episodes, world.episodes.len() as u64);
    assert_eq!(trained.interactions, world.events.len() as u64);
    let user = &world.users[1][0];
    let answer = client
        .recommend(request(user, 5))
        .await
        .expect("recommend")
        .into_inner();
    assert!(!answer.cold_start);
    assert_eq!(answer.model_version, trained.model_version);
    assert_eq!(answer.items.len(), 5);
    for item in &answer.items {
        assert_eq!(world.group_of(&item.episode_id), 1, "{item:?}");
        assert!(!item.reason.is_empty());
        assert_eq!(item.source(), RecommendationSource::Collaborative);
    }
    let metrics = probe(service.addr).await.metrics;
    for name in [
        "podwise_ml_recommendations_total{path=\"personal\"}",
        "podwise_ml_training_seconds_count{outcome=\"ok\"}",
        "podwise_ml_model_users",
    ] {
        assert!(metrics.contains(name), "{name} missing from /metrics");
    }
    service.stop().await;
}

#[tokio::test]
async fn an_unknown_listener_gets_cold_start_results_not_an_error() {
    let settings = test_settings();
    world_in(&settings).await;
    let (service, mut client) = start(&settings).await;
    wait_for_model(&mut client).await;

    let answer = client
        .recommend(request("somebody-new", 3))
        .await
        .expect("recommend")
        .into_inner();

    assert!(answer.cold_start);
    assert_eq!(answer.items.len(), 3);
    assert!(
        answer
            .items
            .iter()
            .all(|i| i.source() == RecommendationSource::Popularity)
    );
    service.stop().await;
}

#[tokio::test]
async fn bad_requests_are_refused_with_the_right_code() {
    let settings = test_settings();
    let world = world_in(&settings).await;
    let (service, mut client) = start(&settings).await;
    wait_for_model(&mut client).await;
    let user = &world.users[0][0];

    for k in [0, 101] {
        let status = client
            .recommend(request(user, k))
            .await
            .expect_err("k out of range");
        assert_eq!(status.code(), Code::InvalidArgument, "k = {k}");
        assert!(
            status.message().contains("between 1 and 100"),
            "{}",
            status.message()
        );
    }
    let status = client
        .similar_episodes(SimilarEpisodesRequest {
            episode_id: "no-such-episode".into(),
            k: 5,
        })
        .await
        .expect_err("unknown episode");
    assert_eq!(status.code(), Code::NotFound);
    let status = client
        .evaluate(EvaluateRequest {
            k: 10,
            holdout_fraction: 1.5,
            seed: 1,
        })
        .await
        .expect_err("fraction out of range");
    assert_eq!(status.code(), Code::InvalidArgument);
    service.stop().await;
}

#[tokio::test]
async fn similar_episodes_of_a_known_episode_stay_in_its_group() {
    let settings = test_settings();
    let world = world_in(&settings).await;
    let (service, mut client) = start(&settings).await;
    client.train(TrainRequest {}).await.expect("train");
    let episode = &world.episodes[0].summary.id;

    let similar = client
        .similar_episodes(SimilarEpisodesRequest {
            episode_id: episode.clone(),
            k: 4,
        })
        .await
        .expect("similar")
        .into_inner();

    assert_eq!(similar.items.len(), 4);
    for item in &similar.items {
        assert_ne!(&item.episode_id, episode);
        assert_eq!(world.group_of(&item.episode_id), 0);
    }
    service.stop().await;
}

#[tokio::test]
async fn evaluation_scores_every_candidate_and_a_personal_model_beats_popularity() {
    let settings = test_settings();
    world_in(&settings).await;
    let (service, mut client) = start(&settings).await;

    let evaluation = client
        .evaluate(EvaluateRequest::default())
        .await
        .expect("evaluate")
        .into_inner();

    assert_eq!(evaluation.k, 10);
    let names: Vec<&str> = evaluation.models.iter().map(|m| m.model.as_str()).collect();
    assert_eq!(names, ["popularity", "als", "item_knn", "blend"]);
    let ndcg = |name: &str| {
        evaluation
            .models
            .iter()
            .find(|m| m.model == name)
            .map_or(0.0, |m| m.ndcg)
    };
    assert_ne!(evaluation.chosen_model, "popularity");
    assert!(ndcg(&evaluation.chosen_model) > ndcg("popularity"));
    service.stop().await;
}

#[tokio::test]
async fn a_restarted_service_serves_the_stored_model_at_once() {
    let settings = test_settings();
    let world = world_in(&settings).await;
    let (first, mut client) = start(&settings).await;
    let trained = client
        .train(TrainRequest {})
        .await
        .expect("train")
        .into_inner();
    first.stop().await;

    let (second, mut client) = start(&settings).await;
    let version = wait_for_model(&mut client).await;

    assert_eq!(version, trained.model_version);
    let answer = client
        .recommend(request(&world.users[0][3], 3))
        .await
        .expect("recommend")
        .into_inner();
    assert_eq!(answer.model_version, trained.model_version);
    second.stop().await;
}
