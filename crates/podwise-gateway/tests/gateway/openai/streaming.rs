//! `POST /v1/chat/completions` with `"stream": true`: the events a client reads, how a
//! failure shows before and after the stream starts, and what hanging up does.

use std::sync::atomic::Ordering;
use std::time::Duration;

use podwise_common::ServiceError;
use podwise_proto::common::v1::Usage;
use podwise_proto::llm::v1::{ChatChunk, FinishReason};
use serde_json::{Value, json};

use super::double::Script;
use super::{OpenAi, json_of, status_of};

fn delta(text: &str) -> ChatChunk {
    ChatChunk {
        delta: text.to_owned(),
        model: "qwen2.5-0.5b".to_owned(),
        ..ChatChunk::default()
    }
}

fn last(text: &str) -> ChatChunk {
    ChatChunk {
        finish_reason: FinishReason::Stop.into(),
        usage: Some(Usage {
            prompt_tokens: 9,
            completion_tokens: 3,
        }),
        ..delta(text)
    }
}

fn streaming(chunks: Vec<Result<ChatChunk, tonic::Status>>) -> Script {
    Script {
        stream: chunks,
        ..Script::default()
    }
}

fn ask(include_usage: bool) -> Value {
    let mut request = json!({
        "model": "qwen",
        "messages": [{"role": "user", "content": "Say hello"}],
        "stream": true,
    });
    if include_usage {
        request["stream_options"] = json!({"include_usage": true});
    }
    request
}

/// The `data:` payloads of a server-sent event stream, in order.
fn events(text: &str) -> Vec<String> {
    text.split("\n\n")
        .filter(|event| !event.trim().is_empty())
        .map(|event| {
            event
                .strip_prefix("data: ")
                .unwrap_or_else(|| panic!("every event is a data line: {event:?}"))
                .to_owned()
        })
        .collect()
}

fn parse(event: &str) -> Value {
    serde_json::from_str(event).unwrap_or_else(|e| panic!("{event:?} is not JSON: {e}"))
}

