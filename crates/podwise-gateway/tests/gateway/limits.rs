//! The gateway's guards on who may call how often and from where: rate limits per client
//! IP and per token (429 with `Retry-After`), and CORS for pages of other origins.

use podwise_common::testing::settings_with;
use reqwest::header::HeaderMap;
use serde_json::Value;
use tempfile::TempDir;

use crate::harness::Gateway;

async fn start(variables: &[(&str, &str)]) -> (Gateway, TempDir) {
    let dir = TempDir::new().expect("temp dir");
    let mut all = vec![("PODWISE_DATA_DIR", dir.path().to_str().expect("UTF-8"))];
    all.extend_from_slice(variables);
    let gateway = Gateway::start(&settings_with(&all)).await;
    (gateway, dir)
}

async fn get(base: &str, path: &str, headers: &[(&str, &str)]) -> (u16, HeaderMap, Value) {
    let mut request = reqwest::Client::new().get(format!("{base}{path}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, headers, body)
}

#[tokio::test]
async fn one_address_gets_its_burst_then_429_with_retry_after_while_probes_stay_open() {
    let (gateway, _dir) = start(&[
        ("PODWISE_RATE_LIMIT_PER_IP", "60"),
        ("PODWISE_RATE_LIMIT_BURST", "3"),
    ])
    .await;
    for _ in 0..3 {
        let (status, _, body) = get(&gateway.base, "/api/v1/categories", &[]).await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, headers, body) = get(&gateway.base, "/api/v1/categories", &[]).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["code"], "rate_limited");
    assert!(
        body["message"]
            .as_str()
            .expect("message")
            .contains("this address")
    );
    let retry_after: u64 = headers["retry-after"]
        .to_str()
        .expect("ASCII")
        .parse()
        .expect("whole seconds");
    assert!(
        (1..=2).contains(&retry_after),
        "one request a second: {retry_after}"
    );
    assert!(
        headers.contains_key("x-request-id"),
        "a 429 is logged like any answer"
    );

    for path in ["/health", "/metrics"] {
        let (status, _, _) = get(&gateway.base, path, &[]).await;
        assert_eq!(status, 200, "{path} is never limited");
    }
    let metrics = reqwest::get(format!("{}/metrics", gateway.base))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("podwise_gateway_rate_limited_total{limit=\"ip\"}"),
        "the refusal is counted"
    );
    gateway.stop().await;
}

#[tokio::test]
async fn each_token_has_its_own_budget() {
    let (gateway, _dir) = start(&[
        ("PODWISE_RATE_LIMIT_PER_IP", "0"),
        ("PODWISE_RATE_LIMIT_PER_TOKEN", "60"),
        ("PODWISE_RATE_LIMIT_BURST", "2"),
    ])
    .await;
    let first = [("authorization", "Bearer first-listener-token")];
    let second = [("authorization", "Bearer second-listener-token")];
    for _ in 0..2 {
        assert_eq!(
            get(&gateway.base, "/api/v1/categories", &first).await.0,
            200
        );
    }
    let (status, _, body) = get(&gateway.base, "/api/v1/categories", &first).await;
    assert_eq!(status, 429, "{body}");
    assert!(
        body["message"]
            .as_str()
            .expect("message")
            .contains("this token")
    );
    assert_eq!(
        get(&gateway.base, "/api/v1/categories", &second).await.0,
        200
    );
    // With no per-IP limit, requests without a token are not limited at all.
    for _ in 0..10 {
        assert_eq!(get(&gateway.base, "/api/v1/categories", &[]).await.0, 200);
    }
    gateway.stop().await;
}

#[tokio::test]
async fn behind_a_trusted_ingress_the_forwarded_address_is_the_client() {
    let limits = [
        ("PODWISE_RATE_LIMIT_PER_IP", "60"),
        ("PODWISE_RATE_LIMIT_BURST", "1"),
    ];
    let mut trusted = limits.to_vec();
    trusted.push(("PODWISE_TRUST_FORWARDED_FOR", "true"));
    let (gateway, _dir) = start(&trusted).await;
    // The ingress appends the address it saw; what the client wrote before it is ignored.
    let one = [("x-forwarded-for", "10.0.0.9, 203.0.113.7")];
    let two = [("x-forwarded-for", "10.0.0.9, 203.0.113.8")];
    assert_eq!(get(&gateway.base, "/api/v1/categories", &one).await.0, 200);
    assert_eq!(get(&gateway.base, "/api/v1/categories", &one).await.0, 429);
    assert_eq!(get(&gateway.base, "/api/v1/categories", &two).await.0, 200);
    gateway.stop().await;

    let (gateway, _dir) = start(&limits).await;
    assert_eq!(get(&gateway.base, "/api/v1/categories", &one).await.0, 200);
    assert_eq!(
        get(&gateway.base, "/api/v1/categories", &two).await.0,
        429,
        "an untrusted header cannot buy a fresh budget"
    );
    gateway.stop().await;
}

async fn preflight(base: &str, origin: &str) -> reqwest::Response {
    reqwest::Client::new()
        .request(reqwest::Method::OPTIONS, format!("{base}/api/v1/ask"))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type",
        )
        .send()
        .await
        .expect("preflight")
}

#[tokio::test]
async fn only_configured_origins_may_call_from_their_pages() {
    let (gateway, _dir) = start(&[]).await;
    let response = preflight(&gateway.base, "https://elsewhere.example").await;
    assert!(
        !response
            .headers()
            .contains_key("access-control-allow-origin"),
        "no origin is allowed by default"
    );
    gateway.stop().await;

    let (gateway, _dir) = start(&[("PODWISE_CORS_ORIGINS", "https://app.example")]).await;
    let response = preflight(&gateway.base, "https://app.example").await;
    assert!(response.status().is_success(), "{}", response.status());
    let headers = response.headers();
    assert_eq!(
        headers["access-control-allow-origin"],
        "https://app.example"
    );
    let methods = headers["access-control-allow-methods"]
        .to_str()
        .expect("ASCII");
    assert!(methods.contains("POST"), "{methods}");
    let response = preflight(&gateway.base, "https://elsewhere.example").await;
    assert!(
        !response
            .headers()
            .contains_key("access-control-allow-origin"),
        "an origin not listed is refused"
    );
    let (status, headers, _) = get(
        &gateway.base,
        "/api/v1/categories",
        &[("origin", "https://app.example")],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        headers["access-control-allow-origin"],
        "https://app.example"
    );
    // The gateway's own pages send their origin too and are always served.
    let host = gateway.base.trim_start_matches("http://").to_owned();
    let (status, _, _) = get(
        &gateway.base,
        "/api/v1/categories",
        &[("origin", &format!("http://{host}"))],
    )
    .await;
    assert_eq!(status, 200, "same origin");
    gateway.stop().await;
}
