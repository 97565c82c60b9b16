//! The rag service started in-process on a free port, as its binary would start it.

use podwise_common::testing::{assert_healthy, settings_with, spawn};

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
