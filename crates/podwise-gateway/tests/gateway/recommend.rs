//! The recommendation routes, `GET /api/v1/recommendations`,
//! `GET /api/v1/episodes/{id}/similar`, `POST /api/v1/ml/train` and
//! `GET /api/v1/ml/evaluate`, tested through HTTP against the real gateway, whose ml
//! service is a scripted stand-in on a real gRPC port.

mod double;

use std::time::Duration;

use podwise_common::server::ServiceServer;
use podwise_common::stores::catalog::{Catalog, NewEpisode, Podcast};
use podwise_common::testing::{RunningService, free_port, settings_with};
use podwise_proto::ml::v1::ml_service_server::MlServiceServer;
use podwise_proto::ml::v1::{EvaluateRequest, RecommendRequest};
use serde_json::Value;

use self::double::{ScriptedMl, Seen};
use crate::harness::{Gateway, spawn_stand_in};

const OPERATOR_KEY: &str = "an-operator-key-long-enough-to-pass";

struct Recommending {
    base: String,
    catalog: Catalog,
    ml: ScriptedMl,
    client: reqwest::Client,
    _service: RunningService,
    // Runs until the test's runtime ends with the test.
    _gateway: Gateway,
}

impl Recommending {
    async fn start() -> Self {
        let ml = ScriptedMl::default();
        let service = spawn_stand_in(
            ServiceServer::new("ml", Duration::from_secs(1)).grpc(MlServiceServer::new(ml.clone())),
        )
        .await;
        let url = format!("http://{}", service.addr);
        let settings = settings_with(&[
            ("ML_URL", url.as_str()),
            ("PODWISE_OPERATOR_KEYS", OPERATOR_KEY),
        ]);
        let gateway = Gateway::start(&settings).await;
        let catalog = Catalog::open(&settings).await.expect("catalog");
        Self {
            base: gateway.base.clone(),
            catalog,
            ml,
            client: reqwest::Client::new(),
            _service: service,
            _gateway: gateway,
        }
    }

    fn seen(&self) -> Vec<Seen> {
        self.ml.seen.lock().expect("not poisoned").clone()
    }

    async fn get(&self, path: &str, bearer: Option<&str>) -> (u16, Value) {
        let mut request = self.client.get(format!("{}{path}", self.base));
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        (status, response.json().await.expect("a JSON body"))
    }

    async fn token(&self) -> (String, String) {
        let issued = self.catalog.create_user().await.expect("user");
        use secrecy::ExposeSecret as _;
        (issued.user_id, issued.token.expose_secret().to_owned())
    }
}

#[tokio::test]
async fn recommendations_are_for_the_listener_the_token_belongs_to() {
    let app = Recommending::start().await;
    let (user_id, token) = app.token().await;

    let (status, body) = app
        .get(
            "/api/v1/recommendations?k=5&category=business",
            Some(&token),
        )
        .await;

    assert_eq!(status, 200, "{body}");
    assert_eq!(
        app.seen(),
        [Seen::Recommend(RecommendRequest {
            user_id,
            k: 5,
            category: "business".into(),
            exclude_episode_ids: Vec::new(),
        })]
    );
    assert_eq!(body["model_version"], "v-test");
    assert_eq!(body["cold_start"], false);
    assert_eq!(body["items"][0]["episode_id"], "ep-1");
    assert_eq!(body["items"][0]["reason"], "because you liked 股市入門");
    assert_eq!(body["items"][0]["source"], "collaborative");
    assert_eq!(body["items"][1]["source"], "popularity");
}

#[tokio::test]
async fn each_item_carries_its_episode_from_the_catalog_when_the_catalog_has_it() {
    let app = Recommending::start().await;
    let (_, token) = app.token().await;
    app.catalog
        .upsert_podcast(&Podcast {
            id: "pod-money".into(),
            title: "理財小教室".into(),
            author: "Podwise 測試".into(),
            description: "理財入門".into(),
            category_id: "business".into(),
            language: "zh-TW".into(),
            image_url: None,
            rss_url: None,
            rating: None,
        })
        .await
        .expect("podcast");
    let id = app
        .catalog
        .upsert_episode(&NewEpisode {
            podcast_id: "pod-money".into(),
            guid: "ep-budget".into(),
            title: "記帳的第一步".into(),
            description: "從記帳開始".into(),
            published_at: None,
            duration_ms: Some(61_500),
            language: "zh-TW".into(),
            audio_key: None,
            preview_key: None,
            tags: vec!["理財".into()],
        })
        .await
        .expect("episode");
    app.ml.first.lock().expect("not poisoned").push(id.clone());

    let (status, body) = app.get("/api/v1/recommendations", Some(&token)).await;

    assert_eq!(status, 200, "{body}");
    let known = &body["items"][0];
    assert_eq!(known["episode_id"], id.as_str());
    assert_eq!(known["episode"]["title"], "記帳的第一步");
    assert_eq!(known["episode"]["podcast_title"], "理財小教室");
    assert_eq!(known["episode"]["duration_seconds"], 61.5);
    // Ids the catalog does not have (removed since training) stay listed, without one.
    assert_eq!(body["items"][1]["episode_id"], "ep-1");
    assert!(body["items"][1].get("episode").is_none(), "{body}");
}

