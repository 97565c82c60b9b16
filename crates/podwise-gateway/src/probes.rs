//! `/health` (the gateway process is alive), `/ready` (what every service behind it
//! says) and `/metrics` (Prometheus text).

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::AppState;
use crate::upstreams::UpstreamStatus;

pub(crate) async fn health() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok", "service": "gateway" }))
}

/// Reports each service as `ok`, `degraded` or `down`, and an overall status.
///
/// The gateway stays ready (200) while at least one service is up: a listener can still
/// browse and ask while, say, speech synthesis restarts. It answers 503 only while it
/// drains or when nothing behind it answers.
pub(crate) async fn ready(state: web::Data<AppState>) -> HttpResponse {
    let services = state
        .upstreams
        .health(state.settings.api.ready_timeout)
        .await;
    let all_ok = services.values().all(|s| *s == UpstreamStatus::Ok);
    let all_down = services.values().all(|s| *s == UpstreamStatus::Down);
    let draining = state.readiness.is_draining();
    let status = if draining || all_down {
        "down"
    } else if all_ok {
        "ok"
    } else {
        "degraded"
    };
    let body = json!({ "status": status, "draining": draining, "services": services });
    if status == "down" {
        HttpResponse::ServiceUnavailable()
            .insert_header(("Retry-After", "5"))
            .json(body)
    } else {
        HttpResponse::Ok().json(body)
    }
}

pub(crate) async fn metrics() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(podwise_common::metrics::render())
}
