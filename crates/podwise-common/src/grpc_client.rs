//! The client side of service-to-service gRPC: lazily connected channels with the
//! deadline configured per upstream, and an interceptor that carries trace context.

use std::time::Duration;

use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

use crate::server::REQUEST_ID_HEADER;
use crate::settings::ServiceEndpoint;
use crate::telemetry::propagation;

/// How long establishing a connection may take before a call fails as unavailable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// A channel whose calls carry the caller's trace context.
pub type TracedChannel = InterceptedService<Channel, PropagateContext>;

/// Builds a channel that connects on first use and reconnects by itself, so a service
/// that starts before its upstream works once the upstream comes up.
///
/// # Errors
/// When the endpoint URL is not a valid URI.
pub fn channel(endpoint: &ServiceEndpoint) -> Result<TracedChannel, tonic::transport::Error> {
    let channel = Endpoint::from_shared(endpoint.url.clone())?
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(endpoint.timeout)
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(30))
        .keep_alive_while_idle(true)
        .connect_lazy();
    Ok(InterceptedService::new(channel, PropagateContext))
}

/// Adds the current trace context to every outgoing call.
#[derive(Debug, Clone, Copy, Default)]
pub struct PropagateContext;

impl Interceptor for PropagateContext {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        propagation::inject_current_context(request.metadata_mut());
        Ok(request)
    }
}

/// Wraps a message in a request that carries the caller's request id, so the logs of
/// every service on the path can be joined.
pub fn request_with_id<T>(message: T, request_id: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Ok(value) = request_id.parse() {
        request.metadata_mut().insert(REQUEST_ID_HEADER, value);
    }
    request
}
