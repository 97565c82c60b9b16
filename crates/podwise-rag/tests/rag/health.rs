//! The rag service started in-process on a free port, as its binary would start it.

use podwise_common::testing::{assert_healthy, channel, settings_with, spawn};
use podwise_proto::rag::v1::IngestFeedRequest;
use podwise_proto::rag::v1::rag_service_client::RagServiceClient;

#[tokio::test]
async fn the_service_answers_health_ready_metrics_and_grpc_health() {
    let service = spawn(
        podwise_rag::build(&settings_with(&[]))
            .await
            .expect("build"),
    );

    assert_healthy(service.addr, "rag").await;

    service.stop().await;
}

#[tokio::test]
async fn a_feature_not_built_yet_answers_unimplemented_and_names_itself() {
    let service = spawn(
        podwise_rag::build(&settings_with(&[]))
            .await
            .expect("build"),
    );
    let mut client = RagServiceClient::new(channel(service.addr));

    let status = client
        .ingest_feed(IngestFeedRequest::default())
        .await
        .expect_err("not built yet");

    assert_eq!(status.code(), tonic::Code::Unimplemented);
    assert!(
        status.message().contains("feed ingestion"),
        "{}",
        status.message()
    );
    service.stop().await;
}
