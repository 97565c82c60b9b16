//! The stt service started in-process on a free port, as its binary would start it.

use podwise_common::testing::{assert_healthy, channel, settings_with, spawn};
use podwise_proto::stt::v1::TranscribeRequest;
use podwise_proto::stt::v1::stt_service_client::SttServiceClient;

#[tokio::test]
async fn the_service_answers_health_ready_metrics_and_grpc_health() {
    let service = spawn(
        podwise_stt::build(&settings_with(&[]))
            .await
            .expect("build"),
    );

    assert_healthy(service.addr, "stt").await;

    service.stop().await;
}

#[tokio::test]
async fn a_feature_not_built_yet_answers_unimplemented_and_names_itself() {
    let service = spawn(
        podwise_stt::build(&settings_with(&[]))
            .await
            .expect("build"),
    );
    let mut client = SttServiceClient::new(channel(service.addr));

    let status = client
        .transcribe(TranscribeRequest::default())
        .await
        .expect_err("not built yet");

    assert_eq!(status.code(), tonic::Code::Unimplemented);
    assert!(
        status.message().contains("transcription"),
        "{}",
        status.message()
    );
    service.stop().await;
}
