//! Ingestion of ready transcripts: jobs, idempotence, retries across an outage and a
//! restart, and refusals that store nothing.

use podwise_proto::rag::v1::{GetEpisodeVectorsRequest, GetJobRequest, JobState, ListJobsRequest};

use podwise_common::testing::free_port;

use crate::harness::{LlmProcess, Rag, small_library};

const SENTENCES: [&str; 6] = [
    "番茄鐘工作法把時間切成二十五分鐘的專注時段。",
    "每個時段結束後休息五分鐘，四個時段後休息比較久。",
    "這個方法由義大利人西里洛在一九八〇年代提出。",
    "它的名字來自一個番茄形狀的廚房計時器。",
    "研究發現短暫休息可以讓注意力恢復。",
    "使用番茄鐘時要先寫下今天最重要的三件事。",
];

async fn chunk_counts(rag: &mut Rag) -> Vec<(String, u32)> {
    let mut counts: Vec<(String, u32)> = rag
        .client
        .get_episode_vectors(GetEpisodeVectorsRequest::default())
        .await
        .expect("vectors")
        .into_inner()
        .episodes
        .into_iter()
        .map(|e| (e.episode_id, e.chunk_count))
        .collect();
    counts.sort();
    counts
}

#[tokio::test]
async fn reingesting_an_episode_replaces_its_chunks_and_never_duplicates_them() {
    let llm = LlmProcess::start().await;
    let mut rag = Rag::start(&llm.url, &[]).await;

    let first = rag.ingest(small_library("ep-pomodoro", &SENTENCES)).await;
    let counts = chunk_counts(&mut rag).await;
    assert_eq!(counts.len(), 1);
    assert!(counts[0].1 >= 1);

    let second = rag.ingest(small_library("ep-pomodoro", &SENTENCES)).await;
    assert_eq!(
        first[0].episode_id, second[0].episode_id,
        "the same episode, not a new one"
    );
    assert_eq!(
        chunk_counts(&mut rag).await,
        counts,
        "the same chunks, not twice as many"
    );

    // A shorter transcript leaves no chunk of the longer one behind.
    rag.ingest(small_library("ep-pomodoro", &SENTENCES[..1]))
        .await;
    assert_eq!(chunk_counts(&mut rag).await, vec![(counts[0].0.clone(), 1)]);
    rag.service.stop().await;
}

#[tokio::test]
async fn a_job_failing_while_the_llm_is_down_is_retried_across_a_restart_without_half_state() {
    let llm_port = free_port();
    let llm_url = format!("http://127.0.0.1:{llm_port}");
    let settings = podwise_common::testing::settings_with(&[
        ("LLM_URL", &llm_url),
        ("PODWISE_RAG_INGEST_RETRY_DELAY_MS", "200"),
        ("PODWISE_RAG_INGEST_ATTEMPTS", "50"),
    ]);
    let mut rag = Rag::start_with(settings.clone()).await;
    let job = rag
        .client
        .ingest_transcripts(small_library("ep-outage", &SENTENCES))
        .await
        .expect("accepted")
        .into_inner()
        .jobs
        .remove(0);

    // With nothing on the LLM's port, attempts fail and are queued again.
    let failed = loop {
        let seen = rag
            .client
            .get_job(GetJobRequest { id: job.id.clone() })
            .await
            .expect("job")
            .into_inner();
        if seen.attempts >= 2 && seen.state == JobState::Queued as i32 {
            break seen;
        }
        assert_ne!(
            seen.state,
            JobState::Done as i32,
            "it cannot be done without embeddings"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert!(failed.last_error.contains("LLM"), "{}", failed.last_error);
    assert!(
        chunk_counts(&mut rag).await.is_empty(),
        "nothing half-indexed"
    );

    // The service restarts (state is in the catalog) and the LLM comes up.
    rag.service.stop().await;
    let llm = LlmProcess::start_on(llm_port).await;
    let mut rag = Rag::start_with(settings).await;
    let done = rag.wait_for(&job.id, JobState::Done).await;
    assert!(done.attempts > failed.attempts);
    assert!(
        done.last_error.is_empty(),
        "a success clears the error: {done:?}"
    );
    assert_eq!(chunk_counts(&mut rag).await.len(), 1);
    rag.service.stop().await;
    drop(llm);
}

#[tokio::test]
async fn a_malformed_library_is_refused_with_its_reason_and_nothing_is_stored() {
    // No LLM is needed to refuse.
    let mut rag = Rag::start("http://127.0.0.1:1", &[]).await;
    let mut request = small_library("ep-bad", &SENTENCES);
    request.podcasts[0].category = "cooking".into();
    let status = rag
        .client
        .ingest_transcripts(request)
        .await
        .expect_err("refused");
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert!(status.message().contains("cooking"), "{}", status.message());

    let mut request = small_library("ep-bad", &SENTENCES);
    request.podcasts[0].episodes[0].segments[2].end_seconds = -1.0;
    let status = rag
        .client
        .ingest_transcripts(request)
        .await
        .expect_err("refused");
    assert!(
        status.message().contains("segment 2"),
        "{}",
        status.message()
    );

    let jobs = rag
        .client
        .list_jobs(ListJobsRequest::default())
        .await
        .expect("jobs")
        .into_inner()
        .jobs;
    assert!(jobs.is_empty(), "{jobs:?}");

    let unknown = rag
        .client
        .get_job(GetJobRequest {
            id: "no-such-job".into(),
        })
        .await
        .expect_err("unknown");
    assert_eq!(unknown.code(), tonic::Code::NotFound);
    rag.service.stop().await;
}
