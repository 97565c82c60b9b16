//! `podwise-rag`: turns shows into searchable knowledge (ingestion) and answers listeners'
//! questions from it with citations of episodes and moments.
//!
//! This build serves the gRPC contract of `proto/podwise/rag/v1` and the health surfaces
//! of every Podwise service; its RPCs answer `UNIMPLEMENTED` until the engine behind them
//! is built.

mod grpc;
pub mod text;

use anyhow::Context as _;
use futures_util::future::BoxFuture;
use podwise_common::CancellationToken;
use podwise_common::server::{BoundServer, ServiceServer};
use podwise_common::settings::{ServiceName, Settings};
use podwise_proto::rag::v1::rag_service_server::RagServiceServer;

/// Binds the service's port and assembles what it serves.
///
/// # Errors
/// When the bind address is invalid or taken.
pub async fn build(settings: &Settings) -> anyhow::Result<BoundServer> {
    let addr = settings.bind_address(ServiceName::Rag)?;
    ServiceServer::new(ServiceName::Rag.as_str(), settings.server.shutdown_grace)
        .grpc(RagServiceServer::new(grpc::RagApi))
        .bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))
}

/// Serves until `shutdown` is cancelled: the binary's entry point.
pub fn serve(
    settings: Settings,
    shutdown: CancellationToken,
) -> BoxFuture<'static, anyhow::Result<()>> {
    Box::pin(async move { build(&settings).await?.run_until_stopped(shutdown).await })
}
