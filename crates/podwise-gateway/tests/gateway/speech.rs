//! The transcription routes, `POST /v1/audio/transcriptions` and
//! `POST /api/v1/stt/transcribe`, tested through HTTP against the real gateway, whose STT
//! service is a scripted stand-in on a real gRPC port.

mod double;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use podwise_common::ServiceError;
use podwise_common::server::ServiceServer;
use podwise_common::testing::settings_with;
use podwise_proto::common::v1::audio_input::Source;
use podwise_proto::stt::v1::stt_service_server::SttServiceServer;
use podwise_proto::stt::v1::{Segment, TranscribeRequest, TranscribeResponse, Word};
use serde_json::{Value, json};

use self::double::ScriptedStt;
use crate::harness::{Fronted, Gateway};

pub(crate) const BOUNDARY: &str = "podwise-test-boundary";

/// The gateway in front of a scripted STT service.
struct Speech {
    front: Fronted,
    seen: Arc<Mutex<Vec<TranscribeRequest>>>,
}

impl Speech {
    async fn start(reply: Result<TranscribeResponse, tonic::Status>) -> Self {
        Self::start_with(reply, &[]).await
    }

    async fn start_with(
        reply: Result<TranscribeResponse, tonic::Status>,
        extra: &[(&str, &str)],
    ) -> Self {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let double = ScriptedStt {
            reply,
            seen: seen.clone(),
        };
        let stand_in =
            ServiceServer::new("stt", Duration::from_secs(1)).grpc(SttServiceServer::new(double));
        let front = Fronted::start(stand_in, "STT_URL", extra).await;
        Self { front, seen }
    }

    async fn post(&self, path: &str, parts: &[Part<'_>]) -> reqwest::Response {
        reqwest::Client::new()
            .post(format!("{}{path}", self.front.base()))
            .header(
                "content-type",
                format!("multipart/form-data; boundary={BOUNDARY}"),
            )
            .body(multipart(parts))
            .send()
            .await
            .expect("the gateway answers")
    }

    fn seen(&self) -> Vec<TranscribeRequest> {
        self.seen.lock().expect("not poisoned").clone()
    }

    async fn stop(self) {
        self.front.stop().await;
    }
}

/// One part of a multipart body: a file or a text field, as raw bytes.
pub(crate) enum Part<'a> {
    File(&'a str, &'a [u8]),
    Field(&'a str, &'a [u8]),
}

