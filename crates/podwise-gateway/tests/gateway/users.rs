//! Listeners through the product API: creation, their bearer token, preferences and
//! feedback, and every way a caller without the right token is turned away.

use podwise_common::stores::catalog::{Catalog, NewEpisode, Podcast};
use podwise_common::testing::settings_with;
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::harness::Gateway;

struct Running {
    base: String,
    catalog: Catalog,
    client: reqwest::Client,
    // Runs until the test's runtime ends with the test.
    _gateway: Gateway,
    _dir: TempDir,
}

async fn start() -> Running {
    let dir = TempDir::new().expect("temp dir");
    let settings = settings_with(&[("PODWISE_DATA_DIR", dir.path().to_str().expect("UTF-8"))]);
    let gateway = Gateway::start(&settings).await;
    // The same SQLite file the gateway uses, as the services share it on one machine.
    let catalog = Catalog::open(&settings).await.expect("catalog");
    Running {
        base: gateway.base.clone(),
        catalog,
        client: reqwest::Client::new(),
        _gateway: gateway,
        _dir: dir,
    }
}

struct User {
    id: String,
    token: String,
}

impl Running {
    async fn create_user(&self) -> User {
        let response = self
            .client
            .post(format!("{}/api/v1/users", self.base))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 201);
        let body: Value = response.json().await.expect("json");
        User {
            id: body["user_id"].as_str().expect("user_id").to_owned(),
            token: body["token"].as_str().expect("token").to_owned(),
        }
    }

    fn preferences_url(&self, user: &User) -> String {
        format!("{}/api/v1/users/{}/preferences", self.base, user.id)
    }

    async fn episode(&self) -> String {
        let podcast = Podcast {
            id: "pod-1".into(),
            title: "商業放大鏡".into(),
            author: "Podwise".into(),
            description: String::new(),
            category_id: "business".into(),
            language: "zh-TW".into(),
            image_url: None,
            rss_url: None,
            rating: None,
        };
        self.catalog
            .upsert_podcast(&podcast)
            .await
            .expect("podcast");
        self.catalog
            .upsert_episode(&NewEpisode {
                podcast_id: podcast.id,
                guid: "ep-guid-1".into(),
                title: "第一集".into(),
                description: String::new(),
                published_at: None,
                duration_ms: None,
                language: "zh-TW".into(),
                audio_key: None,
                preview_key: None,
                tags: vec![],
            })
            .await
            .expect("episode")
    }
}

#[tokio::test]
async fn a_new_listener_gets_an_unguessable_id_and_a_token_that_works() {
    let running = start().await;
    let first = running.create_user().await;
    let second = running.create_user().await;
    assert_ne!(first.id, second.id);
    assert!(
        first.id.len() >= 16 && first.token.len() >= 32,
        "{} {}",
        first.id,
        first.token
    );

    let response = running
        .client
        .get(running.preferences_url(&first))
        .bearer_auth(&first.token)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body, json!({"categories": [], "tags": []}));
}

#[tokio::test]
async fn preferences_are_replaced_as_a_whole_and_read_back() {
    let running = start().await;
    let user = running.create_user().await;
    let put = |body: Value| {
        running
            .client
            .put(running.preferences_url(&user))
            .bearer_auth(&user.token)
            .json(&body)
            .send()
    };

    let response = put(json!({"categories": ["business"], "tags": [" 投資 ", "創業"]}))
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!(
        body,
        json!({"categories": ["business"], "tags": ["創業", "投資"]})
    );

    let response = put(json!({"tags": ["學習"]})).await.expect("request");
    let body: Value = response.json().await.expect("json");
    assert_eq!(body, json!({"categories": [], "tags": ["學習"]}));

    let unknown = put(json!({"categories": ["cooking"]}))
        .await
        .expect("request");
    assert_eq!(unknown.status(), 400);
    let body: Value = unknown.json().await.expect("json");
    assert!(
        body["message"]
            .as_str()
            .expect("message")
            .contains("cooking"),
        "{body}"
    );

    let misshapen = put(json!({"categories": "business"}))
        .await
        .expect("request");
    assert_eq!(misshapen.status(), 422);
}

#[tokio::test]
async fn personal_routes_turn_away_a_missing_unknown_or_foreign_token() {
    let running = start().await;
    let owner = running.create_user().await;
    let other = running.create_user().await;
    let url = running.preferences_url(&owner);

    let missing = running.client.get(&url).send().await.expect("request");
    assert_eq!(missing.status(), 401);
    assert_eq!(missing.headers()["www-authenticate"], "Bearer");

    let unknown = running
        .client
        .get(&url)
        .bearer_auth("not-a-token-anyone-was-given")
        .send()
        .await
        .expect("request");
    assert_eq!(unknown.status(), 401);

    let foreign = running
        .client
        .get(&url)
        .bearer_auth(&other.token)
        .send()
        .await
        .expect("request");
    assert_eq!(foreign.status(), 403);
    let body: Value = foreign.json().await.expect("json");
    assert_eq!(body["code"], "permission_denied");

    let wrong_method = running
        .client
        .delete(&url)
        .bearer_auth(&owner.token)
        .send()
        .await
        .expect("request");
    assert_eq!(wrong_method.status(), 405);
    assert_eq!(wrong_method.headers()["allow"], "GET, PUT");
}

#[tokio::test]
async fn feedback_is_stored_for_a_known_episode_and_refused_otherwise() {
    let running = start().await;
    let user = running.create_user().await;
    let episode_id = running.episode().await;
    let send = |body: Value| {
        running
            .client
            .post(format!(
                "{}/api/v1/users/{}/feedback",
                running.base, user.id
            ))
            .bearer_auth(&user.token)
            .json(&body)
            .send()
    };

    let response = send(json!({"episode_id": episode_id, "kind": "liked"}))
        .await
        .expect("request");
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["kind"], "liked");
    let stored = running.catalog.interactions().await.expect("interactions");
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].episode_id, episode_id);

    let unknown_episode = send(json!({"episode_id": "no-such-episode", "kind": "liked"}))
        .await
        .expect("request");
    assert_eq!(unknown_episode.status(), 404);

    let unknown_kind = send(json!({"episode_id": episode_id, "kind": "loved"}))
        .await
        .expect("request");
    assert_eq!(unknown_kind.status(), 400);
    let body: Value = unknown_kind.json().await.expect("json");
    assert!(
        body["message"].as_str().expect("message").contains("liked"),
        "{body}"
    );

    assert_eq!(
        running
            .catalog
            .interactions()
            .await
            .expect("interactions")
            .len(),
        1
    );
}
