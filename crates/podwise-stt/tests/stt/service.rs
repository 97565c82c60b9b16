//! The stt service started in-process on a free port with the real Whisper base model, as
//! its binary would start it, and called over gRPC.

use podwise_common::ServiceError;
use podwise_common::settings::{Settings, Sources};
use podwise_common::stores::objects::{ObjectKey, ObjectStore};
use podwise_common::testing::{RunningService, assert_healthy, channel, settings_with, spawn};
use podwise_proto::common::v1::AudioInput;
use podwise_proto::common::v1::audio_input::Source;
use podwise_proto::stt::v1::stt_service_client::SttServiceClient;
use podwise_proto::stt::v1::{TranscribeRequest, TranscribeResponse, transcribe_event};
use tonic::transport::Channel;

use crate::audio_formats::FORMATS;
use crate::fixtures::{self, Speech};
use crate::speech::{model_dir, word_error_rate};

struct Stt {
    service: RunningService,
    client: SttServiceClient<Channel>,
    settings: Settings,
}

async fn start(extra: &[(&str, &str)]) -> Stt {
    let dir = model_dir().display().to_string();
    let mut pairs = vec![("PODWISE_MODEL_DIR", dir.as_str())];
    pairs.extend_from_slice(extra);
    let settings = settings_with(&pairs);
    let service = spawn(
        podwise_stt::build(&settings)
            .await
            .unwrap_or_else(|e| panic!("{e:#}")),
    );
    let client = SttServiceClient::new(channel(service.addr)).max_decoding_message_size(64 << 20);
    Stt {
        service,
        client,
        settings,
    }
}

fn upload(bytes: Vec<u8>, hint: &str) -> TranscribeRequest {
    TranscribeRequest {
        audio: Some(AudioInput {
            source: Some(Source::Data(bytes)),
            format_hint: hint.to_owned(),
        }),
        ..TranscribeRequest::default()
    }
}

fn english_wav() -> Vec<u8> {
    std::fs::read(fixtures::speech(Speech::English)).expect("the speech file")
}

/// The error a call failed with, as the service meant it.
fn refusal(status: &tonic::Status) -> (&'static str, String) {
    let error = ServiceError::from_status(status);
    (error.code(), error.to_string())
}

fn assert_timed_within(reply: &TranscribeResponse) {
    let mut previous_end = 0.0;
    for segment in &reply.segments {
        assert!(segment.start_seconds >= previous_end - 1e-6, "{reply:#?}");
        assert!(segment.end_seconds >= segment.start_seconds, "{reply:#?}");
        assert!(
            segment.end_seconds <= reply.duration_seconds + 1e-6,
            "{reply:#?}"
        );
        previous_end = segment.end_seconds;
    }
}

#[tokio::test]
async fn the_service_answers_health_ready_metrics_and_grpc_health() {
    let stt = start(&[]).await;

    assert_healthy(stt.service.addr, "stt").await;

    stt.service.stop().await;
}

#[tokio::test]
async fn an_english_recording_is_transcribed_with_ordered_segments_inside_its_length() {
    let mut stt = start(&[]).await;

    let reply = stt
        .client
        .transcribe(upload(english_wav(), "question.wav"))
        .await
        .expect("transcribed")
        .into_inner();

    assert_eq!(reply.language, "en");
    assert_eq!(reply.model, "whisper-base");
    assert!((reply.duration_seconds - fixtures::speech_seconds(Speech::English)).abs() < 0.05);
    let wer = word_error_rate(Speech::English.text(), &reply.text);
    assert!(wer < 0.2, "WER {wer:.2}: {:?}", reply.text);
    assert!(!reply.segments.is_empty());
    assert_timed_within(&reply);
    stt.service.stop().await;
}

