//! The server every gRPC service runs: one port that speaks gRPC (HTTP/2) and plain
//! HTTP/1.1 for `/health`, `/ready` and `/metrics`, plus `grpc.health.v1`.
//!
//! Shutdown runs in this order: readiness turns false (and gRPC health to NOT_SERVING),
//! the listener stops accepting, in-flight requests get the grace period to finish, then
//! whatever is left is cut off. Background tasks (ingestion workers, scheduled training)
//! are told to stop at the same moment and awaited after the requests.

mod connections;
mod observe;

pub use observe::REQUEST_ID_HEADER;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::server::NamedService;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;
use tracing::info;

use crate::readiness::{Check, Readiness};

/// How often dependency checks refresh the gRPC health status.
const HEALTH_REFRESH: Duration = Duration::from_secs(5);

/// Work a service runs beside its requests; it returns once its token is cancelled.
pub type BackgroundTask =
    Box<dyn FnOnce(CancellationToken) -> futures_util::future::BoxFuture<'static, ()> + Send>;

/// Collects what one service serves before it binds its port.
pub struct ServiceServer {
    service: &'static str,
    routes: tonic::service::Routes,
    grpc_names: Vec<&'static str>,
    http: Router,
    checks: Vec<(String, Check)>,
    background: Vec<BackgroundTask>,
    grace: Duration,
}

impl std::fmt::Debug for ServiceServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceServer")
            .field("service", &self.service)
            .field("grpc", &self.grpc_names)
            .finish_non_exhaustive()
    }
}

impl ServiceServer {
    /// A server for the service named `service` (`rag`, `llm`, ...), which labels its
    /// metrics and logs.
    pub fn new(service: &'static str, shutdown_grace: Duration) -> Self {
        Self {
            service,
            routes: tonic::service::Routes::default(),
            grpc_names: Vec::new(),
            http: Router::new(),
            checks: Vec::new(),
            background: Vec::new(),
            grace: shutdown_grace,
        }
    }

    /// Serves a generated tonic service and reports it in `grpc.health.v1`.
    pub fn grpc<S>(mut self, service: S) -> Self
    where
        S: tower::Service<
                http::Request<tonic::body::Body>,
                Error = Infallible,
                Response = http::Response<tonic::body::Body>,
            > + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        self.grpc_names.push(S::NAME);
        self.routes = self.routes.add_service(service);
        self
    }

    /// Adds plain HTTP routes (service-specific admin endpoints).
    pub fn http(mut self, router: Router) -> Self {
        self.http = self.http.merge(router);
        self
    }

    /// Adds a dependency that must be usable for the service to count as ready.
    pub fn readiness_check(mut self, name: impl Into<String>, check: Check) -> Self {
        self.checks.push((name.into(), check));
        self
    }

    /// Adds work that runs while the service serves: started with the server, told to
    /// stop (its token cancelled) when shutdown begins, and awaited before the server
    /// reports it has stopped.
    pub fn background(mut self, task: BackgroundTask) -> Self {
        self.background.push(task);
        self
    }

    /// Binds the port; `addr` with port 0 picks a free one (tests do this).
    ///
    /// # Errors
    /// When the address cannot be bound.
    pub async fn bind(self, addr: SocketAddr) -> std::io::Result<BoundServer> {
        // Install the recorder before the first request so nothing recorded is lost.
        crate::metrics::handle();
        let listener = TcpListener::bind(addr).await?;
        let readiness = Readiness::new(self.checks).reporting_as(self.service);
        let (reporter, health_service) = tonic_health::server::health_reporter();

        let probes = Router::new()
            .route("/health", get(health))
            .route("/ready", get(ready))
            .route("/metrics", get(metrics))
            .with_state(ProbeState {
                service: self.service,
                readiness: readiness.clone(),
            });
        let router = self
            .routes
            .add_service(health_service)
            .into_axum_router()
            .merge(probes)
            .merge(self.http)
            .layer(axum::middleware::from_fn_with_state(
                self.service,
                observe::observe,
            ));

        Ok(BoundServer {
            service: self.service,
            listener,
            router,
            readiness,
            reporter,
            grpc_names: self.grpc_names,
            background: self.background,
            grace: self.grace,
        })
    }
}

