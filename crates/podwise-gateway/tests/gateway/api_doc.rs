//! The OpenAPI document at `/api/openapi.json` and the explorer page: the document is
//! whole (every reference resolves, ids are unique), describes the request types the
//! handlers read, and every operation it lists is really served.

use std::collections::HashSet;

use podwise_common::testing::settings_with;
use serde_json::Value;
use tempfile::TempDir;

use crate::harness::Gateway;

async fn start() -> (Gateway, TempDir) {
    let dir = TempDir::new().expect("temp dir");
    let settings = settings_with(&[
        ("PODWISE_DATA_DIR", dir.path().to_str().expect("UTF-8")),
        // Every operation is called once below, faster than any real client.
        ("PODWISE_RATE_LIMIT_PER_IP", "0"),
        (
            "PODWISE_OPERATOR_KEYS",
            "operator-key-for-the-api-doc-tests",
        ),
        ("RAG_URL", "http://127.0.0.1:1"),
        ("ML_URL", "http://127.0.0.1:1"),
        ("TTS_URL", "http://127.0.0.1:1"),
        ("STT_URL", "http://127.0.0.1:1"),
        ("LLM_URL", "http://127.0.0.1:1"),
    ]);
    (Gateway::start(&settings).await, dir)
}

async fn document(base: &str) -> Value {
    let response = reqwest::get(format!("{base}/api/openapi.json"))
        .await
        .expect("document");
    assert_eq!(response.status(), 200);
    response.json().await.expect("JSON")
}

/// Every `$ref` anywhere in `value`.
fn references<'a>(value: &'a Value, found: &mut Vec<&'a str>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(target)) = map.get("$ref") {
                found.push(target);
            }
            map.values().for_each(|v| references(v, found));
        }
        Value::Array(items) => items.iter().for_each(|v| references(v, found)),
        _ => {}
    }
}

