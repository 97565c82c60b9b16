//! The gateway started in-process on a free port, with stand-in services built from the
//! shared server bootstrap where a test needs something to answer.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use podwise_common::server::ServiceServer;
use podwise_common::settings::Settings;
use podwise_common::testing::{RunningService, settings_with, spawn};
use serde_json::Value;

use crate::harness::Gateway;

/// What the readiness tests ask the gateway.
impl Gateway {
    async fn get(&self, path: &str) -> reqwest::Response {
        reqwest::get(format!("{}{path}", self.base))
            .await
            .expect("gateway answers")
    }

    async fn ready(&self) -> (u16, Value) {
        let response = self.get("/ready").await;
        let status = response.status().as_u16();
        (status, response.json().await.expect("JSON"))
    }
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

async fn stand_in(service: &'static str, addr: SocketAddr) -> RunningService {
    let bound = ServiceServer::new(service, Duration::from_secs(1))
        .bind(addr)
        .await
        .expect("bind stand-in");
    spawn(bound)
}

/// Settings whose five upstream URLs point at the given ports.
fn settings_for(ports: [u16; 5]) -> Settings {
    let urls: Vec<(String, String)> = ["RAG", "ML", "TTS", "STT", "LLM"]
        .iter()
        .zip(ports)
        .map(|(name, port)| (format!("{name}_URL"), format!("http://127.0.0.1:{port}")))
        .collect();
    let pairs: Vec<(&str, &str)> = urls.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    settings_with(&pairs)
}

async fn wait_for_llm(gateway: &Gateway, expected: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (_, body) = gateway.ready().await;
        if body["services"]["llm"] == expected || Instant::now() > deadline {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn health_and_metrics_answer_and_every_response_carries_a_request_id() {
    let gateway = Gateway::start(&settings_for([closed_port(); 5])).await;

    let health = gateway.get("/health").await;
    assert_eq!(health.status(), 200);
    assert!(health.headers().contains_key("x-request-id"));

    let metrics = gateway.get("/metrics").await.text().await.expect("text");
    assert!(
        metrics.contains("podwise_gateway_requests_total"),
        "{metrics}"
    );

    let echoed = reqwest::Client::new()
        .get(format!("{}/health", gateway.base))
        .header("x-request-id", "trace-me-42")
        .send()
        .await
        .expect("answers");
    assert_eq!(echoed.headers()["x-request-id"], "trace-me-42");
    gateway.stop().await;
}

#[tokio::test]
async fn an_unknown_route_answers_the_json_error_shape() {
    let gateway = Gateway::start(&settings_for([closed_port(); 5])).await;

    let response = gateway.get("/no/such/route").await;

    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["code"], "not_found");
    assert!(
        body["message"]
            .as_str()
            .expect("message")
            .contains("/no/such/route")
    );
    gateway.stop().await;
}

#[tokio::test]
async fn ready_reports_a_stopped_service_as_down_and_recovers_when_it_returns() {
    let llm_addr: SocketAddr = format!("127.0.0.1:{}", closed_port())
        .parse()
        .expect("addr");
    let mut ports = [closed_port(); 5];
    ports[4] = llm_addr.port();
    let gateway = Gateway::start(&settings_for(ports)).await;

    let llm = stand_in("llm", llm_addr).await;
    let body = wait_for_llm(&gateway, "ok").await;
    assert_eq!(body["services"]["llm"], "ok", "{body}");
    assert_eq!(body["services"]["rag"], "down", "{body}");
    assert_eq!(body["status"], "degraded");

    llm.stop().await;
    let body = wait_for_llm(&gateway, "down").await;
    assert_eq!(body["services"]["llm"], "down", "{body}");
    let (status, body) = gateway.ready().await;
    assert_eq!(
        (status, &body["status"]),
        (503, &Value::from("down")),
        "{body}"
    );

    let llm = stand_in("llm", llm_addr).await;
    let body = wait_for_llm(&gateway, "ok").await;
    assert_eq!(body["services"]["llm"], "ok", "{body}");

    llm.stop().await;
    gateway.stop().await;
}

#[tokio::test]
async fn ready_says_ok_when_every_service_answers() {
    let mut services = Vec::new();
    let mut ports = [0; 5];
    for (slot, name) in ["rag", "ml", "tts", "stt", "llm"].into_iter().enumerate() {
        let addr: SocketAddr = format!("127.0.0.1:{}", closed_port())
            .parse()
            .expect("addr");
        ports[slot] = addr.port();
        services.push(stand_in(name, addr).await);
    }
    let gateway = Gateway::start(&settings_for(ports)).await;

    let (status, body) = gateway.ready().await;

    assert_eq!(status, 200);
    assert_eq!(body["status"], "ok", "{body}");
    for service in services {
        service.stop().await;
    }
    gateway.stop().await;
}
