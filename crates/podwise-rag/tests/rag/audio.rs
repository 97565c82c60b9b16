//! Ingestion of an episode's audio, through the real STT service (its binary, sharing the
//! object store): stored, cut to a preview, transcribed with times, indexed, found; and
//! what is not audio is refused before anything is stored.

use std::process::Command;

use podwise_common::stores::catalog::Catalog;
use podwise_proto::common::v1::AudioInput;
use podwise_proto::common::v1::audio_input::Source;
use podwise_proto::rag::v1::{IngestAudioRequest, JobState, ListJobsRequest, SearchRequest};

use crate::harness::{Rag, WithSpeech};

const SPOKEN: &str = "The Panama Canal opened in nineteen fourteen. Ships save about eight \
                      thousand miles by crossing it instead of sailing around South America.";

/// English speech as espeak-ng says it, a WAV of a few seconds. Written to a file, since
/// on a pipe espeak-ng cannot go back to fill in the WAV's sizes.
pub(crate) fn speech() -> Vec<u8> {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("speech.wav");
    let status = Command::new("espeak-ng")
        .args(["-v", "en", "-w"])
        .arg(&path)
        .arg(SPOKEN)
        .status()
        .expect("espeak-ng runs (scripts/install-test-tools.sh installs it)");
    assert!(status.success(), "espeak-ng failed");
    std::fs::read(&path).expect("the speech")
}

fn request(audio: Source) -> IngestAudioRequest {
    IngestAudioRequest {
        podcast_id: "pod-history".into(),
        podcast_title: "The History Classroom".into(),
        category: "education".into(),
        language: "en".into(),
        episode_id: "ep-canal".into(),
        episode_title: "The Canal".into(),
        published: "2024-04-01".into(),
        audio: Some(AudioInput {
            source: Some(audio),
            format_hint: String::new(),
        }),
        ..IngestAudioRequest::default()
    }
}

#[tokio::test]
async fn an_episodes_audio_is_stored_previewed_transcribed_indexed_and_found() {
    let mut speech_services = WithSpeech::start().await;
    let rag = &mut speech_services.rag;

    let wav = speech();
    // 16-bit mono: the sample bytes after the 44-byte header, two per sample.
    let wav_ms = (wav.len() - 44) as i64 / 2 * 1000 / 22_050;
    let job = rag
        .client
        .ingest_audio(request(Source::Data(wav)))
        .await
        .expect("accepted")
        .into_inner()
        .jobs
        .remove(0);
    let done = rag.wait_for(&job.id, JobState::Done).await;
    assert_eq!(done.attempts, 1, "{done:?}");

    let hits = rag
        .client
        .search(SearchRequest {
            query: "When did the Panama Canal open?".into(),
            k: 3,
            ..SearchRequest::default()
        })
        .await
        .expect("search")
        .into_inner()
        .hits;
    let hit = hits.first().expect("the episode is found");
    assert_eq!(hit.episode_title, "The Canal");
    assert!(hit.snippet.to_lowercase().contains("canal"), "{hit:?}");
    let span = hit.span.expect("a span");
    assert!(
        span.start_seconds >= 0.0 && span.end_seconds > span.start_seconds,
        "{span:?}"
    );
    assert_eq!(hit.audio_object_key, "audio/pod-history/ep-canal.wav");
    assert_eq!(
        hit.preview_object_key,
        format!("previews/{}.wav", hit.episode_id)
    );
    // The catalog learns the episode's length from the transcription.
    let catalog = Catalog::open(&rag.settings).await.expect("catalog");
    let episode = catalog.episode(&hit.episode_id).await.expect("episode");
    let duration = episode.duration_ms.expect("a duration");
    assert!(
        (duration - wav_ms).abs() <= 50,
        "{duration} ms for {wav_ms} ms of audio"
    );
    assert!(episode.preview_key.is_some(), "the preview is kept");
    speech_services.rag.service.stop().await;
}

#[tokio::test]
async fn what_is_not_audio_or_not_there_is_refused_and_nothing_is_queued() {
    let mut rag = Rag::start("http://127.0.0.1:1", &[]).await;
    let not_audio = rag
        .client
        .ingest_audio(request(Source::Data(b"<html>a web page</html>".to_vec())))
        .await
        .expect_err("refused");
    assert_eq!(
        not_audio.code(),
        tonic::Code::InvalidArgument,
        "{not_audio:?}"
    );
    assert!(
        not_audio.message().contains("not audio"),
        "{}",
        not_audio.message()
    );

    let missing = rag
        .client
        .ingest_audio(request(Source::ObjectKey("audio/nothing-here.wav".into())))
        .await
        .expect_err("refused");
    assert_eq!(missing.code(), tonic::Code::NotFound, "{missing:?}");

    let mut nameless = request(Source::Data(speech()));
    nameless.episode_title.clear();
    let refused = rag
        .client
        .ingest_audio(nameless)
        .await
        .expect_err("refused");
    assert!(refused.message().contains("title"), "{}", refused.message());

    let jobs = rag
        .client
        .list_jobs(ListJobsRequest::default())
        .await
        .expect("jobs")
        .into_inner()
        .jobs;
    assert!(jobs.is_empty(), "{jobs:?}");
    rag.service.stop().await;
}
