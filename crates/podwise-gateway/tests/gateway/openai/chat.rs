//! `POST /v1/chat/completions` without streaming: the request as the service sees it,
//! the `chat.completion` the client gets, and every way a request is refused.

use std::time::Duration;

use podwise_common::ServiceError;
use podwise_proto::common::v1::Usage;
use podwise_proto::llm::v1::{ChatMessage, ChatResponse, FinishReason, ResponseFormat, Role};
use serde_json::json;

use super::double::Script;
use super::{OpenAi, json_of, message_of, status_of};

fn answering(content: &str) -> Script {
    Script {
        chat: Some(Ok(ChatResponse {
            model: "qwen2.5-0.5b".to_owned(),
            content: content.to_owned(),
            finish_reason: FinishReason::Length.into(),
            usage: Some(Usage {
                prompt_tokens: 11,
                completion_tokens: 5,
            }),
        })),
        ..Script::default()
    }
}

fn message(role: Role, content: &str) -> ChatMessage {
    ChatMessage {
        role: role.into(),
        content: content.to_owned(),
    }
}

#[tokio::test]
async fn a_chat_completion_carries_every_field_to_the_service_and_back() {
    let openai = OpenAi::start(answering("Podcasts are episodic audio.")).await;

    let response = openai
        .post(
            "/v1/chat/completions",
            &json!({
                "model": "qwen",
                "messages": [
                    {"role": "developer", "content": "Answer briefly."},
                    {"role": "system", "content": "You know podcasts."},
                    {"role": "user", "content": [
                        {"type": "text", "text": "What is "},
                        {"type": "text", "text": "a podcast?"}
                    ]},
                    {"role": "assistant", "content": "Shall I explain?"},
                    {"role": "user", "content": "Yes.", "name": "ada"}
                ],
                "temperature": 0.25,
                "top_p": 0.5,
                "max_completion_tokens": 64,
                "stop": "END",
                "seed": 7,
                "n": 1,
                "stream": false,
                "response_format": {"type": "json_object"},
                "tools": [],
                "frequency_penalty": 0,
                "user": "someone"
            }),
        )
        .await;

    let (status, body) = json_of(response).await;
    assert_eq!(status, 200, "{body}");
    let asked = openai.seen.chats();
    assert_eq!(asked.len(), 1);
    let asked = &asked[0];
    assert_eq!(asked.model, "qwen");
    assert_eq!(
        asked.messages,
        [
            message(Role::System, "Answer briefly."),
            message(Role::System, "You know podcasts."),
            message(Role::User, "What is a podcast?"),
            message(Role::Assistant, "Shall I explain?"),
            message(Role::User, "Yes."),
        ]
    );
    assert_eq!(asked.temperature, Some(0.25));
    assert_eq!(asked.top_p, Some(0.5));
    assert_eq!(asked.max_tokens, Some(64));
    assert_eq!(asked.stop, ["END"]);
    assert_eq!(asked.seed, Some(7));
    assert_eq!(asked.response_format(), ResponseFormat::JsonObject);

    let id = body["id"].as_str().expect("an id");
    assert!(id.starts_with("chatcmpl-"), "{id}");
    assert_eq!(body["object"], "chat.completion");
    assert!(body["created"].as_u64().expect("created") > 1_700_000_000);
    assert_eq!(body["model"], "qwen2.5-0.5b");
    assert_eq!(body["choices"].as_array().expect("choices").len(), 1);
    assert_eq!(body["choices"][0]["index"], 0);
    assert_eq!(body["choices"][0]["message"]["role"], "assistant");
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "Podcasts are episodic audio."
    );
    assert_eq!(body["choices"][0]["finish_reason"], "length");
    assert_eq!(
        body["usage"],
        json!({"prompt_tokens": 11, "completion_tokens": 5, "total_tokens": 16})
    );
    openai.stop().await;
}

#[tokio::test]
async fn the_older_max_tokens_a_stop_list_and_no_model_reach_the_service_as_such() {
    let openai = OpenAi::start(answering("ok")).await;

    let response = openai
        .post(
            "/v1/chat/completions",
            &json!({
                "messages": [{"role": "user", "content": "Hi"}],
                "max_tokens": 12,
                "stop": ["\n\n", "User:"],
            }),
        )
        .await;

    assert_eq!(response.status(), 200);
    let asked = &openai.seen.chats()[0];
    assert_eq!(
        asked.model, "",
        "an absent model leaves the choice to the service"
    );
    assert_eq!(asked.max_tokens, Some(12));
    assert_eq!(asked.stop, ["\n\n", "User:"]);
    assert_eq!(asked.temperature, None);
    assert_eq!(asked.seed, None);
    assert_eq!(asked.response_format(), ResponseFormat::Unspecified);
    openai.stop().await;
}