#[tokio::test]
async fn every_accepted_format_of_the_same_speech_gives_the_same_transcript() {
    let mut stt = start(&[]).await;
    let reference = Speech::English.text();
    let mut wideband = Vec::new();

    for format in FORMATS {
        let bytes = fixtures::encoded(Speech::English, format.extension, format.ffmpeg);
        let reply = stt
            .client
            .transcribe(upload(bytes, format.extension))
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", format.name))
            .into_inner();

        let wer = word_error_rate(reference, &reply.text);
        if format.rate <= 8_000 {
            // A telephone line keeps nothing above 4 kHz, where much of espeak-ng's
            // consonants are; Whisper then mishears a word or two (measured: 0.20-0.33).
            assert!(
                wer <= 0.4,
                "{}: WER {wer:.2}: {:?}",
                format.name,
                reply.text
            );
        } else {
            assert!(
                wer <= 0.15,
                "{}: WER {wer:.2}: {:?}",
                format.name,
                reply.text
            );
            wideband.push((format.name, reply.text));
        }
    }
    let (first_name, first) = &wideband[0];
    for (name, text) in &wideband[1..] {
        assert_eq!(
            word_error_rate(first, text),
            0.0,
            "{first_name}: {first:?}, {name}: {text:?}"
        );
    }
    stt.service.stop().await;
}

#[tokio::test]
async fn the_stream_starts_with_the_language_and_then_sends_each_segment() {
    let mut stt = start(&[]).await;
    let mut request = upload(english_wav(), "a.wav");
    request.word_timestamps = true;

    let mut events = stt
        .client
        .transcribe_stream(request)
        .await
        .expect("the stream starts")
        .into_inner();

    let first = events
        .message()
        .await
        .expect("an event")
        .expect("not ended");
    let Some(transcribe_event::Event::Info(info)) = first.event else {
        panic!("the first event is the info: {first:?}");
    };
    assert_eq!(
        (info.language.as_str(), info.model.as_str()),
        ("en", "whisper-base")
    );
    let mut segments = Vec::new();
    while let Some(event) = events.message().await.expect("a readable stream") {
        match event.event {
            Some(transcribe_event::Event::Segment(segment)) => segments.push(segment),
            other => panic!("only segments follow the info: {other:?}"),
        }
    }
    assert!(!segments.is_empty());
    let words: Vec<_> = segments.iter().flat_map(|s| &s.words).collect();
    assert!(
        words.len() >= 8,
        "word timestamps were asked for: {segments:#?}"
    );
    assert!(
        words
            .windows(2)
            .all(|w| w[0].start_seconds <= w[1].start_seconds)
    );
    stt.service.stop().await;
}

#[tokio::test]
async fn a_recording_in_the_object_store_is_transcribed_by_its_key() {
    let mut stt = start(&[("WHISPER_MODEL", "tiny.en")]).await;
    let store = ObjectStore::open(&stt.settings).await.expect("the store");
    let key = ObjectKey::new("audio/episodes/welcome.mp3").expect("a valid key");
    let mp3 = fixtures::encoded(
        Speech::English,
        "mp3",
        &["-c:a", "libmp3lame", "-b:a", "64k"],
    );
    store
        .put_bytes(&key, mp3.into(), "audio/mpeg")
        .await
        .expect("stored");
    let by_key = |key: &str| TranscribeRequest {
        audio: Some(AudioInput {
            source: Some(Source::ObjectKey(key.to_owned())),
            format_hint: String::new(),
        }),
        ..TranscribeRequest::default()
    };

    let reply = stt
        .client
        .transcribe(by_key(key.as_str()))
        .await
        .expect("transcribed")
        .into_inner();
    let missing = stt
        .client
        .transcribe(by_key("audio/episodes/missing.mp3"))
        .await
        .expect_err("no such object");

    assert!(
        word_error_rate(Speech::English.text(), &reply.text) < 0.25,
        "{reply:?}"
    );
    assert_eq!(refusal(&missing).0, "not_found");
    stt.service.stop().await;
}

/// One second of silence as a 16 kHz PCM WAV file.
fn silent_wav() -> Vec<u8> {
    let data_bytes: u32 = 16_000 * 2;
    let mut wav = Vec::new();
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(36 + data_bytes).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    for field in [16u32, 0x0001_0001, 16_000, 32_000, 0x0010_0002] {
        wav.extend_from_slice(&field.to_le_bytes());
    }
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&data_bytes.to_le_bytes());
    wav.resize(wav.len() + data_bytes as usize, 0);
    wav
}

