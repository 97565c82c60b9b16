//! Browsing the catalog through the product API: the onboarding path (categories, their
//! tags, three previews from three shows) and podcast and episode listings, with every
//! way a request can be wrong.

use bytes::Bytes;
use podwise_common::stores::catalog::{Catalog, NewEpisode, Podcast};
use podwise_common::stores::objects::{ObjectKey, ObjectStore};
use podwise_common::testing::{free_port, settings_with};
use serde_json::Value;
use tempfile::TempDir;

use crate::harness::Gateway;

struct Running {
    base: String,
    catalog: Catalog,
    objects: ObjectStore,
    client: reqwest::Client,
    _gateway: Gateway,
    _dir: TempDir,
}

async fn start() -> Running {
    let dir = TempDir::new().expect("temp dir");
    let settings = settings_with(&[("PODWISE_DATA_DIR", dir.path().to_str().expect("UTF-8"))]);
    let gateway = Gateway::start(&settings).await;
    // The gateway's own embedded stores, written here as ingestion would write them.
    let catalog = Catalog::open(&settings).await.expect("catalog");
    let objects = ObjectStore::open(&settings).await.expect("objects");
    Running {
        base: gateway.base.clone(),
        catalog,
        objects,
        client: reqwest::Client::new(),
        _gateway: gateway,
        _dir: dir,
    }
}

/// One episode to seed: its show, guid, tags, publication day and whether it has a preview.
struct Seed {
    podcast: &'static str,
    guid: &'static str,
    title: &'static str,
    tags: &'static [&'static str],
    day: i64,
    preview: bool,
}

const DAY_MS: i64 = 86_400_000;
/// 2026-01-01T00:00:00Z.
const NEW_YEAR_MS: i64 = 1_767_225_600_000;

impl Running {
    async fn podcast(&self, id: &str, title: &str, category: &str, rating: Option<f64>) {
        self.catalog
            .upsert_podcast(&Podcast {
                id: id.into(),
                title: title.into(),
                author: "Podwise 測試".into(),
                description: format!("{title} 的節目介紹"),
                category_id: category.into(),
                language: "zh-TW".into(),
                image_url: None,
                rss_url: None,
                rating,
            })
            .await
            .expect("podcast");
    }

    /// Seeds an episode, with a real preview object when it has one; returns its id.
    async fn episode(&self, seed: &Seed) -> String {
        let preview_key = if seed.preview {
            let key = format!("previews/{}/{}.wav", seed.podcast, seed.guid);
            let bytes = Bytes::from(format!("preview of {}", seed.guid));
            let object = ObjectKey::new(&key).expect("key");
            self.objects
                .put_bytes(&object, bytes, "audio/wav")
                .await
                .expect("preview object");
            Some(key)
        } else {
            None
        };
        self.catalog
            .upsert_episode(&NewEpisode {
                podcast_id: seed.podcast.into(),
                guid: seed.guid.into(),
                title: seed.title.into(),
                description: format!("{} 的內容", seed.title),
                published_at: Some(NEW_YEAR_MS + seed.day * DAY_MS),
                duration_ms: Some(90_500),
                language: "zh-TW".into(),
                audio_key: None,
                preview_key,
                tags: seed.tags.iter().map(|tag| (*tag).to_owned()).collect(),
            })
            .await
            .expect("episode")
    }

    /// Three business shows and one education show; `invest` is the tag of the previews.
    async fn seed_library(&self) {
        self.podcast("biz-a", "股市早餐", "business", Some(4.8))
            .await;
        self.podcast("biz-b", "創業小聚", "business", Some(4.1))
            .await;
        self.podcast("biz-c", "理財週記", "business", None).await;
        self.podcast("edu-a", "歷史課外", "education", Some(4.5))
            .await;
        let seeds = [
            seed("biz-a", "a1", "ETF 入門", &["投資", "ETF"], 1, true),
            seed("biz-a", "a2", "配息怎麼看", &["投資"], 5, true),
            seed("biz-b", "b1", "募資的第一步", &["投資", "創業"], 3, true),
            seed("biz-c", "c1", "存錢的習慣", &["投資", "理財"], 2, true),
            seed("biz-c", "c2", "保險的迷思", &["理財"], 4, false),
            seed("edu-a", "e1", "絲路的故事", &["歷史"], 6, true),
        ];
        for seed in &seeds {
            self.episode(seed).await;
        }
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        let body = response.json().await.unwrap_or(Value::Null);
        (status, body)
    }
}

