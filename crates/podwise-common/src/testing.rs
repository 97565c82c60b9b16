//! Helpers for the services' integration tests: settings for a process that binds free
//! ports, and probes of the health surfaces every service must answer.

use std::net::SocketAddr;

use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::settings::{ServiceName, Settings, Sources};

/// Embedded-profile settings in which every service binds a free port on loopback and
/// keeps its data in a fresh directory under the system's temp dir, with `extra`
/// variables on top.
///
/// # Panics
/// When `extra` holds an invalid setting: a test bug.
pub fn settings_with(extra: &[(&str, &str)]) -> Settings {
    let data_dir = fresh_data_dir();
    let mut pairs = vec![
        ("PODWISE_DATA_DIR", data_dir.as_str()),
        ("PODWISE_PROFILE", "embedded"),
        ("PODWISE_BIND_HOST", "127.0.0.1"),
        ("API_HOST", "127.0.0.1"),
        ("API_PORT", "0"),
        ("PODWISE_SHUTDOWN_GRACE_SECS", "5"),
    ];
    let ports: Vec<String> = ServiceName::ALL
        .iter()
        .map(|s| format!("{}_PORT", s.as_str().to_uppercase()))
        .collect();
    pairs.extend(ports.iter().map(|name| (name.as_str(), "0")));
    pairs.extend_from_slice(extra);
    Settings::load_from(&Sources::from_pairs(pairs)).expect("test settings are valid")
}

/// A directory no other test uses, so tests never write into the source tree. Process ids
/// are reused, so whatever an earlier process of the same id left there is removed first:
/// a test must never open another run's catalog.
fn fresh_data_dir() -> String {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir()
        .join("podwise-tests")
        .join(format!("{}-{n}", std::process::id()));
    if let Err(error) = std::fs::remove_dir_all(&dir)
        && error.kind() != std::io::ErrorKind::NotFound
    {
        panic!("cannot clear the test directory {}: {error}", dir.display());
    }
    dir.display().to_string()
}

/// What a probe of the four health surfaces found.
#[derive(Debug)]
pub struct Surfaces {
    pub health: u16,
    pub ready: u16,
    pub ready_body: serde_json::Value,
    pub metrics: String,
    pub grpc: ServingStatus,
}

/// Asks `/health`, `/ready`, `/metrics` over HTTP/1.1 and `grpc.health.v1` over HTTP/2.
///
/// # Panics
/// When a surface does not answer at all.
pub async fn probe(addr: SocketAddr) -> Surfaces {
    let http = reqwest::Client::new();
    let base = format!("http://{addr}");
    let health = http
        .get(format!("{base}/health"))
        .send()
        .await
        .expect("/health answers");
    let ready = http
        .get(format!("{base}/ready"))
        .send()
        .await
        .expect("/ready answers");
    let ready_status = ready.status().as_u16();
    let ready_body = ready.json().await.expect("/ready is JSON");
    let metrics = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("/metrics answers")
        .text()
        .await
        .expect("/metrics is text");
    let grpc = grpc_health(addr, "").await.expect("grpc.health.v1 answers");
    Surfaces {
        health: health.status().as_u16(),
        ready: ready_status,
        ready_body,
        metrics,
        grpc,
    }
}

/// The `grpc.health.v1` status of `service` ("" for the whole server).
///
/// # Errors
/// The gRPC status when the call fails (for example, nothing listening).
pub async fn grpc_health(addr: SocketAddr, service: &str) -> Result<ServingStatus, tonic::Status> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .map_err(|e| tonic::Status::invalid_argument(e.to_string()))?
        .connect()
        .await
        .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    let response = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: service.to_owned(),
        })
        .await?;
    Ok(response.into_inner().status())
}

