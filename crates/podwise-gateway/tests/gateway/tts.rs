//! The speech routes, `POST /v1/audio/speech`, `POST /api/v1/tts/synthesize` and
//! `GET /api/v1/tts/voices`, tested through HTTP against the real gateway, whose TTS
//! service is a scripted stand-in on a real gRPC port.

mod double;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use podwise_common::ServiceError;
use podwise_common::server::ServiceServer;
use podwise_common::testing::settings_with;
use podwise_proto::tts::v1::tts_service_server::TtsServiceServer;
use podwise_proto::tts::v1::{AudioChunk, AudioFormat, SynthesizeRequest};
use serde_json::{Value, json};

use self::double::ScriptedTts;
use crate::harness::{Fronted, Gateway};

/// The gateway in front of a scripted TTS service.
struct Speech {
    front: Fronted,
    seen: Arc<Mutex<Vec<SynthesizeRequest>>>,
}

impl Speech {
    async fn start(chunks: Vec<Result<AudioChunk, tonic::Status>>) -> Self {
        Self::start_with(chunks, None, &[]).await
    }

    async fn start_with(
        chunks: Vec<Result<AudioChunk, tonic::Status>>,
        refusal: Option<tonic::Status>,
        extra: &[(&str, &str)],
    ) -> Self {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let double = ScriptedTts {
            chunks,
            refusal,
            seen: seen.clone(),
        };
        let stand_in =
            ServiceServer::new("tts", Duration::from_secs(1)).grpc(TtsServiceServer::new(double));
        let front = Fronted::start(stand_in, "TTS_URL", extra).await;
        Self { front, seen }
    }

    async fn post(&self, path: &str, body: &Value) -> reqwest::Response {
        self.post_raw(path, "application/json", body.to_string().into_bytes())
            .await
    }

    async fn post_raw(&self, path: &str, content_type: &str, body: Vec<u8>) -> reqwest::Response {
        reqwest::Client::new()
            .post(format!("{}{path}", self.front.base()))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("the gateway answers")
    }

    fn seen(&self) -> Vec<SynthesizeRequest> {
        self.seen.lock().expect("not poisoned").clone()
    }

    async fn stop(self) {
        self.front.stop().await;
    }
}

/// Three chunks of a WAV stream: a header and two sentences of samples.
fn wav_chunks() -> Vec<Result<AudioChunk, tonic::Status>> {
    let chunk = |index: u32, data: &[u8], last: bool| {
        Ok(AudioChunk {
            data: data.to_vec(),
            index,
            content_type: "audio/wav".to_owned(),
            sample_rate_hz: 22_050,
            last,
            voice: "joe".to_owned(),
            cached: true,
        })
    };
    vec![
        chunk(0, b"RIFF-header-and-first-sentence", false),
        chunk(1, b"-second", false),
        chunk(2, b"-third", true),
    ]
}

const WHOLE: &[u8] = b"RIFF-header-and-first-sentence-second-third";

async fn json_of(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON body"))
}

#[tokio::test]
async fn an_openai_speech_request_streams_the_audio_with_its_content_type() {
    let speech = Speech::start(wav_chunks()).await;

    let response = speech
        .post(
            "/v1/audio/speech",
            &json!({"model": "tts-1", "input": "Hello there.", "voice": "alloy",
                    "response_format": "wav", "speed": 1.25}),
        )
        .await;

    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "audio/wav");
    assert_eq!(response.headers()["x-podwise-voice"], "joe");
    assert_eq!(response.headers()["x-podwise-cached"], "true");
    assert_eq!(response.bytes().await.expect("a body"), WHOLE);
    let seen = speech.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].text, b"Hello there.");
    assert_eq!(
        seen[0].voice, "",
        "alloy means the voice for the text's language"
    );
    assert!((seen[0].speed - 1.25).abs() < 1e-6);
    assert_eq!(seen[0].format(), AudioFormat::Wav);
    speech.stop().await;
}

#[tokio::test]
async fn the_product_route_takes_relative_speeds_pitch_rate_and_format() {
    let speech = Speech::start(wav_chunks()).await;

    let response = speech
        .post(
            "/api/v1/tts/synthesize",
            &json!({"text": "你好", "voice": "podrina", "speed": "+20%", "pitch": -2,
                    "sample_rate": 16000, "format": "flac"}),
        )
        .await;

    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-podwise-sample-rate"], "22050");
    assert_eq!(response.bytes().await.expect("a body"), WHOLE);
    let request = &speech.seen()[0];
    assert_eq!(
        (request.text.as_slice(), request.voice.as_str()),
        ("你好".as_bytes(), "podrina")
    );
    assert!((request.speed - 1.2).abs() < 1e-6);
    assert!((request.pitch + 2.0).abs() < 1e-6);
    assert_eq!(request.sample_rate_hz, 16_000);
    assert_eq!(request.format(), AudioFormat::Flac);
    speech.stop().await;
}

#[tokio::test]
async fn the_voice_list_is_relayed() {
    let speech = Speech::start(wav_chunks()).await;

    let response = reqwest::get(format!("{}/api/v1/tts/voices", speech.front.base()))
        .await
        .expect("the gateway answers");

    let (status, body) = json_of(response).await;
    assert_eq!(status, 200);
    assert_eq!(body["voices"][0]["id"], "podrina");
    assert_eq!(body["voices"][0]["language"], "zh-TW");
    assert_eq!(body["voices"][0]["native_sample_rate_hz"], 22_050);
    speech.stop().await;
}