fn seed(
    podcast: &'static str,
    guid: &'static str,
    title: &'static str,
    tags: &'static [&'static str],
    day: i64,
    preview: bool,
) -> Seed {
    Seed {
        podcast,
        guid,
        title,
        tags,
        day,
        preview,
    }
}

fn titles(list: &Value) -> Vec<&str> {
    list.as_array()
        .expect("a list")
        .iter()
        .map(|item| item["title"].as_str().expect("title"))
        .collect()
}

#[tokio::test]
async fn onboarding_offers_the_categories_their_tags_and_three_previews_from_three_shows() {
    let running = start().await;
    running.seed_library().await;

    let (status, body) = running.get("/api/v1/categories").await;
    assert_eq!(status, 200, "{body}");
    let ids: Vec<&str> = body["categories"]
        .as_array()
        .expect("categories")
        .iter()
        .map(|category| category["id"].as_str().expect("id"))
        .collect();
    assert!(
        ids.contains(&"business") && ids.contains(&"education"),
        "{body}"
    );
    let business = &body["categories"][ids
        .iter()
        .position(|id| *id == "business")
        .expect("present")];
    assert_eq!(business["name_zh"], "商業");

    let (status, body) = running.get("/api/v1/categories/business/tags").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["category"], "business");
    assert_eq!(
        body["tags"][0]["tag"], "投資",
        "the most used tag comes first: {body}"
    );
    assert_eq!(body["tags"][0]["episodes"], 4);
    let tags: Vec<&str> = body["tags"]
        .as_array()
        .expect("present")
        .iter()
        .map(|tag| tag["tag"].as_str().expect("present"))
        .collect();
    assert!(
        !tags.contains(&"歷史"),
        "an education tag is not a business tag: {tags:?}"
    );

    let (status, body) = running.get("/api/v1/previews?tag=%E6%8A%95%E8%B3%87").await;
    assert_eq!(status, 200, "{body}");
    let previews = body["previews"].as_array().expect("previews");
    assert_eq!(previews.len(), 3, "{body}");
    let mut shows: Vec<&str> = previews
        .iter()
        .map(|preview| preview["podcast_id"].as_str().expect("present"))
        .collect();
    shows.sort_unstable();
    assert_eq!(shows, ["biz-a", "biz-b", "biz-c"], "one preview per show");
    // A show's newest episode with a preview stands for it.
    assert!(titles(&body["previews"]).contains(&"配息怎麼看"), "{body}");
    let mut played = Vec::new();
    for preview in previews {
        let signed = preview["preview_url"]
            .as_str()
            .expect("a signed preview URL");
        // The signed URL names the public port, unknown here; the path is what counts.
        let url = format!(
            "{}{}",
            running.base,
            &signed[signed.find("/api/").expect("present")..]
        );
        let audio = running.client.get(&url).send().await.expect("preview");
        assert_eq!(audio.status(), 200, "{url}");
        played.push(audio.text().await.expect("present"));
    }
    played.sort();
    assert_eq!(played, ["preview of a2", "preview of b1", "preview of c1"]);

    let (status, body) = running
        .get("/api/v1/previews?tag=%E6%8A%95%E8%B3%87&count=2")
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["previews"].as_array().expect("present").len(), 2);
}

