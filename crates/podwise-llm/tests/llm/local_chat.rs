//! The local chat model on the real SmolLM2-135M-Instruct weights.

use std::sync::OnceLock;

use futures_util::StreamExt as _;
use podwise_llm::chat::{
    BackendError, ChatBackend, ChatEvent, ChatRequest, FinishReason, Message, Role, Sampling,
};
use podwise_llm::local::LocalChat;

use crate::models::model_file;

const SMOLLM: &str = "llm/SmolLM2-135M-Instruct.Q4_1.gguf";

/// One loaded model for every test: loading takes a second or two.
fn model() -> &'static LocalChat {
    static MODEL: OnceLock<LocalChat> = OnceLock::new();
    MODEL.get_or_init(|| LocalChat::load(&model_file(SMOLLM), 1, 8).expect("the model loads"))
}

fn ask(question: &str) -> ChatRequest {
    ChatRequest {
        model: None,
        // SmolLM2's own default system prompt sends it rambling; a plain one keeps a 135M
        // model on topic.
        messages: vec![
            Message {
                role: Role::System,
                content: "You are a helpful assistant.".to_owned(),
            },
            Message {
                role: Role::User,
                content: question.to_owned(),
            },
        ],
        sampling: Sampling {
            temperature: 0.0,
            top_p: 1.0,
            seed: Some(7),
        },
        max_tokens: 48,
        stop: Vec::new(),
        json_object: false,
    }
}

/// The reply's text and its final event.
async fn reply(request: ChatRequest) -> Result<(String, FinishReason, u32), BackendError> {
    let mut stream = model().start(request).await?;
    let mut text = String::new();
    while let Some(event) = stream.next().await {
        match event? {
            ChatEvent::Delta(piece) => text.push_str(&piece),
            ChatEvent::Done {
                finish_reason,
                usage,
                ..
            } => return Ok((text, finish_reason, usage.completion_tokens)),
        }
    }
    panic!("the stream ended without a Done event");
}

#[tokio::test]
async fn a_short_english_instruction_gets_a_non_empty_answer() {
    let (text, _, tokens) = reply(ask("What is the capital of France?"))
        .await
        .expect("reply");
    assert!(!text.trim().is_empty());
    assert!(text.contains("Paris"), "{text:?}");
    assert!(tokens > 0);
}

#[tokio::test]
async fn max_tokens_caps_the_reply_and_reports_length() {
    let mut request = ask("Write a long story about a podcast host in Taipei.");
    request.max_tokens = 5;
    let (_, finish, tokens) = reply(request).await.expect("reply");
    assert_eq!(finish, FinishReason::Length);
    assert_eq!(tokens, 5);
}

#[tokio::test]
async fn a_stop_sequence_ends_the_reply_before_it_appears() {
    let free = reply(ask("Count from 1 to 10, separated by commas."))
        .await
        .expect("reply")
        .0;
    let cut_at = free.find('5').expect("the count reaches 5");
    let mut request = ask("Count from 1 to 10, separated by commas.");
    request.stop = vec!["5".to_owned()];
    let (text, finish, _) = reply(request).await.expect("reply");
    assert_eq!(finish, FinishReason::Stop);
    assert_eq!(text, free[..cut_at]);
}

#[tokio::test]
async fn temperature_zero_with_a_seed_is_deterministic() {
    let first = reply(ask("Name three podcast genres."))
        .await
        .expect("reply")
        .0;
    let second = reply(ask("Name three podcast genres."))
        .await
        .expect("reply")
        .0;
    assert_eq!(first, second);
}

#[tokio::test]
async fn sampling_with_the_same_seed_repeats_and_another_seed_differs() {
    let sampled = |seed| {
        let mut request = ask("Invent a name for a podcast about cooking.");
        request.sampling = Sampling {
            temperature: 1.0,
            top_p: 0.95,
            seed: Some(seed),
        };
        reply(request)
    };
    let a = sampled(1).await.expect("reply").0;
    let b = sampled(1).await.expect("reply").0;
    let c = sampled(2).await.expect("reply").0;
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[tokio::test]
async fn a_prompt_longer_than_the_context_is_rejected() {
    let long = "podcast ".repeat(9000);
    match reply(ask(&long)).await {
        Err(BackendError::Rejected(message)) => assert!(message.contains("tokens"), "{message}"),
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[tokio::test]
async fn json_mode_is_refused_rather_than_promised() {
    let mut request = ask("Give me JSON.");
    request.json_object = true;
    assert!(matches!(
        reply(request).await,
        Err(BackendError::Rejected(_))
    ));
}

#[tokio::test]
async fn a_model_the_backend_does_not_serve_is_rejected() {
    let mut request = ask("Hi");
    request.model = Some("gpt-4o".to_owned());
    assert!(matches!(
        model().start(request).await,
        Err(BackendError::Rejected(_))
    ));
}

#[tokio::test]
async fn a_client_that_goes_away_frees_the_model_for_the_next_request() {
    // A model of its own, so the other tests' requests do not queue in front.
    let chat = LocalChat::load(&model_file(SMOLLM), 1, 1).expect("the model loads");
    let mut long = ask("Write a very long story about a podcast host in Taipei.");
    long.max_tokens = 1000;
    let mut abandoned = chat.start(long).await.expect("starts");
    abandoned
        .next()
        .await
        .expect("a first piece")
        .expect("text");
    drop(abandoned);

    // A thousand tokens take well over ten seconds here; had the abandoned reply gone on,
    // this one would wait behind it.
    let mut short = ask("Say hi.");
    short.max_tokens = 4;
    let finished = tokio::time::timeout(std::time::Duration::from_secs(8), async {
        let mut stream = chat.start(short).await.expect("starts");
        while let Some(event) = stream.next().await {
            if let ChatEvent::Done { .. } = event.expect("no error") {
                return;
            }
        }
    })
    .await;
    assert!(finished.is_ok(), "the abandoned reply kept the model busy");
}
