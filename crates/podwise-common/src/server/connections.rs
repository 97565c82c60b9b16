//! The accept loop: every connection is served by hyper's auto builder (HTTP/1.1 for
//! probes and curl, HTTP/2 with prior knowledge for gRPC) and tracked, so shutdown can
//! first ask connections to finish and then cut off those that outlive the grace period.

use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

/// Pause after a failed accept (for example, out of file descriptors) before retrying.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Serves `router` on `listener` until `stop_accepting` fires, then drains connections
/// for at most `grace`.
pub(super) async fn serve(
    service: &'static str,
    listener: TcpListener,
    router: Router,
    stop_accepting: CancellationToken,
    grace: Duration,
) {
    let builder = Builder::new(TokioExecutor::new());
    let graceful = GracefulShutdown::new();
    let mut connections = JoinSet::new();

    loop {
        // Reap finished connections so the set does not grow without bound.
        while connections.try_join_next().is_some() {}
        let (stream, peer) = tokio::select! {
            () = stop_accepting.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    warn!(service, error = %error, "accepting a connection failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let connection = builder
            .serve_connection(
                TokioIo::new(stream),
                TowerToHyperService::new(router.clone()),
            )
            .into_owned();
        let connection = graceful.watch(connection);
        connections.spawn(async move {
            if let Err(error) = connection.await {
                debug!(%peer, error = %error, "connection ended with an error");
            }
        });
    }
    drop(listener);

    let open = graceful.count();
    tokio::select! {
        () = graceful.shutdown() => {
            info!(service, connections = open, "drained; all connections closed");
        }
        () = tokio::time::sleep(grace) => {
            warn!(
                service,
                grace = ?grace,
                "requests still running after the grace period were cut off"
            );
            connections.abort_all();
        }
    }
}