#[tokio::test]
async fn similar_episodes_are_listed_bare_while_the_catalog_is_down() {
    let ml = ScriptedMl::default();
    let service = spawn_stand_in(
        ServiceServer::new("ml", Duration::from_secs(1)).grpc(MlServiceServer::new(ml.clone())),
    )
    .await;
    let url = format!("http://{}", service.addr);
    let dir = tempfile::TempDir::new().expect("temp dir");
    let closed = free_port().to_string();
    let settings = settings_with(&[
        ("ML_URL", url.as_str()),
        ("PODWISE_PROFILE", "cluster"),
        ("PODWISE_DATA_DIR", dir.path().to_str().expect("UTF-8")),
        ("POSTGRES_HOST", "127.0.0.1"),
        ("POSTGRES_PORT", closed.as_str()),
        ("MINIO_ACCESS_KEY", "podwise"),
        ("MINIO_SECRET_KEY", "podwise-secret"),
    ]);
    let gateway = Gateway::start(&settings).await;

    let response = reqwest::get(format!("{}/api/v1/episodes/ep-1/similar", gateway.base))
        .await
        .expect("request");

    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["items"][0]["episode_id"], "ep-3", "{body}");
    assert!(body["items"][0].get("episode").is_none(), "{body}");
    gateway.stop().await;
}

#[tokio::test]
async fn recommendations_ask_for_ten_unless_told_and_pass_a_bad_k_back_as_400() {
    let app = Recommending::start().await;
    let (_, token) = app.token().await;

    let (status, _) = app.get("/api/v1/recommendations", Some(&token)).await;
    assert_eq!(status, 200);
    let (status, body) = app.get("/api/v1/recommendations?k=500", Some(&token)).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("between 1 and 100")
    );
    let (status, _) = app
        .get("/api/v1/recommendations?k=many", Some(&token))
        .await;
    assert_eq!(status, 400);

    let ks: Vec<u32> = app
        .seen()
        .iter()
        .filter_map(|s| match s {
            Seen::Recommend(r) => Some(r.k),
            _ => None,
        })
        .collect();
    assert_eq!(ks, [10, 500], "the unparsable k never reaches the service");
}

#[tokio::test]
async fn recommendations_need_a_valid_listener_token() {
    let app = Recommending::start().await;

    let (status, _) = app.get("/api/v1/recommendations", None).await;
    assert_eq!(status, 401);
    let (status, _) = app
        .get("/api/v1/recommendations", Some("not-a-token"))
        .await;
    assert_eq!(status, 401);
    assert!(app.seen().is_empty());
}

#[tokio::test]
async fn similar_episodes_are_open_to_anyone_and_an_unknown_episode_is_404() {
    let app = Recommending::start().await;

    let (status, body) = app.get("/api/v1/episodes/ep-1/similar?k=3", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["items"][0]["episode_id"], "ep-3");
    assert_eq!(body["items"][0]["source"], "content");

    let (status, body) = app.get("/api/v1/episodes/nope/similar", None).await;
    assert_eq!(status, 404, "{body}");
}

#[tokio::test]
async fn training_and_evaluation_are_for_operators_only() {
    let app = Recommending::start().await;
    let (_, listener_token) = app.token().await;
    let train = |key: Option<&str>| {
        let mut request = app.client.post(format!("{}/api/v1/ml/train", app.base));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        request.send()
    };

    assert_eq!(train(None).await.expect("request").status(), 401);
    assert_eq!(
        train(Some(&listener_token))
            .await
            .expect("request")
            .status(),
        401
    );
    let (status, _) = app.get("/api/v1/ml/evaluate", Some(&listener_token)).await;
    assert_eq!(status, 401);
    assert!(app.seen().is_empty(), "nothing reached the service");

    let response = train(Some(OPERATOR_KEY)).await.expect("request");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["model_version"], "v-new");
    assert_eq!(body["interactions"], 5);

    let (status, body) = app
        .get(
            "/api/v1/ml/evaluate?k=20&holdout=0.3&seed=7",
            Some(OPERATOR_KEY),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["chosen_model"], "als");
    assert_eq!(body["models"][0]["ndcg"], 0.4);
    assert_eq!(
        app.seen(),
        [
            Seen::Train,
            Seen::Evaluate(EvaluateRequest {
                k: 20,
                holdout_fraction: 0.3,
                seed: 7,
            })
        ]
    );
}
