//! `POST /v1/embeddings`: both vector encodings, the Podwise `input_type`, and the inputs
//! that are refused.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use podwise_proto::common::v1::Usage;
use podwise_proto::llm::v1::{EmbedResponse, Embedding, EmbeddingKind};
use serde_json::{Value, json};

use super::double::Script;
use super::{OpenAi, json_of, message_of};

/// Values with no short decimal form, so a lossy encoding would show.
fn vectors() -> Vec<Vec<f32>> {
    vec![
        vec![0.6, -0.8, 0.0, 1.0 / 3.0],
        vec![
            f32::MIN_POSITIVE,
            0.5,
            -0.25,
            std::f32::consts::FRAC_1_SQRT_2,
        ],
    ]
}

fn embedding() -> Script {
    Script {
        embed: Some(Ok(EmbedResponse {
            model: "multilingual-e5-small".to_owned(),
            dimensions: 4,
            embeddings: vectors()
                .into_iter()
                .map(|values| Embedding { values })
                .collect(),
            usage: Some(Usage {
                prompt_tokens: 6,
                completion_tokens: 0,
            }),
        })),
        ..Script::default()
    }
}

fn two_texts() -> Value {
    json!(["first text", "second text"])
}

fn floats(item: &Value) -> Vec<f32> {
    item["embedding"]
        .as_array()
        .expect("an array of numbers")
        .iter()
        .map(|n| n.as_f64().expect("a number") as f32)
        .collect()
}

fn from_base64(item: &Value) -> Vec<f32> {
    let text = item["embedding"].as_str().expect("a base64 string");
    STANDARD
        .decode(text)
        .expect("valid base64")
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

#[tokio::test]
async fn float_and_base64_embeddings_decode_to_the_same_numbers() {
    let openai = OpenAi::start(embedding()).await;

    let (status, as_floats) = json_of(
        openai
            .post(
                "/v1/embeddings",
                &json!({"input": two_texts(), "model": "e5"}),
            )
            .await,
    )
    .await;
    let (_, as_base64) = json_of(
        openai
            .post(
                "/v1/embeddings",
                &json!({"input": two_texts(), "model": "e5", "encoding_format": "base64"}),
            )
            .await,
    )
    .await;

    assert_eq!(status, 200, "{as_floats}");
    for body in [&as_floats, &as_base64] {
        assert_eq!(body["object"], "list");
        assert_eq!(body["model"], "multilingual-e5-small");
        assert_eq!(
            body["usage"],
            json!({"prompt_tokens": 6, "total_tokens": 6})
        );
        let data = body["data"].as_array().expect("data");
        assert_eq!(data.len(), 2);
        for (index, item) in data.iter().enumerate() {
            assert_eq!(item["object"], "embedding");
            assert_eq!(item["index"], index);
        }
    }
    let decoded_floats: Vec<Vec<f32>> = as_floats["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(floats)
        .collect();
    let decoded_base64: Vec<Vec<f32>> = as_base64["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(from_base64)
        .collect();
    assert_eq!(decoded_floats, vectors());
    assert_eq!(decoded_base64, vectors());
    openai.stop().await;
}

#[tokio::test]
async fn texts_are_queries_unless_marked_as_passages() {
    let openai = OpenAi::start(embedding()).await;

    for request in [
        json!({"input": two_texts()}),
        json!({"input": two_texts(), "input_type": "passage", "model": "e5"}),
    ] {
        let response = openai.post("/v1/embeddings", &request).await;
        assert_eq!(response.status(), 200);
    }

    let asked = openai.seen.embeds();
    assert_eq!(asked[0].kind(), EmbeddingKind::Query);
    assert_eq!(asked[0].model, "");
    assert_eq!(asked[1].kind(), EmbeddingKind::Passage);
    assert_eq!(asked[1].model, "e5");
    assert_eq!(asked[1].inputs, ["first text", "second text"]);
    openai.stop().await;
}

#[tokio::test]
async fn a_single_string_is_embedded_as_one_input() {
    let single = Script {
        embed: Some(Ok(EmbedResponse {
            model: "e5".to_owned(),
            dimensions: 4,
            embeddings: vec![Embedding {
                values: vectors()[0].clone(),
            }],
            usage: None,
        })),
        ..Script::default()
    };
    let openai = OpenAi::start(single).await;

    let (status, body) = json_of(
        openai
            .post("/v1/embeddings", &json!({"input": "one text"}))
            .await,
    )
    .await;

    assert_eq!(status, 200, "{body}");
    assert_eq!(openai.seen.embeds()[0].inputs, ["one text"]);
    assert_eq!(floats(&body["data"][0]), vectors()[0]);
    openai.stop().await;
}

#[tokio::test]
async fn inputs_that_are_not_text_are_refused_before_the_service() {
    let openai = OpenAi::start(embedding()).await;
    let cases = [
        (json!([101, 2023, 102]), "only text"),
        (json!([[101, 2023], [101]]), "only text"),
        (json!([]), "at least one"),
        (json!(["fine", ""]), "input[1]"),
        (json!({"text": "no"}), "string"),
    ];

    for (input, reason) in cases {
        let response = openai
            .post("/v1/embeddings", &json!({"input": input}))
            .await;

        let (status, body) = json_of(response).await;
        assert_eq!(status, 400, "{input} -> {body}");
        assert!(message_of(&body).contains(reason), "{input} -> {body}");
    }
    assert!(openai.seen.embeds().is_empty());
    openai.stop().await;
}

#[tokio::test]
async fn only_the_models_own_dimension_is_accepted() {
    let openai = OpenAi::start(embedding()).await;

    let (refused, body) = json_of(
        openai
            .post(
                "/v1/embeddings",
                &json!({"input": two_texts(), "dimensions": 2}),
            )
            .await,
    )
    .await;
    let (accepted, _) = json_of(
        openai
            .post(
                "/v1/embeddings",
                &json!({"input": two_texts(), "dimensions": 4}),
            )
            .await,
    )
    .await;

    assert_eq!(refused, 400);
    assert!(message_of(&body).contains("must be 4"), "{body}");
    assert_eq!(accepted, 200);
    openai.stop().await;
}

#[tokio::test]
async fn an_unknown_encoding_or_input_type_is_refused() {
    let openai = OpenAi::start(embedding()).await;

    for request in [
        json!({"input": "x", "encoding_format": "int8"}),
        json!({"input": "x", "input_type": "document"}),
    ] {
        let response = openai.post("/v1/embeddings", &request).await;
        assert_eq!(response.status(), 400, "{request}");
    }
    openai.stop().await;
}
