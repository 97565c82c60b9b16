//! Answers beyond retrieval: conversations and their refusals, a dependency that is
//! down, the written (generated) style streaming the model's own tokens, and an episode
//! whose ingestion fails while the others in its request are indexed.

use futures_util::StreamExt as _;
use podwise_common::stores::catalog::Catalog;
use podwise_proto::rag::v1::{
    AnswerMode, AskRequest, GetChatHistoryRequest, JobState, ListJobsRequest, ask_event,
};

use crate::harness::{LlmProcess, Rag, small_library};

const SENTENCES: [&str; 4] = [
    "番茄鐘工作法把時間切成二十五分鐘的專注時段。",
    "每個時段結束後休息五分鐘，四個時段之後休息比較久。",
    "這個方法由義大利人西里洛在一九八〇年代提出。",
    "它的名字來自一個番茄形狀的廚房計時器。",
];

fn question(text: &str) -> AskRequest {
    AskRequest {
        question: text.to_owned(),
        ..AskRequest::default()
    }
}

#[tokio::test]
async fn a_conversation_needs_a_known_listener_and_their_own_session() {
    let llm = LlmProcess::start().await;
    let mut rag = Rag::start(&llm.url, &[]).await;
    rag.ingest(small_library("ep-pomodoro", &SENTENCES)).await;

    let unknown_user = rag
        .client
        .ask(AskRequest {
            user_id: "nobody".into(),
            ..question("番茄鐘一個時段多久？")
        })
        .await
        .expect_err("refused");
    assert_eq!(
        unknown_user.code(),
        tonic::Code::NotFound,
        "{unknown_user:?}"
    );

    let no_user = rag
        .client
        .ask(AskRequest {
            session_id: "some-session".into(),
            ..question("番茄鐘一個時段多久？")
        })
        .await
        .expect_err("refused");
    assert_eq!(no_user.code(), tonic::Code::InvalidArgument, "{no_user:?}");

    // A real listener, made in the catalog the service shares.
    let catalog = Catalog::open(&rag.settings).await.expect("catalog");
    let user = catalog.create_user().await.expect("user").user_id;
    let first = rag
        .client
        .ask(AskRequest {
            user_id: user.clone(),
            ..question("番茄鐘一個時段多久？")
        })
        .await
        .expect("answered")
        .into_inner();
    assert!(first.grounded, "{first:?}");
    let follow_up = rag
        .client
        .ask(AskRequest {
            user_id: user.clone(),
            session_id: first.session_id.clone(),
            ..question("那它是誰提出的？")
        })
        .await
        .expect("answered")
        .into_inner();
    assert_eq!(follow_up.session_id, first.session_id);
    assert!(
        follow_up.grounded,
        "the follow-up is searched with its question: {follow_up:?}"
    );
    let unknown_session = rag
        .client
        .ask(AskRequest {
            user_id: user.clone(),
            session_id: "not-a-session".into(),
            ..question("再說一次")
        })
        .await
        .expect_err("refused");
    assert_eq!(unknown_session.code(), tonic::Code::NotFound);

    let history = rag
        .client
        .get_chat_history(GetChatHistoryRequest {
            user_id: user,
            ..GetChatHistoryRequest::default()
        })
        .await
        .expect("history")
        .into_inner();
    let questions: Vec<&str> = history.turns.iter().map(|t| t.question.as_str()).collect();
    assert_eq!(questions, ["番茄鐘一個時段多久？", "那它是誰提出的？"]);
    assert!(!history.turns[0].citations.is_empty());
    rag.service.stop().await;
}

#[tokio::test]
async fn a_question_while_the_llm_is_down_is_unavailable_and_the_service_stays_up() {
    let mut rag = Rag::start("http://127.0.0.1:1", &[]).await;
    let status = rag
        .client
        .ask(question("番茄鐘一個時段多久？"))
        .await
        .expect_err("no embeddings");
    assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
    assert!(status.message().contains("LLM"), "{}", status.message());
    // Refusals still work: the service did not fall over.
    let empty = rag.client.ask(question("   ")).await.expect_err("empty");
    assert_eq!(empty.code(), tonic::Code::InvalidArgument);
    rag.service.stop().await;
}

#[tokio::test]
async fn the_generated_style_streams_the_models_tokens_after_the_citations() {
    let llm = LlmProcess::start().await;
    let mut rag = Rag::start(&llm.url, &[("PODWISE_RAG_ANSWERS", "generated")]).await;
    rag.ingest(small_library("ep-pomodoro", &SENTENCES)).await;

    let mut events = rag
        .client
        .ask_stream(question("番茄鐘一個時段多久？"))
        .await
        .expect("streamed")
        .into_inner();
    let mut kinds = Vec::new();
    let mut written = String::new();
    let mut done = None;
    while let Some(event) = events.next().await {
        match event.expect("an event").event.expect("set") {
            ask_event::Event::Citations(_) => kinds.push("citations"),
            ask_event::Event::Delta(text) => {
                kinds.push("delta");
                written.push_str(&text);
            }
            ask_event::Event::Done(answer) => {
                kinds.push("done");
                done = Some(answer);
            }
        }
    }
    let done = done.expect("a final answer");
    assert_eq!(kinds.first(), Some(&"citations"), "{kinds:?}");
    assert_eq!(kinds.last(), Some(&"done"), "{kinds:?}");
    assert!(
        kinds.iter().filter(|k| **k == "delta").count() > 1,
        "token by token: {kinds:?}"
    );
    assert_eq!(done.mode, AnswerMode::Generated as i32);
    assert_eq!(
        done.answer,
        written.trim(),
        "the answer is what was streamed"
    );
    assert!(!done.citations.is_empty());
    rag.service.stop().await;
}

#[tokio::test]
async fn an_episode_that_cannot_be_indexed_fails_alone() {
    let llm = LlmProcess::start().await;
    let mut rag = Rag::start(&llm.url, &[]).await;
    let mut request = small_library("ep-good", &SENTENCES);
    let mut hollow = request.podcasts[0].episodes[0].clone();
    hollow.id = "ep-hollow".into();
    hollow.title = "只有連結".into();
    // Nothing is left of this transcript once links and emoji are cleaned away.
    for segment in &mut hollow.segments {
        segment.text = "https://example.org/sponsor 🎉🎉".into();
    }
    request.podcasts[0].episodes.push(hollow);
    let jobs = rag
        .client
        .ingest_transcripts(request)
        .await
        .expect("accepted")
        .into_inner()
        .jobs;
    let good = rag.wait_for(&jobs[0].id, JobState::Done).await;
    let hollow = rag.wait_for(&jobs[1].id, JobState::Failed).await;
    assert_eq!(good.attempts, 1);
    assert_eq!(
        hollow.attempts, 1,
        "a retry cannot help, so none is made: {hollow:?}"
    );
    assert!(
        hollow.last_error.contains("nothing is left"),
        "{}",
        hollow.last_error
    );
    let failed = rag
        .client
        .list_jobs(ListJobsRequest {
            state: JobState::Failed as i32,
            ..ListJobsRequest::default()
        })
        .await
        .expect("jobs")
        .into_inner()
        .jobs;
    assert_eq!(failed.len(), 1);
    rag.service.stop().await;
}