#[tokio::test]
async fn podcasts_and_episodes_are_listed_filtered_searched_and_shown() {
    let running = start().await;
    running.seed_library().await;

    let (status, body) = running.get("/api/v1/podcasts?category=business").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        titles(&body["podcasts"]),
        ["股市早餐", "創業小聚", "理財週記"],
        "best rated first, unrated last"
    );
    let (_, body) = running.get("/api/v1/podcasts?limit=1&offset=1").await;
    assert_eq!(
        titles(&body["podcasts"]),
        ["歷史課外"],
        "the second of all four"
    );

    let (status, body) = running.get("/api/v1/podcasts/edu-a").await;
    assert_eq!(status, 200);
    assert_eq!(body["category"], "education");
    assert_eq!(body["rating"], 4.5);

    let (status, body) = running.get("/api/v1/podcasts/biz-c/episodes").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        titles(&body["episodes"]),
        ["保險的迷思", "存錢的習慣"],
        "newest first"
    );
    let insurance = &body["episodes"][0];
    assert_eq!(insurance["podcast_title"], "理財週記");
    assert_eq!(insurance["published"], "2026-01-05T00:00:00Z");
    assert_eq!(insurance["duration_seconds"], 90.5);
    assert_eq!(insurance["preview_url"], Value::Null, "it has no preview");
    assert_eq!(insurance["transcript_status"], "pending");

    let (status, body) = running.get("/api/v1/episodes?q=etf").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        titles(&body["episodes"]),
        ["ETF 入門"],
        "case-insensitive title match"
    );
    let (_, body) = running
        .get("/api/v1/episodes?q=%E7%90%86%E8%B2%A1%E9%80%B1")
        .await;
    assert_eq!(
        titles(&body["episodes"]).len(),
        2,
        "the show's title matches: {body}"
    );
    let (_, body) = running.get("/api/v1/episodes?category=education").await;
    assert_eq!(titles(&body["episodes"]), ["絲路的故事"]);

    let id = body["episodes"][0]["id"]
        .as_str()
        .expect("present")
        .to_owned();
    let (status, body) = running.get(&format!("/api/v1/episodes/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(body["tags"], serde_json::json!(["歷史"]));
    assert!(body["preview_url"].as_str().is_some(), "{body}");
}

#[tokio::test]
async fn unknown_ids_and_bad_queries_get_their_error_with_a_reason() {
    let running = start().await;
    running.seed_library().await;
    let cases = [
        ("/api/v1/categories/cooking/tags", 404, "not_found"),
        ("/api/v1/podcasts?category=cooking", 404, "not_found"),
        ("/api/v1/episodes?category=cooking", 404, "not_found"),
        ("/api/v1/podcasts/no-such-show", 404, "not_found"),
        ("/api/v1/podcasts/no-such-show/episodes", 404, "not_found"),
        ("/api/v1/episodes/no-such-episode", 404, "not_found"),
        ("/api/v1/previews", 400, "invalid_argument"),
        ("/api/v1/previews?tag=%20", 400, "invalid_argument"),
        ("/api/v1/previews?tag=x&count=0", 400, "invalid_argument"),
        ("/api/v1/previews?tag=x&count=11", 400, "invalid_argument"),
        ("/api/v1/podcasts?limit=201", 400, "invalid_argument"),
        ("/api/v1/podcasts?limit=-1", 400, "invalid_argument"),
        ("/api/v1/podcasts?colour=red", 400, "invalid_argument"),
        (
            "/api/v1/categories/business/tags?limit=0",
            400,
            "invalid_argument",
        ),
    ];
    for (path, status, code) in cases {
        let (got, body) = running.get(path).await;
        assert_eq!(
            (got, body["code"].as_str()),
            (status, Some(code)),
            "{path}: {body}"
        );
        assert!(
            !body["message"].as_str().unwrap_or("").is_empty(),
            "{path}: {body}"
        );
    }
    let long = "字".repeat(201);
    let (status, body) = running.get(&format!("/api/v1/episodes?q={long}")).await;
    assert_eq!(status, 400, "{body}");

    let (_, body) = running.get("/api/v1/categories/cooking/tags").await;
    let message = body["message"].as_str().expect("present");
    assert!(
        message.contains("business"),
        "names the categories there are: {message}"
    );

    let response = running
        .client
        .post(format!("{}/api/v1/categories", running.base))
        .send()
        .await
        .expect("present");
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "GET");

    let (status, body) = running.get("/api/v1/previews?tag=%E6%B2%92%E6%9C%89").await;
    assert_eq!(
        status, 200,
        "a tag nobody uses has no previews, not an error"
    );
    assert_eq!(body["previews"], serde_json::json!([]));
}

#[tokio::test]
async fn a_catalog_that_is_down_answers_503_with_retry_after() {
    let dir = TempDir::new().expect("temp dir");
    let closed = free_port().to_string();
    let settings = settings_with(&[
        ("PODWISE_PROFILE", "cluster"),
        ("PODWISE_DATA_DIR", dir.path().to_str().expect("present")),
        ("POSTGRES_HOST", "127.0.0.1"),
        ("POSTGRES_PORT", closed.as_str()),
        ("MINIO_ACCESS_KEY", "podwise"),
        ("MINIO_SECRET_KEY", "podwise-secret"),
    ]);
    let gateway = Gateway::start(&settings).await;
    let client = reqwest::Client::new();
    for path in [
        "/api/v1/categories",
        "/api/v1/podcasts",
        "/api/v1/episodes?q=x",
    ] {
        let response = client
            .get(format!("{}{path}", gateway.base))
            .send()
            .await
            .expect("present");
        assert_eq!(response.status(), 503, "{path}");
        assert!(response.headers().contains_key("retry-after"), "{path}");
        let body: Value = response.json().await.expect("present");
        assert_eq!(body["code"], "unavailable", "{path}: {body}");
    }
    gateway.stop().await;
}
