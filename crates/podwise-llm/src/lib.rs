//! `podwise-llm`: text generation and embeddings for every other service, from a local
//! model on the CPU or from remote OpenAI-compatible backends.
//!
//! This build serves the gRPC contract of `proto/podwise/llm/v1` and the health surfaces
//! of every Podwise service; its RPCs answer `UNIMPLEMENTED` until the engine behind them
//! is built.

pub mod chat;
pub mod embeddings;
mod grpc;
pub mod local;
pub mod models;
pub mod remote;
pub mod router;

use anyhow::Context as _;
use futures_util::future::BoxFuture;
use podwise_common::CancellationToken;
use podwise_common::server::{BoundServer, ServiceServer};
use podwise_common::settings::{ServiceName, Settings};
use podwise_proto::llm::v1::llm_service_server::LlmServiceServer;

/// Binds the service's port and assembles what it serves.
///
/// # Errors
/// When the bind address is invalid or taken.
pub async fn build(settings: &Settings) -> anyhow::Result<BoundServer> {
    let addr = settings.bind_address(ServiceName::Llm)?;
    ServiceServer::new(ServiceName::Llm.as_str(), settings.server.shutdown_grace)
        .grpc(LlmServiceServer::new(grpc::LlmApi))
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
