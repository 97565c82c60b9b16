//! The service as its binary starts it: the health surfaces, the metrics a synthesis
//! leaves, and start-up failures that name what is missing and how to get it.

use podwise_common::testing::{assert_healthy, probe, settings_with};
use podwise_proto::tts::v1::SynthesizeRequest;

use crate::helpers::{model_dir, start};

#[tokio::test]
async fn the_service_answers_health_ready_metrics_and_grpc_health() {
    let (service, _) = start(&[]).await;

    assert_healthy(service.addr, "tts").await;

    service.stop().await;
}

#[tokio::test]
async fn a_synthesis_shows_in_the_tts_metrics() {
    let (service, mut client) = start(&[]).await;
    let request = SynthesizeRequest {
        text: "Metrics, please.".into(),
        ..SynthesizeRequest::default()
    };

    client.synthesize(request).await.expect("audio");

    let metrics = probe(service.addr).await.metrics;
    for name in [
        "podwise_tts_synthesis_seconds_bucket",
        "podwise_tts_real_time_factor_bucket",
        "podwise_tts_first_audio_seconds_bucket",
        "podwise_tts_cache_misses_total",
        "podwise_tts_characters_total",
    ] {
        assert!(metrics.contains(name), "{name} missing from /metrics");
    }
    service.stop().await;
}

#[tokio::test]
async fn a_missing_model_stops_the_start_naming_the_file_and_the_script() {
    let empty = tempfile::tempdir().expect("a directory");
    let dir = empty.path().display().to_string();
    // The runtime library is found, so the missing file named is the voice's.
    let runtime = model_dir().join(podwise_tts::piper::RUNTIME_FILE);
    let runtime = runtime.display().to_string();
    let settings = settings_with(&[("PODWISE_MODEL_DIR", &dir), ("ORT_DYLIB_PATH", &runtime)]);

    let error = podwise_tts::build(&settings).await.expect_err("no model");

    let message = format!("{error:#}");
    assert!(message.contains("en_US-joe-medium.onnx"), "{message}");
    assert!(message.contains("scripts/fetch-models.sh"), "{message}");
}

#[tokio::test]
async fn a_missing_espeak_ng_stops_the_start_naming_the_package() {
    let settings = settings_with(&[("PODWISE_TTS_ESPEAK", "/nonexistent/espeak-ng")]);

    let error = podwise_tts::build(&settings)
        .await
        .expect_err("no espeak-ng");

    let message = format!("{error:#}");
    assert!(message.contains("/nonexistent/espeak-ng"), "{message}");
    assert!(message.contains("Debian package espeak-ng"), "{message}");
}