/// A service whose port is bound, ready to run.
pub struct BoundServer {
    service: &'static str,
    listener: TcpListener,
    router: Router,
    readiness: Readiness,
    reporter: HealthReporter,
    grpc_names: Vec<&'static str>,
    background: Vec<BackgroundTask>,
    grace: Duration,
}

impl std::fmt::Debug for BoundServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BoundServer")
            .field("service", &self.service)
            .field("listener", &self.listener)
            .field("grpc", &self.grpc_names)
            .field("background_tasks", &self.background.len())
            .finish_non_exhaustive()
    }
}

impl BoundServer {
    /// The address actually bound.
    ///
    /// # Errors
    /// When the socket has been closed underneath.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    pub fn readiness(&self) -> &Readiness {
        &self.readiness
    }

    /// Serves until `shutdown` is cancelled, then drains as described in the module docs.
    ///
    /// # Errors
    /// When the serving task panicked.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let addr = self.listener.local_addr()?;
        refresh_health(&self.readiness, &self.reporter, &self.grpc_names).await;
        let refresher = tokio::spawn(keep_health_fresh(
            self.readiness.clone(),
            self.reporter.clone(),
            self.grpc_names.clone(),
        ));

        let stop_accepting = CancellationToken::new();
        let server = tokio::spawn(connections::serve(
            self.service,
            self.listener,
            self.router,
            stop_accepting.clone(),
            self.grace,
        ));
        info!(service = self.service, %addr, "serving gRPC and HTTP");
        let stop_background = CancellationToken::new();
        let background: Vec<_> = self
            .background
            .into_iter()
            .map(|task| tokio::spawn(task(stop_background.clone())))
            .collect();

        shutdown.cancelled().await;
        info!(service = self.service, grace = ?self.grace, "draining in-flight requests");
        self.readiness.start_draining();
        refresher.abort();
        set_health(&self.reporter, &self.grpc_names, ServingStatus::NotServing).await;
        stop_accepting.cancel();
        stop_background.cancel();
        server.await?;
        for task in background {
            task.await?;
        }
        Ok(())
    }
}

async fn keep_health_fresh(
    readiness: Readiness,
    reporter: HealthReporter,
    names: Vec<&'static str>,
) {
    let mut ticks = tokio::time::interval(HEALTH_REFRESH);
    loop {
        ticks.tick().await;
        refresh_health(&readiness, &reporter, &names).await;
    }
}

async fn refresh_health(readiness: &Readiness, reporter: &HealthReporter, names: &[&'static str]) {
    let status = if readiness.report().await.ready {
        ServingStatus::Serving
    } else {
        ServingStatus::NotServing
    };
    set_health(reporter, names, status).await;
}

async fn set_health(reporter: &HealthReporter, names: &[&'static str], status: ServingStatus) {
    // The empty name is the whole server, as grpc.health.v1 defines it.
    reporter.set_service_status("", status).await;
    for name in names {
        reporter.set_service_status(name, status).await;
    }
}

#[derive(Clone)]
struct ProbeState {
    service: &'static str,
    readiness: Readiness,
}

async fn health(axum::extract::State(state): axum::extract::State<ProbeState>) -> Response {
    axum::Json(serde_json::json!({ "status": "ok", "service": state.service })).into_response()
}

async fn ready(axum::extract::State(state): axum::extract::State<ProbeState>) -> Response {
    let report = state.readiness.report().await;
    let status = if report.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(report)).into_response()
}

async fn metrics() -> Response {
    (
        [(
            http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        crate::metrics::render(),
    )
        .into_response()
}
