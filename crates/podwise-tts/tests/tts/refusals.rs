//! Every bad request gets INVALID_ARGUMENT (a 400 at the gateway) naming what to change,
//! before any engine runs; none makes the service fail.

use std::sync::atomic::Ordering;

use podwise_common::ServiceError;
use podwise_proto::tts::v1::{AudioFormat, SynthesizeRequest};
use tonic::Code;

use crate::cache::start_counting;
use crate::helpers;

/// A request for `text` in the stand-in's voice.
fn ask(text: &str) -> SynthesizeRequest {
    helpers::ask(text, "tone")
}

#[tokio::test]
async fn each_bad_request_is_refused_with_its_reason() {
    let (service, mut client, engine) = start_counting(&[("PODWISE_TTS_MAX_CHARS", "50")]).await;
    let long = "字".repeat(51);
    let cases: Vec<(SynthesizeRequest, &str)> = vec![
        (ask(""), "text is empty"),
        (
            SynthesizeRequest {
                text: b"caf\xc3 ok".to_vec(),
                ..ask("")
            },
            "not UTF-8 (invalid byte at offset 3)",
        ),
        (ask(" \n\t "), "text is empty"),
        (ask("…！？ ..."), "no letters"),
        (ask(&long), "51 characters long; at most 50"),
        (
            SynthesizeRequest {
                voice: "alloy".to_owned(),
                ..ask("hi")
            },
            "tone, han",
        ),
        (
            SynthesizeRequest {
                speed: 2.5,
                ..ask("hi")
            },
            "between 0.5 and 2",
        ),
        (
            SynthesizeRequest {
                speed: 0.1,
                ..ask("hi")
            },
            "speed",
        ),
        (
            SynthesizeRequest {
                speed: f32::NAN,
                ..ask("hi")
            },
            "speed",
        ),
        (
            SynthesizeRequest {
                pitch: 11.0,
                ..ask("hi")
            },
            "semitones",
        ),
        (
            SynthesizeRequest {
                pitch: f32::INFINITY,
                ..ask("hi")
            },
            "pitch",
        ),
        (
            SynthesizeRequest {
                sample_rate_hz: 4_000,
                ..ask("hi")
            },
            "between 8000 and 48000",
        ),
        (
            SynthesizeRequest {
                sample_rate_hz: 96_000,
                ..ask("hi")
            },
            "sample_rate_hz",
        ),
        (
            SynthesizeRequest {
                format: AudioFormat::Mp3.into(),
                ..ask("hi")
            },
            "MP3",
        ),
        (
            SynthesizeRequest {
                format: AudioFormat::OggOpus.into(),
                ..ask("hi")
            },
            "wav, pcm, flac",
        ),
        (
            SynthesizeRequest {
                format: 42,
                ..ask("hi")
            },
            "not a known format",
        ),
    ];

    for (request, mention) in cases {
        for streamed in [false, true] {
            let status = if streamed {
                client
                    .synthesize_stream(request.clone())
                    .await
                    .map(|_| ())
                    .expect_err("refused")
            } else {
                client
                    .synthesize(request.clone())
                    .await
                    .map(|_| ())
                    .expect_err("refused")
            };
            assert_eq!(
                status.code(),
                Code::InvalidArgument,
                "{request:?}: {status:?}"
            );
            assert!(
                status.message().contains(mention),
                "{:?} should mention {mention:?}",
                status.message()
            );
            let error = ServiceError::from_status(&status);
            assert_eq!(error.http_status(), 400, "{request:?}");
        }
    }
    assert_eq!(engine.calls.load(Ordering::SeqCst), 0, "no engine ran");
    service.stop().await;
}

#[tokio::test]
async fn control_characters_are_spoken_around_not_refused() {
    let (service, mut client, engine) = start_counting(&[]).await;

    let reply = client
        .synthesize(ask("a\u{0}b\u{1b}c"))
        .await
        .expect("audio")
        .into_inner();

    assert!(reply.duration_seconds > 0.0);
    assert_eq!(engine.calls.load(Ordering::SeqCst), 1);
    service.stop().await;
}

#[tokio::test]
async fn a_full_queue_answers_unavailable_with_a_retry_delay() {
    let (service, mut client, _engine) = start_counting(&[("PODWISE_TTS_QUEUE_DEPTH", "1")]).await;

    // A stream that is not read holds its place in the queue, as long as its audio does
    // not fit in HTTP/2's flow-control windows (a few megabytes): a short answer would be
    // sent whole into them and give its place back before the next request came.
    let text = "One. Two. Three. Four. Five. Six. Seven. Eight. ".repeat(80);
    let long = SynthesizeRequest {
        sample_rate_hz: 48_000,
        ..ask(&text)
    };
    let held = client.synthesize_stream(long).await.expect("a stream");
    let status = client
        .synthesize(ask("Next."))
        .await
        .expect_err("queue full");

    assert_eq!(status.code(), Code::Unavailable);
    assert_eq!(ServiceError::from_status(&status).http_status(), 503);
    assert!(status.metadata().get("retry-after").is_some());
    drop(held);
    service.stop().await;
}
