//! The gateway's gRPC clients of the five services: one lazily connected channel each,
//! with the deadline configured for that service, and the health fan-out behind `/ready`.

use std::collections::BTreeMap;
use std::time::Duration;

use actix_web::{HttpMessage as _, HttpRequest};
use podwise_common::grpc_client::{TracedChannel, channel, request_with_id};
use podwise_common::settings::{ServiceEndpoints, ServiceName};
use serde::Serialize;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::observe::RequestId;

/// One channel per service; cloning is cheap and shares the connection.
#[derive(Debug, Clone)]
pub struct Upstreams {
    channels: BTreeMap<&'static str, (ServiceName, TracedChannel)>,
}

/// How one service looks from the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UpstreamStatus {
    /// Reachable and serving.
    Ok,
    /// Reachable but reporting itself not ready (loading models, a store down, draining).
    Degraded,
    /// Not reachable in time.
    Down,
}

impl Upstreams {
    /// Builds a channel per service; nothing connects until first use.
    ///
    /// # Errors
    /// When a service URL is not a valid URI.
    pub fn connect(endpoints: &ServiceEndpoints) -> anyhow::Result<Self> {
        let mut channels = BTreeMap::new();
        for service in ServiceName::ALL {
            let endpoint = endpoints.get(service);
            let traced = channel(endpoint).map_err(|e| {
                anyhow::anyhow!("{} URL '{}' is invalid: {e}", service, endpoint.url)
            })?;
            channels.insert(service.as_str(), (service, traced));
        }
        Ok(Self { channels })
    }

    /// The channel to `service`.
    pub fn channel(&self, service: ServiceName) -> TracedChannel {
        self.channels[service.as_str()].1.clone()
    }

    /// Asks every service's `grpc.health.v1` at once, each bounded by `timeout`.
    pub async fn health(&self, timeout: Duration) -> BTreeMap<&'static str, UpstreamStatus> {
        let checks = self.channels.iter().map(|(name, (_, channel))| async move {
            let mut client = HealthClient::new(channel.clone());
            let request = HealthCheckRequest {
                service: String::new(),
            };
            let status = match tokio::time::timeout(timeout, client.check(request)).await {
                Ok(Ok(answer)) if answer.get_ref().status() == ServingStatus::Serving => {
                    UpstreamStatus::Ok
                }
                Ok(Ok(_)) => UpstreamStatus::Degraded,
                Ok(Err(status)) => {
                    tracing::debug!(service = name, error = %status, "health check failed");
                    UpstreamStatus::Down
                }
                Err(_) => {
                    tracing::debug!(service = name, ?timeout, "health check timed out");
                    UpstreamStatus::Down
                }
            };
            (*name, status)
        });
        futures_util::future::join_all(checks)
            .await
            .into_iter()
            .collect()
    }
}

/// Wraps `message` in a gRPC request that carries the HTTP request's id, so the logs of
/// the service it goes to join the gateway's.
pub(crate) fn grpc_request<T>(http: &HttpRequest, message: T) -> tonic::Request<T> {
    match http.extensions().get::<RequestId>() {
        Some(RequestId(id)) => request_with_id(message, id),
        None => tonic::Request::new(message),
    }
}
