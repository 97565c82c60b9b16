//! The shared server bootstrap, exercised the way services use it: bound to port 0 and
//! stopped through its cancellation token, which is what SIGTERM triggers in a binary.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use podwise_common::CancellationToken;
use podwise_common::server::ServiceServer;
use podwise_common::testing::{grpc_health, probe};
use tokio::task::JoinHandle;
use tonic_health::pb::health_check_response::ServingStatus;

struct Running {
    addr: SocketAddr,
    shutdown: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
}

async fn spawn(server: ServiceServer) -> Running {
    let bound = server
        .bind("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("bind");
    let addr = bound.local_addr().expect("addr");
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(bound.run_until_stopped(shutdown.clone()));
    Running {
        addr,
        shutdown,
        task,
    }
}

fn slow_route() -> Router {
    Router::new().route(
        "/slow",
        get(|| async {
            tokio::time::sleep(Duration::from_millis(600)).await;
            "finished"
        }),
    )
}

#[tokio::test]
async fn a_running_server_answers_health_ready_metrics_and_grpc_health() {
    let running = spawn(ServiceServer::new("bootstrap", Duration::from_secs(5))).await;

    let surfaces = probe(running.addr).await;
    assert_eq!(surfaces.health, 200);
    assert_eq!(surfaces.ready, 200);
    assert_eq!(surfaces.ready_body["ready"], true);
    assert_eq!(surfaces.grpc, ServingStatus::Serving);
    // The probes themselves were counted.
    assert!(
        surfaces
            .metrics
            .contains("podwise_bootstrap_requests_total"),
        "{}",
        surfaces.metrics
    );

    running.shutdown.cancel();
    running.task.await.expect("join").expect("clean stop");
}

#[tokio::test]
async fn a_failing_dependency_makes_the_service_not_ready_and_says_why() {
    let server = ServiceServer::new("notready", Duration::from_secs(5)).readiness_check(
        "catalog",
        Arc::new(|| Box::pin(async { Err("connection refused".to_owned()) })),
    );
    let running = spawn(server).await;

    let surfaces = probe(running.addr).await;
    assert_eq!(surfaces.health, 200, "alive even when not ready");
    assert_eq!(surfaces.ready, 503);
    assert_eq!(
        surfaces.ready_body["checks"]["catalog"],
        "connection refused"
    );
    assert_eq!(surfaces.grpc, ServingStatus::NotServing);
    let metrics = reqwest::get(format!("http://{}/metrics", running.addr))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("podwise_notready_dependency_up{dependency=\"catalog\"} 0"),
        "the failing check is a gauge too:\n{metrics}"
    );

    running.shutdown.cancel();
    running.task.await.expect("join").expect("clean stop");
}

#[tokio::test]
async fn stopping_lets_an_in_flight_request_finish_then_refuses_new_ones() {
    let running =
        spawn(ServiceServer::new("drain", Duration::from_secs(5)).http(slow_route())).await;
    let url = format!("http://{}/slow", running.addr);
    let in_flight = tokio::spawn(async move { reqwest::get(url).await?.text().await });
    tokio::time::sleep(Duration::from_millis(150)).await;

    running.shutdown.cancel();

    let body = in_flight
        .await
        .expect("join")
        .expect("the in-flight request completes");
    assert_eq!(body, "finished");
    running.task.await.expect("join").expect("clean stop");
    assert!(
        tokio::net::TcpStream::connect(running.addr).await.is_err(),
        "the port is closed after the drain"
    );
}

#[tokio::test]
async fn requests_still_running_after_the_grace_period_are_cut_off() {
    let running =
        spawn(ServiceServer::new("cutoff", Duration::from_millis(100)).http(slow_route())).await;
    let url = format!("http://{}/slow", running.addr);
    let in_flight = tokio::spawn(async move { reqwest::get(url).await?.text().await });
    tokio::time::sleep(Duration::from_millis(100)).await;

    let started = std::time::Instant::now();
    running.shutdown.cancel();
    running
        .task
        .await
        .expect("join")
        .expect("stop after the grace period");

    assert!(
        started.elapsed() < Duration::from_millis(500),
        "did not wait for the slow request"
    );
    assert!(
        in_flight.await.expect("join").is_err(),
        "the cut-off request fails"
    );
}

