//! The llm service started in-process on a free port, as its binary would start it, with
//! the real local models, asked through its gRPC contract.

use podwise_common::testing::{RunningService, assert_healthy, channel, settings_with, spawn};
use podwise_proto::llm::v1::llm_service_client::LlmServiceClient;
use podwise_proto::llm::v1::{
    ChatMessage, ChatRequest, EmbedRequest, EmbeddingKind, FinishReason, ListModelsRequest,
    ModelKind, Role,
};
use tonic::Code;
use tonic::transport::Channel;

use crate::models::model_dir;

async fn start(extra: &[(&str, &str)]) -> (RunningService, LlmServiceClient<Channel>) {
    let dir = model_dir().display().to_string();
    let mut pairs = vec![("PODWISE_MODEL_DIR", dir.as_str())];
    pairs.extend_from_slice(extra);
    let service = spawn(
        podwise_llm::build(&settings_with(&pairs))
            .await
            .expect("the service starts"),
    );
    let client = LlmServiceClient::new(channel(service.addr));
    (service, client)
}

fn question(text: &str) -> ChatRequest {
    ChatRequest {
        messages: vec![
            ChatMessage {
                role: Role::System.into(),
                content: "You are a helpful assistant.".to_owned(),
            },
            ChatMessage {
                role: Role::User.into(),
                content: text.to_owned(),
            },
        ],
        temperature: Some(0.0),
        max_tokens: Some(24),
        ..Default::default()
    }
}

#[tokio::test]
async fn the_service_answers_health_ready_metrics_and_grpc_health() {
    let (service, _) = start(&[]).await;
    assert_healthy(service.addr, "llm").await;
    service.stop().await;
}

#[tokio::test]
async fn a_chat_reply_comes_back_whole_with_its_usage() {
    let (service, mut client) = start(&[]).await;

    let reply = client
        .chat(question("What is the capital of France?"))
        .await
        .expect("a reply")
        .into_inner();

    assert!(reply.content.contains("Paris"), "{:?}", reply.content);
    assert_eq!(reply.model, "SmolLM2-135M-Instruct.Q4_1");
    let usage = reply.usage.expect("usage");
    assert!(
        usage.prompt_tokens > 10 && usage.completion_tokens > 0,
        "{usage:?}"
    );
    service.stop().await;
}

#[tokio::test]
async fn a_streamed_reply_ends_with_a_chunk_that_carries_the_finish_reason_and_usage() {
    let (service, mut client) = start(&[]).await;
    let mut request = question("Tell me about podcasts.");
    request.max_tokens = Some(8);

    let mut stream = client
        .chat_stream(request)
        .await
        .expect("a stream")
        .into_inner();
    let mut chunks = Vec::new();
    while let Some(chunk) = stream.message().await.expect("a chunk") {
        chunks.push(chunk);
    }

    let last = chunks.last().expect("at least the final chunk");
    assert_eq!(last.finish_reason(), FinishReason::Length);
    assert_eq!(last.usage.expect("usage").completion_tokens, 8);
    let text: String = chunks.iter().map(|c| c.delta.as_str()).collect();
    assert!(!text.is_empty());
    assert!(chunks.len() > 2, "text arrives in pieces, not at the end");
    service.stop().await;
}

#[tokio::test]
async fn bad_chat_requests_are_refused_with_the_reason() {
    let (service, mut client) = start(&[("PODWISE_LLM_MAX_TOKENS", "256")]).await;

    let empty = client
        .chat(ChatRequest::default())
        .await
        .expect_err("refused");
    assert_eq!(empty.code(), Code::InvalidArgument);
    assert!(empty.message().contains("messages"), "{}", empty.message());

    let mut greedy = question("hi");
    greedy.max_tokens = Some(257);
    let too_many = client.chat(greedy).await.expect_err("refused");
    assert_eq!(too_many.code(), Code::InvalidArgument);
    assert!(too_many.message().contains("256"), "{}", too_many.message());

    let mut unknown = question("hi");
    unknown.model = "gpt-9".to_owned();
    let missing = client.chat(unknown).await.expect_err("refused");
    assert_eq!(missing.code(), Code::NotFound);
    assert!(
        missing.message().contains("SmolLM2"),
        "{}",
        missing.message()
    );
    service.stop().await;
}

