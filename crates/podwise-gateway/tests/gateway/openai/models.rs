//! `GET /v1/models`: OpenAI's list shape with Podwise's fields, and an unreachable service.

use podwise_proto::llm::v1::{ModelInfo, ModelKind};
use serde_json::json;

use super::double::Script;
use super::{OpenAi, json_of, settings};
use crate::harness::Gateway;

#[tokio::test]
async fn the_model_list_has_the_openai_shape_with_podwise_fields_where_set() {
    let script = Script {
        models: vec![
            ModelInfo {
                id: "qwen2.5-0.5b".to_owned(),
                kind: ModelKind::Chat.into(),
                owned_by: "local".to_owned(),
                context_length: 32_768,
                dimensions: 0,
            },
            ModelInfo {
                id: "multilingual-e5-small".to_owned(),
                kind: ModelKind::Embedding.into(),
                owned_by: "local".to_owned(),
                context_length: 512,
                dimensions: 384,
            },
            ModelInfo {
                id: "mystery".to_owned(),
                owned_by: "openrouter".to_owned(),
                ..ModelInfo::default()
            },
        ],
        ..Script::default()
    };
    let openai = OpenAi::start(script).await;

    let (status, body) = json_of(openai.get("/v1/models").await).await;

    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"object": "list", "data": [
            {"id": "qwen2.5-0.5b", "object": "model", "created": 0, "owned_by": "local",
             "kind": "chat", "context_length": 32_768},
            {"id": "multilingual-e5-small", "object": "model", "created": 0,
             "owned_by": "local", "kind": "embedding", "context_length": 512,
             "dimensions": 384},
            {"id": "mystery", "object": "model", "created": 0, "owned_by": "openrouter"},
            {"id": "podwise-rag", "object": "model", "created": 0, "owned_by": "podwise",
             "kind": "chat"},
        ]})
    );
    openai.stop().await;
}

#[tokio::test]
async fn the_model_list_answers_503_while_the_llm_service_is_unreachable() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    let url = format!("http://{}", closed.local_addr().expect("an address"));
    drop(closed);
    let scratch = tempfile::tempdir().expect("a scratch directory");
    let gateway = Gateway::start(&settings(&url, &scratch, &[])).await;

    let response = reqwest::get(format!("{}/v1/models", gateway.base))
        .await
        .expect("the gateway answers");

    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
    let (_, body) = json_of(response).await;
    assert_eq!(body["code"], "unavailable");
    gateway.stop().await;
}