#[tokio::test]
async fn every_bad_request_is_refused_with_its_reason_and_the_service_stays_up() {
    let limits = [
        ("WHISPER_MODEL", "tiny.en"),
        ("PODWISE_STT_MAX_AUDIO_SECONDS", "3"),
    ];
    let mut stt = start(&limits).await;
    let random: Vec<u8> = (0u32..4096)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let mut unknown_model = upload(silent_wav(), "a.wav");
    unknown_model.model = "large-v3".to_owned();
    let mut french = upload(silent_wav(), "a.wav");
    french.language = "fr".to_owned();
    let mut too_hot = upload(silent_wav(), "a.wav");
    too_hot.temperature = 1.5;
    let cases = [
        (
            TranscribeRequest::default(),
            "invalid_argument",
            "audio is required",
        ),
        (upload(Vec::new(), "a.wav"), "invalid_argument", "empty"),
        (upload(random, "a.mp3"), "unprocessable", ""),
        (upload(english_wav(), "a.wav"), "payload_too_large", "0:03"),
        (unknown_model, "not_found", "whisper-tiny.en"),
        (french, "invalid_argument", "fr"),
        (too_hot, "invalid_argument", "temperature"),
    ];

    for (request, code, mention) in cases {
        let status = stt.client.transcribe(request).await.expect_err("refused");
        let (got, message) = refusal(&status);
        assert_eq!(got, code, "{message}");
        assert!(
            message.contains(mention),
            "{message:?} should mention {mention:?}"
        );
    }
    assert_healthy(stt.service.addr, "stt").await;
    stt.service.stop().await;
}

#[tokio::test]
async fn a_compute_type_the_engine_cannot_honour_stops_the_start_naming_it() {
    let settings = settings_with(&[("WHISPER_COMPUTE_TYPE", "float16")]);
    let message = match podwise_stt::build(&settings).await {
        Ok(_) => panic!("the service started with WHISPER_COMPUTE_TYPE=float16"),
        Err(e) => format!("{e:#}"),
    };
    assert!(
        message.contains("WHISPER_COMPUTE_TYPE=float16") && message.contains("float32"),
        "{message}"
    );

    // A name no Whisper engine knows is refused while the settings load.
    let sources = Sources::from_pairs(vec![("WHISPER_COMPUTE_TYPE", "float64")]);
    let message = Settings::load_from(&sources)
        .expect_err("float64 is no compute type")
        .to_string();
    assert!(
        message.contains("WHISPER_COMPUTE_TYPE") && message.contains("float64"),
        "{message}"
    );
}

#[tokio::test]
async fn requests_beyond_the_queue_are_turned_away_with_a_retry_hint() {
    let stt = start(&[
        ("WHISPER_MODEL", "tiny.en"),
        ("PODWISE_STT_QUEUE_DEPTH", "1"),
    ])
    .await;
    let wav = english_wav();

    let calls = (0..4).map(|_| {
        let mut client = stt.client.clone();
        let request = upload(wav.clone(), "a.wav");
        async move { client.transcribe(request).await }
    });
    let results = futures_util::future::join_all(calls).await;

    let busy: Vec<_> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert_eq!(
        results.len() - busy.len(),
        2,
        "one transcribing and one waiting get through"
    );
    for status in busy {
        let error = ServiceError::from_status(status);
        assert_eq!(error.code(), "unavailable", "{error}");
        assert!(error.retry_after().is_some());
    }
    stt.service.stop().await;
}

#[tokio::test]
async fn chinese_comes_out_in_traditional_characters() {
    let mut stt = start(&[]).await;
    let wav = std::fs::read(fixtures::speech(Speech::Mandarin)).expect("the speech file");
    let mut request = upload(wav, "a.wav");
    request.language = "zh".to_owned();

    let reply = stt
        .client
        .transcribe(request)
        .await
        .expect("transcribed")
        .into_inner();

    assert_eq!(reply.language, "zh");
    assert!(
        reply
            .text
            .chars()
            .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
        "{reply:?}"
    );
    assert_eq!(podwise_stt::traditional::convert(&reply.text), reply.text);
    stt.service.stop().await;
}