#[tokio::test]
async fn bad_speech_requests_are_refused_before_the_service_is_called() {
    let speech =
        Speech::start_with(wav_chunks(), None, &[("PODWISE_MAX_BODY_BYTES", "2048")]).await;
    let openai = "/v1/audio/speech";
    let product = "/api/v1/tts/synthesize";
    let cases: Vec<(&str, Value, u16, &str)> = vec![
        (
            openai,
            json!({"input": "hi", "response_format": "mp3"}),
            400,
            "no pure-Rust encoder",
        ),
        (
            openai,
            json!({"input": "hi", "response_format": "opus"}),
            400,
            "use wav, pcm or flac",
        ),
        (
            openai,
            json!({"input": "hi", "response_format": "ogg"}),
            400,
            "not one of",
        ),
        (
            openai,
            json!({"input": "hi", "model": "gpt-9"}),
            400,
            "tts-1",
        ),
        (
            openai,
            json!({"input": "hi", "instructions": "whisper"}),
            400,
            "instructions",
        ),
        (
            openai,
            json!({"input": "hi", "stream_format": "sse"}),
            400,
            "stream_format",
        ),
        (openai, json!({"voice": "alloy"}), 422, "input"),
        (openai, json!({"input": 5}), 422, "does not fit"),
        (
            openai,
            json!({"input": "hi", "beam": 2}),
            422,
            "unknown field",
        ),
        (
            product,
            json!({"text": "hi", "speed": "fast"}),
            400,
            "\"+20%\"",
        ),
        (product, json!({"text": "hi", "speed": "20%"}), 400, "speed"),
        (product, json!({"text": "hi", "format": "mp3"}), 400, "mp3"),
        (
            product,
            json!({"text": "x".repeat(4000)}),
            413,
            "2048 bytes",
        ),
    ];
    for (path, body, expected, mention) in cases {
        let (status, answer) = json_of(speech.post(path, &body).await).await;
        assert_eq!(status, expected, "{path} {body}: {answer}");
        let message = answer["message"].as_str().expect("a message");
        assert!(
            message.contains(mention),
            "{message:?} should mention {mention:?}"
        );
    }

    let raw: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        (
            "application/json",
            b"{\"input\": \"\xff\xfe\"}".to_vec(),
            400,
            "not UTF-8",
        ),
        ("application/json", b"{".to_vec(), 400, "not valid JSON"),
        ("text/plain", b"hello".to_vec(), 415, "application/json"),
    ];
    for (content_type, body, expected, mention) in raw {
        for path in [openai, product] {
            let (status, answer) =
                json_of(speech.post_raw(path, content_type, body.clone()).await).await;
            assert_eq!(status, expected, "{path}: {answer}");
            let message = answer["message"].as_str().expect("a message");
            assert!(
                message.contains(mention),
                "{message:?} should mention {mention:?}"
            );
        }
    }
    assert!(
        speech.seen().is_empty(),
        "no bad request reached the service"
    );
    speech.stop().await;
}

#[tokio::test]
async fn the_services_refusal_keeps_its_status_and_reason() {
    let refusal = ServiceError::InvalidArgument(
        "voice \"nobody\" is not known; the voices are podrina, podrino, joe".to_owned(),
    );
    let speech = Speech::start_with(Vec::new(), Some(refusal.into()), &[]).await;

    let response = speech
        .post(
            "/v1/audio/speech",
            &json!({"input": "hi", "voice": "nobody"}),
        )
        .await;

    let (status, body) = json_of(response).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("invalid_argument"))
    );
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("podrina, podrino, joe"))
    );
    assert_eq!(speech.seen()[0].voice, "nobody");
    speech.stop().await;
}

#[tokio::test]
async fn a_busy_or_unreachable_tts_service_is_503_with_retry_after() {
    let busy = Speech::start_with(
        Vec::new(),
        Some(ServiceError::unavailable("8 syntheses are in progress").into()),
        &[],
    )
    .await;
    let response = busy
        .post("/api/v1/tts/synthesize", &json!({"text": "hi"}))
        .await;
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
    busy.stop().await;

    let gateway = Gateway::start(&settings_with(&[("TTS_URL", "http://127.0.0.1:9")])).await;
    let response = reqwest::Client::new()
        .post(format!("{}/v1/audio/speech", gateway.base))
        .json(&json!({"input": "hi"}))
        .send()
        .await
        .expect("the gateway answers");
    assert_eq!(response.status(), 503);
    gateway.stop().await;
}

#[tokio::test]
async fn a_wrong_method_on_a_speech_route_is_405() {
    let speech = Speech::start(wav_chunks()).await;
    let client = reqwest::Client::new();

    let get = client
        .get(format!("{}/v1/audio/speech", speech.front.base()))
        .send()
        .await
        .expect("answers");
    assert_eq!(
        (get.status().as_u16(), get.headers()["allow"].to_str().ok()),
        (405, Some("POST"))
    );
    let post = client
        .post(format!("{}/api/v1/tts/voices", speech.front.base()))
        .send()
        .await
        .expect("answers");
    assert_eq!(post.status(), 405);
    speech.stop().await;
}