#[tokio::test]
async fn a_chat_without_messages_is_refused_before_it_reaches_the_service() {
    let openai = OpenAi::start(answering("never sent")).await;

    let response = openai
        .post(
            "/v1/chat/completions",
            &json!({"model": "qwen", "messages": []}),
        )
        .await;

    let (status, body) = json_of(response).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], "invalid_argument");
    assert!(message_of(&body).contains("messages"), "{body}");
    assert!(openai.seen.chats().is_empty());
    openai.stop().await;
}

#[tokio::test]
async fn requests_podwise_cannot_honour_are_refused_with_the_reason() {
    let openai = OpenAi::start(answering("never sent")).await;
    let user = json!([{"role": "user", "content": "Hi"}]);
    let cases = [
        (json!({"messages": user, "n": 2}), "n must be 1"),
        (
            json!({"messages": [{"role": "tool", "content": "42"}]}),
            "'tool'",
        ),
        (
            json!({"messages": [{"role": "user", "content": [{"type": "image_url"}]}]}),
            "only text parts",
        ),
        (json!({"messages": user, "temperature": 3}), "temperature"),
        (json!({"messages": user, "stop": 5}), "stop"),
        (
            json!({"messages": user, "response_format": {"type": "json_schema"}}),
            "json_schema",
        ),
        (
            json!({"messages": user, "stream_options": {"include_usage": true}}),
            "stream",
        ),
        (
            json!({"messages": user, "tools": [{"type": "function"}]}),
            "tools",
        ),
    ];

    for (request, reason) in cases {
        let response = openai.post("/v1/chat/completions", &request).await;

        let (status, body) = json_of(response).await;
        assert_eq!(status, 400, "{request} -> {body}");
        assert_eq!(body["code"], "invalid_argument", "{body}");
        assert!(message_of(&body).contains(reason), "{request} -> {body}");
    }
    assert!(openai.seen.chats().is_empty());
    openai.stop().await;
}

#[tokio::test]
async fn a_field_of_the_wrong_type_is_refused_with_serdes_reason() {
    let openai = OpenAi::start(answering("never sent")).await;

    let response = openai
        .post(
            "/v1/chat/completions",
            &json!({"messages": [{"role": "user", "content": "Hi"}], "temperature": "hot"}),
        )
        .await;

    let (status, body) = json_of(response).await;
    assert_eq!(status, 422, "{body}");
    assert!(message_of(&body).contains("expected f32"), "{body}");
    openai.stop().await;
}

#[tokio::test]
async fn a_model_the_service_does_not_know_answers_404_in_the_gateway_error_shape() {
    let script = Script {
        chat: Some(Err(status_of(ServiceError::NotFound(
            "no chat model 'gpt-9'".to_owned(),
        )))),
        ..Script::default()
    };
    let openai = OpenAi::start(script).await;

    let response = openai
        .post(
            "/v1/chat/completions",
            &json!({"model": "gpt-9", "messages": [{"role": "user", "content": "Hi"}]}),
        )
        .await;

    let (status, body) = json_of(response).await;
    assert_eq!(status, 404);
    assert_eq!(
        body,
        json!({"code": "not_found", "message": "no chat model 'gpt-9'"})
    );
    openai.stop().await;
}

#[tokio::test]
async fn a_busy_service_answers_503_with_its_retry_after() {
    let script = Script {
        chat: Some(Err(status_of(ServiceError::Unavailable {
            message: "every backend is busy".to_owned(),
            retry_after: Duration::from_secs(7),
        }))),
        ..Script::default()
    };
    let openai = OpenAi::start(script).await;

    let response = openai
        .post(
            "/v1/chat/completions",
            &json!({"messages": [{"role": "user", "content": "Hi"}]}),
        )
        .await;

    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "7");
    let (_, body) = json_of(response).await;
    assert_eq!(body["code"], "unavailable");
    openai.stop().await;
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused_with_413() {
    let openai = OpenAi::start_with(
        answering("never sent"),
        &[("PODWISE_MAX_BODY_BYTES", "2048")],
    )
    .await;
    let long = "a".repeat(4096);

    let response = openai
        .post(
            "/v1/chat/completions",
            &json!({"messages": [{"role": "user", "content": long}]}),
        )
        .await;

    let (status, body) = json_of(response).await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["code"], "payload_too_large");
    assert!(openai.seen.chats().is_empty());
    openai.stop().await;
}

#[tokio::test]
async fn a_client_that_gives_up_waiting_cancels_the_service_call() {
    let slow = Script {
        chat_delay: Duration::from_secs(60),
        ..answering("never read")
    };
    let openai = OpenAi::start(slow).await;

    let gave_up = openai
        .http
        .post(format!("{}/v1/chat/completions", openai.base))
        .json(&json!({"messages": [{"role": "user", "content": "Write a long story"}]}))
        .timeout(Duration::from_millis(300))
        .send()
        .await;

    assert!(gave_up.is_err_and(|e| e.is_timeout()));
    tokio::time::timeout(Duration::from_secs(5), openai.seen.dropped.notified())
        .await
        .expect("the service sees its call dropped soon after the client leaves");
    openai.stop().await;
}