#[tokio::test]
async fn a_dead_remote_backend_falls_back_to_the_local_model() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    let backends = format!("dead=http://127.0.0.1:{port}/v1 model=remote-model retries=0");
    let (service, mut client) = start(&[("PODWISE_LLM_BACKENDS", &backends)]).await;

    let reply = client
        .chat(question("Say hello."))
        .await
        .expect("a reply")
        .into_inner();

    assert_eq!(reply.model, "SmolLM2-135M-Instruct.Q4_1");
    service.stop().await;
}

#[tokio::test]
async fn embeddings_have_the_model_dimension_and_unit_length() {
    let (service, mut client) = start(&[]).await;

    let reply = client
        .embed(EmbedRequest {
            inputs: vec!["台灣的茶農".to_owned(), "tea farmers in Taiwan".to_owned()],
            kind: EmbeddingKind::Passage.into(),
            ..Default::default()
        })
        .await
        .expect("vectors")
        .into_inner();

    assert_eq!(reply.model, "multilingual-e5-small");
    assert_eq!(reply.dimensions, 384);
    assert_eq!(reply.embeddings.len(), 2);
    for vector in &reply.embeddings {
        let norm: f32 = vector.values.iter().map(|v| v * v).sum::<f32>().sqrt();
        assert_eq!(vector.values.len(), 384);
        assert!((norm - 1.0).abs() < 1e-3, "norm {norm}");
    }
    assert!(reply.usage.expect("usage").prompt_tokens > 4);
    service.stop().await;
}

#[tokio::test]
async fn bad_embedding_requests_are_refused_with_the_reason() {
    let (service, mut client) = start(&[]).await;

    let empty = client
        .embed(EmbedRequest::default())
        .await
        .expect_err("refused");
    assert_eq!(empty.code(), Code::InvalidArgument);

    let unknown = client
        .embed(EmbedRequest {
            model: "text-embedding-3-small".to_owned(),
            inputs: vec!["hi".to_owned()],
            ..Default::default()
        })
        .await
        .expect_err("refused");
    assert_eq!(unknown.code(), Code::NotFound);
    assert!(
        unknown.message().contains("multilingual-e5-small"),
        "{}",
        unknown.message()
    );

    let long = client
        .embed(EmbedRequest {
            inputs: vec!["podcast ".repeat(2000)],
            ..Default::default()
        })
        .await
        .expect_err("refused");
    assert_eq!(long.code(), Code::InvalidArgument);
    assert!(long.message().contains("512"), "{}", long.message());
    service.stop().await;
}

#[tokio::test]
async fn the_model_list_names_the_chat_and_embedding_models_with_their_sizes() {
    let (service, mut client) = start(&[(
        "PODWISE_LLM_EMBEDDING_MODEL",
        "multilingual-e5-small,all-MiniLM-L6-v2",
    )])
    .await;

    let models = client
        .list_models(ListModelsRequest {})
        .await
        .expect("a list")
        .into_inner()
        .models;

    let chat = models
        .iter()
        .find(|m| m.kind() == ModelKind::Chat)
        .expect("a chat model");
    assert_eq!(chat.context_length, 8192);
    assert_eq!(chat.owned_by, "local");
    let embedding: Vec<(&str, u32)> = models
        .iter()
        .filter(|m| m.kind() == ModelKind::Embedding)
        .map(|m| (m.id.as_str(), m.dimensions))
        .collect();
    assert_eq!(
        embedding,
        [("multilingual-e5-small", 384), ("all-MiniLM-L6-v2", 384)]
    );
    service.stop().await;
}

#[tokio::test]
async fn a_missing_chat_model_stops_start_up_with_its_path() {
    let dir = model_dir().display().to_string();
    let error = podwise_llm::build(&settings_with(&[
        ("PODWISE_MODEL_DIR", &dir),
        ("PODWISE_LLM_CHAT_MODEL", "no-such-model.gguf"),
    ]))
    .await
    .expect_err("start-up fails");

    let message = format!("{error:#}");
    assert!(message.contains("no-such-model.gguf"), "{message}");
    assert!(message.contains("fetch-models.sh"), "{message}");
}
