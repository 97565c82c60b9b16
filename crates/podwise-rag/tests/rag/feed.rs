//! Ingestion of an RSS feed served over HTTP on loopback: the show and each episode with
//! audio are queued, the audio downloaded, transcribed by the real STT service and
//! indexed; reading the feed again changes nothing; what is not a feed is refused.

use podwise_proto::rag::v1::{IngestFeedRequest, JobState, SearchRequest, ingest_feed_request};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::audio::speech;
use crate::harness::{Rag, WithSpeech};

/// Serves `/feed.xml`, `/canal.wav` and `/page.html` on a free loopback port.
async fn serve_feed() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let feed = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel>
  <title>The History Classroom</title>
  <language>en</language>
  <item>
    <guid>canal-1914</guid>
    <title>The Canal</title>
    <pubDate>Mon, 01 Apr 2024 08:00:00 GMT</pubDate>
    <enclosure url="{base}/canal.wav" type="audio/wav" length="1"/>
  </item>
  <item><guid>notes-only</guid><title>Show notes, no audio</title></item>
</channel></rss>"#
    );
    let audio = speech();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let (feed, audio) = (feed.clone(), audio.clone());
            tokio::spawn(async move {
                let mut request = vec![0u8; 4096];
                let read = socket.read(&mut request).await.unwrap_or(0);
                let request = String::from_utf8_lossy(&request[..read]);
                let path = request.split_whitespace().nth(1).unwrap_or("/");
                let (kind, body) = match path {
                    "/feed.xml" => ("application/rss+xml", feed.into_bytes()),
                    "/canal.wav" => ("audio/wav", audio),
                    _ => (
                        "text/html",
                        b"<html><body>a web page</body></html>".to_vec(),
                    ),
                };
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: {kind}\r\ncontent-length: {}\r\n\
                     connection: close\r\n\r\n",
                    body.len()
                );
                let _ = socket.write_all(head.as_bytes()).await;
                let _ = socket.write_all(&body).await;
            });
        }
    });
    base
}

fn by_url(url: String) -> IngestFeedRequest {
    IngestFeedRequest {
        source: Some(ingest_feed_request::Source::Url(url)),
        category: "education".into(),
        ..IngestFeedRequest::default()
    }
}

#[tokio::test]
async fn a_feeds_episodes_are_downloaded_transcribed_and_indexed_once() {
    let base = serve_feed().await;
    let mut speech_services = WithSpeech::start().await;
    let rag = &mut speech_services.rag;

    let jobs = rag
        .client
        .ingest_feed(by_url(format!("{base}/feed.xml")))
        .await
        .expect("accepted")
        .into_inner()
        .jobs;
    assert_eq!(jobs.len(), 1, "only the episode with audio: {jobs:?}");
    let done = rag.wait_for(&jobs[0].id, JobState::Done).await;

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
    assert_eq!(hit.podcast_title, "The History Classroom");
    assert!(hit.audio_object_key.ends_with(".wav"), "{hit:?}");
    assert!(!hit.preview_object_key.is_empty(), "{hit:?}");

    let again = rag
        .client
        .ingest_feed(by_url(format!("{base}/feed.xml")))
        .await
        .expect("accepted")
        .into_inner()
        .jobs;
    assert_eq!(
        again[0].episode_id, done.episode_id,
        "the same episode, not a second one"
    );
    rag.wait_for(&again[0].id, JobState::Done).await;
    speech_services.rag.service.stop().await;
}

#[tokio::test]
async fn what_is_not_a_feed_is_refused_with_the_reason() {
    let base = serve_feed().await;
    let mut rag = Rag::start("http://127.0.0.1:1", &[]).await;
    for (request, expected) in [
        (
            by_url(format!("{base}/page.html")),
            "not an RSS or Atom feed",
        ),
        (
            by_url("ftp://example.org/feed.xml".into()),
            "not an http or https URL",
        ),
        (
            IngestFeedRequest {
                source: Some(ingest_feed_request::Source::FeedXml(
                    b"{\"json\": 1}".to_vec(),
                )),
                category: "education".into(),
                ..IngestFeedRequest::default()
            },
            "not an RSS or Atom feed",
        ),
        (
            IngestFeedRequest {
                category: "education".into(),
                ..IngestFeedRequest::default()
            },
            "url or its XML",
        ),
        (
            IngestFeedRequest {
                category: "cooking".into(),
                ..by_url(format!("{base}/feed.xml"))
            },
            "cooking",
        ),
    ] {
        let status = rag.client.ingest_feed(request).await.expect_err("refused");
        assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
        assert!(status.message().contains(expected), "{}", status.message());
    }
    rag.service.stop().await;
}