#[tokio::test]
async fn the_document_is_whole_and_describes_what_the_handlers_read() {
    let (gateway, _dir) = start().await;
    let document = document(&gateway.base).await;
    assert!(
        document["openapi"]
            .as_str()
            .expect("version")
            .starts_with("3.")
    );

    let mut found = Vec::new();
    references(&document, &mut found);
    assert!(found.len() > 10, "the bodies are referenced schemas");
    for target in found {
        let name = target
            .strip_prefix("#/components/schemas/")
            .expect("a schema reference");
        assert!(
            document["components"]["schemas"].get(name).is_some(),
            "{target} is not in the components"
        );
    }

    let mut ids = HashSet::new();
    let paths = document["paths"].as_object().expect("paths");
    for (path, item) in paths {
        for (method, operation) in item.as_object().expect("path item") {
            let id = operation["operationId"].as_str().expect("operation id");
            assert!(ids.insert(id.to_owned()), "{id} twice");
            assert!(operation["summary"].as_str().is_some(), "{method} {path}");
            assert!(
                operation["responses"]
                    .as_object()
                    .is_some_and(|r| !r.is_empty())
            );
        }
    }
    for path in [
        "/api/v1/ask",
        "/api/v1/previews",
        "/api/v1/users/{user_id}/preferences",
        "/api/v1/ingest/audio",
        "/v1/chat/completions",
        "/v1/audio/transcriptions",
        "/api/v1/objects/{key}",
    ] {
        assert!(paths.contains_key(path), "{path} is documented");
    }

    let ask = &document["paths"]["/api/v1/ask"]["post"];
    let body = &ask["requestBody"]["content"]["application/json"]["schema"]["$ref"];
    assert_eq!(body, "#/components/schemas/AskBody");
    let schema = &document["components"]["schemas"]["AskBody"];
    assert_eq!(schema["required"], serde_json::json!(["question"]));
    assert!(schema["properties"]["session_id"].is_object());

    let search = &document["paths"]["/api/v1/episodes"]["get"]["parameters"];
    let names: Vec<&str> = search
        .as_array()
        .expect("parameters")
        .iter()
        .map(|p| p["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["q", "category", "limit", "offset"]);
    assert!(
        search
            .as_array()
            .expect("list")
            .iter()
            .all(|p| p["in"] == "query")
    );

    let jobs = &document["paths"]["/api/v1/ingest/jobs"]["get"];
    assert_eq!(jobs["security"][0], serde_json::json!({"operator": []}));
    assert!(jobs["responses"]["401"].is_object() && jobs["responses"]["429"].is_object());
    let upload = &document["paths"]["/api/v1/ingest/audio"]["post"]["requestBody"];
    assert!(upload["content"]["multipart/form-data"].is_object());
    let preferences = &document["paths"]["/api/v1/users/{user_id}/preferences"];
    assert!(preferences["get"].is_object() && preferences["put"].is_object());
    gateway.stop().await;
}

#[tokio::test]
async fn every_documented_operation_is_served() {
    let (gateway, _dir) = start().await;
    let document = document(&gateway.base).await;
    let client = reqwest::Client::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        let concrete = path
            .split('/')
            .map(|part| {
                if part.starts_with('{') {
                    "unknown-id"
                } else {
                    part
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        for method in item.as_object().expect("item").keys() {
            let method =
                reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
            let response = client
                .request(method.clone(), format!("{}{concrete}", gateway.base))
                .send()
                .await
                .expect("request");
            let status = response.status().as_u16();
            let text = response.text().await.unwrap_or_default();
            assert_ne!(status, 405, "{method} {path} is documented but not served");
            assert!(
                !text.contains("no route for"),
                "{method} {path} is documented but not served: {text}"
            );
        }
    }
    gateway.stop().await;
}

#[tokio::test]
async fn the_explorer_page_and_its_script_are_served_with_a_strict_policy() {
    let (gateway, _dir) = start().await;
    let page = reqwest::get(format!("{}/api/docs", gateway.base))
        .await
        .expect("page");
    assert_eq!(page.status(), 200);
    let policy = page.headers()["content-security-policy"]
        .to_str()
        .expect("ASCII")
        .to_owned();
    assert!(policy.contains("script-src 'self'"), "{policy}");
    let html = page.text().await.expect("text");
    assert!(html.contains("/api/docs/explorer.js") && html.contains("/api/openapi.json"));
    let script = reqwest::get(format!("{}/api/docs/explorer.js", gateway.base))
        .await
        .expect("script");
    assert!(
        script.headers()["content-type"]
            .to_str()
            .expect("ASCII")
            .starts_with("text/javascript")
    );
    assert!(script.text().await.expect("text").contains("openapi.json"));
    gateway.stop().await;
}

#[tokio::test]
async fn every_operation_that_needs_a_credential_refuses_a_request_without_one() {
    let (gateway, _dir) = start().await;
    let document = document(&gateway.base).await;
    let client = reqwest::Client::new();
    let mut checked = 0;
    for (path, item) in document["paths"].as_object().expect("paths") {
        let concrete = path
            .replace("{user_id}", "someone")
            .replace("{id}", "unknown-id");
        for (method, operation) in item.as_object().expect("item") {
            let Some(security) = operation["security"].as_array() else {
                continue;
            };
            // An empty requirement means a credential is optional here.
            if security
                .iter()
                .any(|s| s.as_object().is_some_and(|s| s.is_empty()))
            {
                continue;
            }
            let method =
                reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
            let response = client
                .request(method.clone(), format!("{}{concrete}", gateway.base))
                .header("content-type", "application/json")
                .body("{}")
                .send()
                .await
                .expect("request");
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap_or_default();
            assert_eq!(status, 401, "{method} {path}: {body}");
            assert_eq!(body["code"], "unauthenticated", "{method} {path}");
            checked += 1;
        }
    }
    assert!(
        checked >= 12,
        "only {checked} operations need a credential?"
    );
    gateway.stop().await;
}
