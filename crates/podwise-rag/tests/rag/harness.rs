//! What the tests run against: the real LLM service as a child process (the binary that
//! `cargo build --workspace --bins` made next to this crate's), and the rag service
//! in-process on a free port, on embedded stores in a fresh directory.

use std::path::Path;
use std::time::{Duration, Instant};

use podwise_common::settings::{ServiceName, Settings};
use podwise_common::testing::{
    RunningService, ServiceProcess, channel, free_port, settings_with, spawn,
};
use podwise_proto::rag::v1::rag_service_client::RagServiceClient;
use podwise_proto::rag::v1::{
    EpisodeTranscript, GetJobRequest, IngestTranscriptsRequest, IngestionJob, JobState,
    PodcastTranscripts, TimedText,
};
use serde::Deserialize;
use tonic::transport::Channel;

/// How long the LLM child may take to load its models.
const LLM_START: Duration = Duration::from_secs(90);
/// How long indexing a fixture may take.
const INDEXING: Duration = Duration::from_secs(300);

/// The LLM service running as its own process; killed when dropped.
pub struct LlmProcess {
    _process: ServiceProcess,
    pub url: String,
    _data: tempfile::TempDir,
}

/// Where `cargo build --workspace --bins` put the service binaries.
pub fn bin_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_BIN_EXE_podwise-rag"))
        .parent()
        .expect("binary directory")
        .to_owned()
}

impl LlmProcess {
    pub async fn start() -> Self {
        Self::start_on(free_port()).await
    }

    /// Starts the LLM service on `port` and waits until it is ready.
    pub async fn start_on(port: u16) -> Self {
        let bin_dir = Path::new(env!("CARGO_BIN_EXE_podwise-rag"))
            .parent()
            .expect("binary directory")
            .to_owned();
        let data = tempfile::tempdir().expect("temp dir");
        let process = ServiceProcess::start(
            &bin_dir,
            ServiceName::Llm,
            port,
            data.path(),
            &[],
            LLM_START,
        )
        .await;
        Self {
            url: process.url.clone(),
            _process: process,
            _data: data,
        }
    }
}

/// The rag service with the real LLM and STT services beside it, all on one embedded data
/// directory (the STT service reads the audio the rag service stores).
pub struct WithSpeech {
    pub rag: Rag,
    _stt: ServiceProcess,
    _llm: LlmProcess,
    _data: tempfile::TempDir,
}

impl WithSpeech {
    pub async fn start() -> Self {
        let data = tempfile::tempdir().expect("temp dir");
        let llm = LlmProcess::start().await;
        let stt = ServiceProcess::start(
            &bin_dir(),
            ServiceName::Stt,
            free_port(),
            data.path(),
            &[],
            Duration::from_secs(120),
        )
        .await;
        let settings = settings_with(&[
            ("PODWISE_DATA_DIR", data.path().to_str().expect("UTF-8")),
            ("LLM_URL", &llm.url),
            ("STT_URL", &stt.url),
        ]);
        Self {
            rag: Rag::start_with(settings).await,
            _stt: stt,
            _llm: llm,
            _data: data,
        }
    }
}

/// The rag service in-process.
pub struct Rag {
    pub service: RunningService,
    pub client: RagServiceClient<Channel>,
    /// What it runs with: tests open the same embedded stores through it.
    pub settings: Settings,
}

impl Rag {
    /// Starts the service against the LLM at `llm_url`, with `extra` settings on top.
    pub async fn start(llm_url: &str, extra: &[(&str, &str)]) -> Self {
        let mut pairs = vec![
            ("LLM_URL", llm_url),
            ("PODWISE_RAG_INGEST_RETRY_DELAY_MS", "200"),
        ];
        pairs.extend_from_slice(extra);
        Self::start_with(settings_with(&pairs)).await
    }