#[tokio::test]
async fn readiness_turns_false_as_soon_as_draining_starts() {
    let bound = ServiceServer::new("latch", Duration::from_secs(5))
        .http(slow_route())
        .bind("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("bind");
    let addr = bound.local_addr().expect("addr");
    let readiness = bound.readiness().clone();
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(bound.run_until_stopped(shutdown.clone()));
    assert_eq!(
        grpc_health(addr, "").await.expect("health"),
        ServingStatus::Serving
    );
    // Keep one request busy so the server is still draining when readiness is asked.
    let in_flight = tokio::spawn(reqwest::get(format!("http://{addr}/slow")));
    tokio::time::sleep(Duration::from_millis(100)).await;

    shutdown.cancel();
    tokio::time::sleep(Duration::from_millis(50)).await;

    let report = readiness.report().await;
    assert!(!report.ready && report.draining, "{report:?}");
    assert!(
        !in_flight.is_finished(),
        "the slow request is still being served"
    );
    in_flight.await.expect("join").expect("completes");
    task.await.expect("join").expect("clean stop");
}

#[tokio::test]
async fn a_store_that_is_down_is_named_by_ready_while_the_others_pass() {
    use podwise_common::stores::{catalog::Catalog, objects::ObjectStore, readiness_check};

    let dir = tempfile::TempDir::new().expect("temp dir");
    let data_dir = dir.path().to_str().expect("utf-8");
    let catalog = Catalog::open(&podwise_common::testing::settings_with(&[(
        "PODWISE_DATA_DIR",
        data_dir,
    )]))
    .await
    .expect("catalog");
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
        .to_string();
    let objects = ObjectStore::open(&podwise_common::testing::settings_with(&[
        ("PODWISE_PROFILE", "cluster"),
        ("MINIO_HOST", "127.0.0.1"),
        ("MINIO_PORT", &closed_port),
        ("MINIO_ACCESS_KEY", "test-access"),
        ("MINIO_SECRET_KEY", "test-secret"),
    ]))
    .await
    .expect("objects");
    let server = ServiceServer::new("stores", Duration::from_secs(5))
        .readiness_check("catalog", readiness_check(&catalog))
        .readiness_check("objects", readiness_check(&objects));
    let running = spawn(server).await;

    let surfaces = probe(running.addr).await;

    assert_eq!(surfaces.ready, 503);
    assert_eq!(surfaces.ready_body["checks"]["catalog"], "ok");
    let objects_status = surfaces.ready_body["checks"]["objects"]
        .as_str()
        .unwrap_or_default();
    assert!(objects_status.contains("unavailable"), "{objects_status}");
    running.shutdown.cancel();
    running.task.await.expect("join").expect("clean stop");
}

#[tokio::test]
async fn background_work_runs_while_serving_and_is_awaited_at_shutdown() {
    let ticks = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let finished = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (counted, done) = (ticks.clone(), finished.clone());
    let server = ServiceServer::new("bootstrap", Duration::from_secs(5)).background(Box::new(
        move |stop: CancellationToken| {
            Box::pin(async move {
                while !stop.is_cancelled() {
                    counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    tokio::select! {
                        () = tokio::time::sleep(Duration::from_millis(10)) => {}
                        () = stop.cancelled() => {}
                    }
                }
                // Work left after the stop signal is still waited for.
                tokio::time::sleep(Duration::from_millis(100)).await;
                done.store(true, std::sync::atomic::Ordering::SeqCst);
            })
        },
    ));
    let running = spawn(server).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        ticks.load(std::sync::atomic::Ordering::SeqCst) > 1,
        "it runs while serving"
    );

    running.shutdown.cancel();
    running.task.await.expect("task").expect("clean stop");
    assert!(
        finished.load(std::sync::atomic::Ordering::SeqCst),
        "the server waited for it"
    );
}