#[tokio::test]
async fn a_streamed_chat_relays_each_chunk_as_an_openai_event_in_order() {
    let openai = OpenAi::start(streaming(vec![
        Ok(delta("Hel")),
        Ok(delta("lo")),
        Ok(last(" there")),
    ]))
    .await;

    let response = openai.post("/v1/chat/completions", &ask(true)).await;

    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    assert_eq!(response.headers()["cache-control"], "no-cache");
    let events = events(&response.text().await.expect("the stream ends"));
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| parse(e))
        .collect();
    assert_eq!(chunks.len(), 6, "{chunks:#?}");
    let id = chunks[0]["id"].as_str().expect("an id");
    assert!(id.starts_with("chatcmpl-"), "{id}");
    for chunk in &chunks {
        assert_eq!(chunk["id"], id);
        assert_eq!(chunk["object"], "chat.completion.chunk");
        assert_eq!(chunk["model"], "qwen2.5-0.5b");
    }

    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let texts: Vec<&Value> = chunks[1..4]
        .iter()
        .map(|chunk| &chunk["choices"][0]["delta"]["content"])
        .collect();
    assert_eq!(texts, ["Hel", "lo", " there"]);
    for chunk in &chunks[..4] {
        assert_eq!(chunk["choices"][0]["finish_reason"], Value::Null);
        assert_eq!(chunk["usage"], Value::Null);
    }
    assert_eq!(chunks[4]["choices"][0]["delta"], json!({}));
    assert_eq!(chunks[4]["choices"][0]["finish_reason"], "stop");
    assert_eq!(chunks[5]["choices"], json!([]));
    assert_eq!(
        chunks[5]["usage"],
        json!({"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12})
    );
    assert_eq!(openai.seen.streams().len(), 1);
    assert!(openai.seen.chats().is_empty(), "a stream asks ChatStream");
    openai.stop().await;
}

#[tokio::test]
async fn a_stream_has_no_usage_unless_the_client_asks_for_it() {
    let openai = OpenAi::start(streaming(vec![Ok(delta("Hi")), Ok(last(""))])).await;

    let response = openai.post("/v1/chat/completions", &ask(false)).await;

    let events = events(&response.text().await.expect("the stream ends"));
    assert_eq!(events.len(), 4, "role, text, finish, [DONE]: {events:#?}");
    for event in &events[..3] {
        assert!(parse(event).get("usage").is_none(), "{event}");
    }
    assert_eq!(parse(&events[2])["choices"][0]["finish_reason"], "stop");
    assert_eq!(events[3], "[DONE]");
    openai.stop().await;
}

#[tokio::test]
async fn a_length_cut_is_reported_as_the_finish_reason() {
    let cut = ChatChunk {
        finish_reason: FinishReason::Length.into(),
        ..delta("and then")
    };
    let openai = OpenAi::start(streaming(vec![Ok(cut)])).await;

    let response = openai.post("/v1/chat/completions", &ask(false)).await;

    let events = events(&response.text().await.expect("the stream ends"));
    assert_eq!(
        parse(&events[1])["choices"][0]["delta"]["content"],
        "and then"
    );
    assert_eq!(parse(&events[2])["choices"][0]["finish_reason"], "length");
    openai.stop().await;
}

#[tokio::test]
async fn a_failure_mid_stream_becomes_an_error_event_and_ends_the_stream() {
    let failure = status_of(ServiceError::unavailable("the backend went away"));
    let openai = OpenAi::start(streaming(vec![Ok(delta("Par")), Err(failure)])).await;

    let response = openai.post("/v1/chat/completions", &ask(true)).await;

    assert_eq!(response.status(), 200);
    let events = events(&response.text().await.expect("the stream ends"));
    assert_eq!(events.len(), 3, "role, text, error: {events:#?}");
    assert_eq!(parse(&events[1])["choices"][0]["delta"]["content"], "Par");
    assert_eq!(
        parse(&events[2]),
        json!({"error": {"code": "unavailable", "message": "the backend went away"}})
    );
    openai.stop().await;
}

#[tokio::test]
async fn a_stream_refused_as_it_starts_keeps_its_http_status() {
    let refused = Script {
        stream_refusal: Some(status_of(ServiceError::NotFound(
            "no chat model 'qwen'".to_owned(),
        ))),
        ..Script::default()
    };
    let openai = OpenAi::start(refused).await;

    let (status, body) = json_of(openai.post("/v1/chat/completions", &ask(false)).await).await;

    assert_eq!(status, 404, "{body}");
    assert_eq!(body["code"], "not_found");
    openai.stop().await;
}

#[tokio::test]
async fn a_stream_that_fails_before_its_first_chunk_keeps_its_http_status() {
    let busy = status_of(ServiceError::unavailable("every backend is busy"));
    let openai = OpenAi::start(streaming(vec![Err(busy)])).await;

    let response = openai.post("/v1/chat/completions", &ask(false)).await;

    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
    openai.stop().await;
}

#[tokio::test]
async fn a_stream_that_stays_silent_past_the_llm_deadline_answers_504() {
    let silent = Script {
        stream: vec![Ok(delta("too late"))],
        pace: Duration::from_secs(3),
        ..Script::default()
    };
    let openai = OpenAi::start_with(silent, &[("LLM_TIMEOUT_MS", "300")]).await;

    let (status, body) = json_of(openai.post("/v1/chat/completions", &ask(false)).await).await;

    assert_eq!(status, 504, "{body}");
    assert_eq!(body["code"], "timeout");
    openai.stop().await;
}

#[tokio::test]
async fn a_client_that_hangs_up_mid_stream_drops_the_service_stream() {
    let total = 400;
    let script = Script {
        stream: (0..total).map(|i| Ok(delta(&format!("{i} ")))).collect(),
        pace: Duration::from_millis(20),
        ..Script::default()
    };
    let openai = OpenAi::start(script).await;
    let mut response = openai.post("/v1/chat/completions", &ask(false)).await;
    let mut received = String::new();
    while received.matches("data: ").count() < 3 {
        let bytes = response
            .chunk()
            .await
            .expect("the stream is readable")
            .expect("the stream has not ended");
        received.push_str(&String::from_utf8_lossy(&bytes));
    }

    drop(response);

    tokio::time::timeout(Duration::from_secs(5), openai.seen.dropped.notified())
        .await
        .expect("the service sees its stream dropped soon after the client leaves");
    let sent = openai.seen.sent.load(Ordering::SeqCst);
    assert!(
        sent < total,
        "the stream was cut short, not run out: {sent} sent"
    );
    assert!(!openai.seen.exhausted.load(Ordering::SeqCst));
    openai.stop().await;
}