    pub async fn start_with(settings: Settings) -> Self {
        let service = spawn(podwise_rag::build(&settings).await.expect("build"));
        let client = RagServiceClient::new(channel(service.addr))
            .max_decoding_message_size(64 * 1024 * 1024)
            .max_encoding_message_size(64 * 1024 * 1024);
        Self {
            service,
            client,
            settings,
        }
    }

    /// Ingests `request` and waits until every job is done (or fails the test).
    pub async fn ingest(&mut self, request: IngestTranscriptsRequest) -> Vec<IngestionJob> {
        let jobs = self
            .client
            .ingest_transcripts(request)
            .await
            .expect("ingest")
            .into_inner()
            .jobs;
        let mut done = Vec::with_capacity(jobs.len());
        for job in jobs {
            done.push(self.wait_for(&job.id, JobState::Done).await);
        }
        done
    }

    /// Waits until job `id` reaches `state`; fails the test if it ends otherwise.
    pub async fn wait_for(&mut self, id: &str, state: JobState) -> IngestionJob {
        let started = Instant::now();
        loop {
            let job = self
                .client
                .get_job(GetJobRequest { id: id.to_owned() })
                .await
                .expect("job")
                .into_inner();
            if job.state == state as i32 {
                return job;
            }
            let ended = [JobState::Done as i32, JobState::Failed as i32].contains(&job.state);
            assert!(!ended, "job {id} ended as {job:?}, not {state:?}");
            assert!(started.elapsed() < INDEXING, "job {id} still {job:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// The test library in `tests/fixtures/library.json`, in the shape of the ingestion API.
#[derive(Debug, Deserialize)]
pub struct Fixture {
    pub podcasts: Vec<FixturePodcast>,
}

#[derive(Debug, Deserialize)]
pub struct FixturePodcast {
    pub id: String,
    pub title: String,
    pub category: String,
    pub language: String,
    pub episodes: Vec<FixtureEpisode>,
}

#[derive(Debug, Deserialize)]
pub struct FixtureEpisode {
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub published: String,
    pub segments: Vec<FixtureSegment>,
}

#[derive(Debug, Deserialize)]
pub struct FixtureSegment {
    pub start: f64,
    pub end: f64,
    pub text: String,
}

pub fn fixture() -> Fixture {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/library.json");
    let text = std::fs::read_to_string(&path).expect("the library fixture");
    serde_json::from_str(&text).expect("the library fixture parses")
}

impl Fixture {
    pub fn request(&self) -> IngestTranscriptsRequest {
        IngestTranscriptsRequest {
            podcasts: self
                .podcasts
                .iter()
                .map(|p| PodcastTranscripts {
                    id: p.id.clone(),
                    title: p.title.clone(),
                    category: p.category.clone(),
                    language: p.language.clone(),
                    episodes: p
                        .episodes
                        .iter()
                        .map(|e| EpisodeTranscript {
                            id: e.id.clone(),
                            title: e.title.clone(),
                            published: e.published.clone(),
                            segments: e
                                .segments
                                .iter()
                                .map(|s| TimedText {
                                    start_seconds: s.start,
                                    end_seconds: s.end,
                                    text: s.text.clone(),
                                })
                                .collect(),
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect(),
        }
    }
}

/// A one-podcast, one-episode library of `sentences`, ten seconds each.
pub fn small_library(episode_id: &str, sentences: &[&str]) -> IngestTranscriptsRequest {
    IngestTranscriptsRequest {
        podcasts: vec![PodcastTranscripts {
            id: "pod-small".into(),
            title: "小測試".into(),
            category: "education".into(),
            language: "zh-TW".into(),
            episodes: vec![EpisodeTranscript {
                id: episode_id.into(),
                title: "測試單集".into(),
                segments: sentences
                    .iter()
                    .enumerate()
                    .map(|(i, text)| TimedText {
                        start_seconds: i as f64 * 10.0,
                        end_seconds: i as f64 * 10.0 + 9.5,
                        text: (*text).to_owned(),
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}