pub(crate) fn multipart(parts: &[Part<'_>]) -> Vec<u8> {
    let mut body = Vec::new();
    for part in parts {
        body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        let (header, bytes) = match part {
            Part::File(name, bytes) => (
                format!(
                    "Content-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
                     Content-Type: audio/wav\r\n\r\n"
                ),
                bytes,
            ),
            Part::Field(name, bytes) => (
                format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n"),
                bytes,
            ),
        };
        body.extend_from_slice(header.as_bytes());
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

fn transcript() -> TranscribeResponse {
    TranscribeResponse {
        text: "Hello there. Welcome back.".to_owned(),
        language: "en".to_owned(),
        language_probability: 0.97,
        duration_seconds: 4.5,
        segments: vec![
            Segment {
                id: 0,
                start_seconds: 0.0,
                end_seconds: 1.5,
                text: " Hello there.".to_owned(),
                avg_logprob: -0.2,
                words: vec![Word {
                    text: " Hello".to_owned(),
                    start_seconds: 0.0,
                    end_seconds: 0.6,
                    probability: 0.9,
                }],
                tokens: vec![50364, 2425],
                ..Segment::default()
            },
            Segment {
                id: 1,
                start_seconds: 2.0,
                end_seconds: 4.5,
                text: " Welcome back.".to_owned(),
                ..Segment::default()
            },
        ],
        model: "whisper-base".to_owned(),
    }
}

const AUDIO: &[u8] = b"RIFF....WAVEfmt the bytes are the service's to judge";

async fn json_of(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON body"))
}

#[tokio::test]
async fn an_openai_upload_reaches_the_service_with_every_option() {
    let speech = Speech::start(Ok(transcript())).await;

    let response = speech
        .post(
            "/v1/audio/transcriptions",
            &[
                Part::File("question.wav", AUDIO),
                Part::Field("model", b"whisper-1"),
                Part::Field("language", b"zh"),
                Part::Field("prompt", "台積電, 新竹".as_bytes()),
                Part::Field("temperature", b"0.2"),
                Part::Field("response_format", b"verbose_json"),
                Part::Field("timestamp_granularities[]", b"word"),
                Part::Field("timestamp_granularities[]", b"segment"),
            ],
        )
        .await;

    let (status, body) = json_of(response).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["text"], "Hello there. Welcome back.");
    assert_eq!(body["duration"], 4.5);
    assert_eq!(body["segments"][0]["tokens"], json!([50364, 2425]));
    assert_eq!(body["words"][0]["word"], " Hello");
    let seen = speech.seen();
    assert_eq!(seen.len(), 1);
    let request = &seen[0];
    let audio = request.audio.as_ref().expect("audio sent");
    assert_eq!(audio.source, Some(Source::Data(AUDIO.to_vec())));
    assert_eq!(audio.format_hint, "question.wav");
    assert_eq!(
        (request.language.as_str(), request.prompt.as_str()),
        ("zh", "台積電, 新竹")
    );
    assert!(request.word_timestamps);
    assert!((request.temperature - 0.2).abs() < 1e-6);
    assert_eq!(request.model, "", "whisper-1 means the configured model");
    speech.stop().await;
}

#[tokio::test]
async fn each_response_format_has_its_shape_and_content_type() {
    let speech = Speech::start(Ok(transcript())).await;
    let ask = |format: &'static str| {
        let speech = &speech;
        async move {
            let response = speech
                .post(
                    "/v1/audio/transcriptions",
                    &[
                        Part::File("a.wav", AUDIO),
                        Part::Field("response_format", format.as_bytes()),
                    ],
                )
                .await;
            assert_eq!(response.status(), 200, "{format}");
            let content_type = response.headers()["content-type"]
                .to_str()
                .expect("ASCII")
                .to_owned();
            (content_type, response.text().await.expect("a body"))
        }
    };

    let (json_type, json) = ask("json").await;
    assert_eq!(json_type, "application/json");
    assert_eq!(json, r#"{"text":"Hello there. Welcome back."}"#);
    let (text_type, text) = ask("text").await;
    assert_eq!(
        (text_type.as_str(), text.as_str()),
        ("text/plain; charset=utf-8", "Hello there. Welcome back.\n")
    );
    let (_, srt) = ask("srt").await;
    assert!(srt.starts_with("1\n00:00:00,000 --> 00:00:01,500\nHello there.\n\n2\n"));
    let (vtt_type, vtt) = ask("vtt").await;
    assert_eq!(vtt_type, "text/vtt; charset=utf-8");
    assert!(vtt.starts_with("WEBVTT\n\n00:00:00.000 --> 00:00:01.500\n"));
    assert!(speech.seen().iter().all(|request| !request.word_timestamps));
    speech.stop().await;
}

#[tokio::test]
async fn the_product_route_answers_the_transcript_with_segments_and_words() {
    let speech = Speech::start(Ok(transcript())).await;

    let response = speech
        .post(
            "/api/v1/stt/transcribe",
            &[
                Part::File("q.mp3", AUDIO),
                Part::Field("word_timestamps", b"true"),
            ],
        )
        .await;

    let (status, body) = json_of(response).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["language"], "en");
    assert_eq!(body["model"], "whisper-base");
    assert_eq!(body["segments"][1]["start"], 2.0);
    assert_eq!(body["segments"][0]["words"][0]["end"], 0.6);
    assert!(speech.seen()[0].word_timestamps);
    speech.stop().await;
}

#[tokio::test]
async fn uploads_the_gateway_can_judge_are_refused_before_the_service_is_called() {
    let speech = Speech::start_with(
        Ok(transcript()),
        &[("PODWISE_STT_MAX_UPLOAD_BYTES", "4096")],
    )
    .await;
    let route = "/v1/audio/transcriptions";
    let big = vec![0u8; 8192];
    let cases: Vec<(Vec<Part<'_>>, u16, &str)> = vec![
        (vec![Part::Field("model", b"whisper-1")], 400, "field file"),
        (vec![Part::File("empty.wav", b"")], 400, "empty"),
        (vec![Part::File("big.wav", &big)], 413, "4096 bytes"),
        (
            vec![
                Part::File("a.wav", AUDIO),
                Part::Field("prompt", b"\xff\xfe"),
            ],
            400,
            "not valid UTF-8",
        ),
        (
            vec![Part::File("a.wav", AUDIO), Part::Field("beam_size", b"5")],
            400,
            "unsupported fields: beam_size",
        ),
        (
            vec![
                Part::File("a.wav", AUDIO),
                Part::Field("response_format", b"docx"),
            ],
            400,
            "response_format",
        ),
        (
            vec![
                Part::File("a.wav", AUDIO),
                Part::Field("temperature", b"1.5"),
            ],
            400,
            "temperature",
        ),
        (
            vec![
                Part::File("a.wav", AUDIO),
                Part::Field("timestamp_granularities[]", b"word"),
            ],
            400,
            "verbose_json",
        ),
        (
            vec![Part::File("a.wav", AUDIO), Part::File("b.wav", AUDIO)],
            400,
            "not several",
        ),
    ];

    for (parts, expected, mention) in cases {
        let (status, body) = json_of(speech.post(route, &parts).await).await;
        assert_eq!(status, expected, "{body}");
        let message = body["message"].as_str().expect("a message");
        assert!(
            message.contains(mention),
            "{message:?} should mention {mention:?}"
        );
    }
    assert!(
        speech.seen().is_empty(),
        "no bad upload reached the service"
    );
    speech.stop().await;
}

#[tokio::test]
async fn a_body_that_is_not_multipart_is_415() {
    let speech = Speech::start(Ok(transcript())).await;

    let response = reqwest::Client::new()
        .post(format!("{}/v1/audio/transcriptions", speech.front.base()))
        .json(&json!({"file": "audio.wav"}))
        .send()
        .await
        .expect("the gateway answers");

    let (status, body) = json_of(response).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (415, Some("unsupported_media_type"))
    );
    speech.stop().await;
}

#[tokio::test]
async fn the_services_refusal_keeps_its_status_and_reason() {
    let refusal = ServiceError::UnsupportedMediaType(
        "the audio is encoded with ALAC, which is not supported".to_owned(),
    );
    let speech = Speech::start(Err(refusal.into())).await;

    let response = speech
        .post("/api/v1/stt/transcribe", &[Part::File("a.m4a", AUDIO)])
        .await;

    let (status, body) = json_of(response).await;
    assert_eq!(status, 415, "{body}");
    assert!(body["message"].as_str().is_some_and(|m| m.contains("ALAC")));
    speech.stop().await;
}

#[tokio::test]
async fn an_unreachable_stt_service_is_503_with_retry_after() {
    let gateway = Gateway::start(&settings_with(&[("STT_URL", "http://127.0.0.1:9")])).await;

    let response = reqwest::Client::new()
        .post(format!("{}/api/v1/stt/transcribe", gateway.base))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(multipart(&[Part::File("a.wav", AUDIO)]))
        .send()
        .await
        .expect("the gateway answers");

    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
    gateway.stop().await;
}