/// A service running in the test process.
#[derive(Debug)]
pub struct RunningService {
    pub addr: std::net::SocketAddr,
    pub shutdown: crate::CancellationToken,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl RunningService {
    /// Stops the service as SIGTERM would, and waits for it to drain.
    ///
    /// # Panics
    /// When the service fails to stop cleanly.
    pub async fn stop(self) {
        self.shutdown.cancel();
        self.task.await.expect("service task").expect("clean stop");
    }
}

/// Runs a bound service in the background until [`RunningService::stop`].
///
/// # Panics
/// When the server has no local address.
pub fn spawn(server: crate::server::BoundServer) -> RunningService {
    let addr = server.local_addr().expect("bound address");
    let shutdown = crate::CancellationToken::new();
    let task = tokio::spawn(server.run_until_stopped(shutdown.clone()));
    RunningService {
        addr,
        shutdown,
        task,
    }
}

/// Asserts the four health surfaces of a freshly started service answer as healthy.
///
/// # Panics
/// When any surface is missing or unhealthy.
pub async fn assert_healthy(addr: SocketAddr, service: &str) {
    let surfaces = probe(addr).await;
    assert_eq!(surfaces.health, 200, "/health of {service}");
    assert_eq!(
        surfaces.ready, 200,
        "/ready of {service}: {}",
        surfaces.ready_body
    );
    assert_eq!(
        surfaces.grpc,
        ServingStatus::Serving,
        "gRPC health of {service}"
    );
    let metric = format!("podwise_{service}_requests_total");
    assert!(
        surfaces.metrics.contains(&metric),
        "{metric} missing from /metrics"
    );
}

/// A lazily connected channel to a service under test.
///
/// # Panics
/// When the address does not form a valid URI.
pub fn channel(addr: SocketAddr) -> tonic::transport::Channel {
    tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .expect("valid uri")
        .connect_lazy()
}

/// The variable that makes a missing dev server a test failure instead of a loud skip.
/// `scripts/test.sh` sets it after starting `scripts/dev-services.sh`, so the README's
/// test command (and CI) can never pass without having run the cluster adapters.
pub const REQUIRE_DEV_SERVERS: &str = "PODWISE_REQUIRE_DEV_SERVERS";

/// Cluster-profile settings for testing a cluster adapter against the real server
/// `scripts/dev-services.sh` started, read from the process environment.
///
/// Returns `None` when `marker` (the server's host variable, such as `MINIO_HOST`) is
/// not set, after saying loudly on stderr that the run was skipped.
///
/// # Panics
/// When the server is absent but [`REQUIRE_DEV_SERVERS`] is set, or its settings are
/// invalid.
pub fn dev_server_settings(store: &str, marker: &str) -> Option<Settings> {
    if std::env::var_os(marker).is_none() {
        let advice = format!(
            "the {store} cluster adapter needs the real server: run \
             `eval \"$(scripts/dev-services.sh start)\"` first ({marker} is not set)"
        );
        assert!(std::env::var_os(REQUIRE_DEV_SERVERS).is_none(), "{advice}");
        eprintln!("SKIPPED: {advice}");
        return None;
    }
    let mut sources = Sources::from_process();
    sources
        .environment
        .insert("PODWISE_PROFILE".to_owned(), "cluster".to_owned());
    Some(Settings::load_from(&sources).expect("the dev server settings are valid"))
}

/// A service binary running as its own process, as the start script runs it; killed
/// (and reaped) when dropped, so a failing test leaves no process behind.
#[derive(Debug)]
pub struct ServiceProcess {
    child: std::process::Child,
    /// `http://127.0.0.1:<port>`: its gRPC and HTTP address.
    pub url: String,
}

impl ServiceProcess {
    /// Starts `podwise-<service>` from `bin_dir` (where `cargo build --workspace --bins`
    /// put it) on `port`, on the embedded stores under `data_dir`, with `env` on top, and
    /// waits until its `/ready` answers 200.
    ///
    /// # Panics
    /// When the binary is missing, does not start, or is not ready within `patience`.
    pub async fn start(
        bin_dir: &std::path::Path,
        service: ServiceName,
        port: u16,
        data_dir: &std::path::Path,
        env: &[(&str, &str)],
        patience: std::time::Duration,
    ) -> Self {
        let binary = bin_dir.join(format!("podwise-{}", service.as_str()));
        assert!(
            binary.exists(),
            "{} is missing: run 'cargo build --workspace --bins' first",
            binary.display()
        );
        let model_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models");
        let mut command = std::process::Command::new(&binary);
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("PODWISE_PROFILE", "embedded")
            .env("PODWISE_DATA_DIR", data_dir)
            .env("PODWISE_MODEL_DIR", model_dir)
            .env("PODWISE_BIND_HOST", "127.0.0.1")
            .env(
                format!("{}_PORT", service.as_str().to_uppercase()),
                port.to_string(),
            )
            .env("LOG_LEVEL", "warn")
            .stdout(std::process::Stdio::null());
        for (name, value) in env {
            command.env(name, value);
        }
        let child = command.spawn().expect("the service binary starts");
        let process = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let ready = format!("{}/ready", process.url);
        let started = std::time::Instant::now();
        let client = reqwest::Client::new();
        loop {
            if let Ok(response) = client.get(&ready).send().await
                && response.status().is_success()
            {
                return process;
            }
            assert!(
                started.elapsed() < patience,
                "podwise-{} was not ready within {patience:?} (are the models fetched? \
                 run scripts/fetch-models.sh)",
                service.as_str()
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free port on loopback (free when asked; a test binds it soon after).
///
/// # Panics
/// When no port can be bound.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}
