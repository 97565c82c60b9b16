//! The synthesis cache, with a stand-in engine that counts its calls: a repeated request
//! is answered from the object store, byte for byte, without the engine.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use podwise_common::testing::{RunningService, channel, settings_with, spawn};
use podwise_proto::tts::v1::tts_service_client::TtsServiceClient;
use podwise_proto::tts::v1::{AudioFormat, SynthesizeRequest};
use podwise_tts::audio::Pcm;
use podwise_tts::engine::{Engine, EngineError, Prosody};
use podwise_tts::text::Script;
use podwise_tts::voices::{Catalogue, Voice};
use tonic::transport::Channel;

use crate::helpers;

/// A tone whose length follows the text, counting how often it is asked.
#[derive(Debug, Default)]
pub struct CountingEngine {
    pub calls: AtomicUsize,
}

impl Engine for CountingEngine {
    fn name(&self) -> &'static str {
        "counting"
    }

    fn native_rate(&self) -> u32 {
        16_000
    }

    fn adjusts_pitch(&self) -> bool {
        true
    }

    fn fingerprint(&self) -> String {
        "counting".to_owned()
    }

    fn speak(&self, text: &str, prosody: Prosody) -> Result<Pcm, EngineError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let count = (text.chars().count() as f32 * 1_000.0 / prosody.speed) as usize;
        let samples = (0..count).map(|n| 0.3 * (n as f32 * 0.1).sin()).collect();
        Ok(Pcm {
            samples,
            rate: 16_000,
        })
    }
}

/// The service over one voice made by a [`CountingEngine`], with `extra` settings.
pub async fn start_counting(
    extra: &[(&str, &str)],
) -> (
    RunningService,
    TtsServiceClient<Channel>,
    Arc<CountingEngine>,
) {
    let engine = Arc::new(CountingEngine::default());
    let voice = |id: &str, script| Voice {
        id: id.to_owned(),
        language: "en-US".to_owned(),
        gender: "male".to_owned(),
        engine: "counting".to_owned(),
        description: "a test tone".to_owned(),
        license: "CC0-1.0".to_owned(),
        script,
        own: engine.clone(),
        other: engine.clone(),
    };
    let catalogue = Catalogue::new(vec![
        voice("tone", Script::Latin),
        voice("han", Script::Han),
    ]);
    let built = podwise_tts::build_with(&settings_with(extra), catalogue)
        .await
        .expect("the service starts");
    let service = spawn(built);
    let client = TtsServiceClient::new(channel(service.addr));
    (service, client, engine)
}

/// A request for `text` in the stand-in's voice.
fn ask(text: &str) -> SynthesizeRequest {
    helpers::ask(text, "tone")
}

#[tokio::test]
async fn the_same_phrase_twice_is_synthesised_once_and_answered_identically() {
    let (service, mut client, engine) = start_counting(&[]).await;
    let text = "Hello there. This is a cached phrase.";

    let first = client
        .synthesize(ask(text))
        .await
        .expect("audio")
        .into_inner();
    let calls = engine.calls.load(Ordering::SeqCst);
    let second = client
        .synthesize(ask(text))
        .await
        .expect("audio")
        .into_inner();

    assert!(!first.cached && second.cached);
    assert_eq!(calls, 2, "one call per sentence");
    assert_eq!(
        engine.calls.load(Ordering::SeqCst),
        calls,
        "the engine was not asked again"
    );
    assert_eq!(first.audio, second.audio);
    service.stop().await;
}

#[tokio::test]
async fn one_cache_entry_serves_every_format_and_streams_too() {
    let (service, mut client, engine) = start_counting(&[]).await;
    let text = "One entry, many formats.";

    let wav = client
        .synthesize(ask(text))
        .await
        .expect("audio")
        .into_inner();
    let calls = engine.calls.load(Ordering::SeqCst);
    let mut flac = ask(text);
    flac.format = AudioFormat::Flac.into();
    let flac = client.synthesize(flac).await.expect("audio").into_inner();
    let mut stream = client
        .synthesize_stream(ask(text))
        .await
        .expect("a stream")
        .into_inner();
    let mut streamed = Vec::new();
    let mut all_cached = true;
    while let Some(chunk) = stream.message().await.expect("a chunk") {
        all_cached &= chunk.cached;
        streamed.extend_from_slice(&chunk.data);
    }

    assert!(flac.cached && all_cached);
    assert_eq!(
        engine.calls.load(Ordering::SeqCst),
        calls,
        "only the first was made"
    );
    // The stream's header says "length unknown"; the samples after it are the same.
    assert_eq!(streamed[44..], wav.audio[44..]);
    service.stop().await;
}

#[tokio::test]
async fn a_change_of_speed_pitch_rate_or_voice_is_a_new_entry() {
    let (service, mut client, engine) = start_counting(&[]).await;
    let text = "Same words.";
    let variants = [
        ask(text),
        SynthesizeRequest {
            speed: 1.5,
            ..ask(text)
        },
        SynthesizeRequest {
            pitch: 2.0,
            ..ask(text)
        },
        SynthesizeRequest {
            sample_rate_hz: 8_000,
            ..ask(text)
        },
        SynthesizeRequest {
            voice: "han".to_owned(),
            ..ask(text)
        },
    ];

    for request in variants.iter().cloned() {
        let reply = client
            .synthesize(request)
            .await
            .expect("audio")
            .into_inner();
        assert!(!reply.cached);
    }

    assert_eq!(engine.calls.load(Ordering::SeqCst), variants.len());
    service.stop().await;
}

#[tokio::test]
async fn with_the_cache_off_every_request_is_synthesised() {
    let (service, mut client, engine) = start_counting(&[("PODWISE_TTS_CACHE", "false")]).await;

    for _ in 0..2 {
        let reply = client
            .synthesize(ask("Again."))
            .await
            .expect("audio")
            .into_inner();
        assert!(!reply.cached);
    }

    assert_eq!(engine.calls.load(Ordering::SeqCst), 2);
    service.stop().await;
}
