//! `podwise-ml`: personal episode recommendations from listeners' feedback and episode
//! content, and their offline evaluation.
//!
//! Feedback from the catalog becomes a weighted, time-decayed matrix
//! ([`interactions`], [`dataset`]); [`cf`] trains the candidate collaborative models,
//! [`evaluate`] picks the one that serves by held-out NDCG, and [`content`] adds the
//! RAG service's episode vectors so new episodes can be found. [`training`] assembles a
//! [`model::Model`], [`snapshot`] stores it, and the [`engine`] serves one while it
//! trains the next. [`rank`] holds the rules every list obeys, and `observe` its metrics.

pub mod cf;
pub mod content;
pub mod dataset;
pub mod engine;
pub mod evaluate;
mod grpc;
pub mod interactions;
pub mod model;
mod observe;
pub mod rank;
pub mod snapshot;
pub mod training;
pub mod vector;

use anyhow::Context as _;
use futures_util::future::BoxFuture;
use podwise_common::CancellationToken;
use podwise_common::grpc_client;
use podwise_common::server::{BoundServer, ServiceServer};
use podwise_common::settings::{ServiceName, Settings};
use podwise_common::stores::catalog::Catalog;
use podwise_common::stores::objects::ObjectStore;
use podwise_common::stores::readiness_check;
use podwise_proto::ml::v1::ml_service_server::MlServiceServer;
use podwise_proto::rag::v1::rag_service_client::RagServiceClient;

use crate::engine::Engine;

/// Opens the stores, starts loading or training the model in the background, binds the
/// service's port and assembles what it serves.
///
/// # Errors
/// When a store cannot be opened, the RAG URL is invalid, or the bind address is invalid
/// or taken.
pub async fn build(settings: &Settings) -> anyhow::Result<BoundServer> {
    let catalog = Catalog::open(settings)
        .await
        .context("cannot open the catalog")?;
    let objects = ObjectStore::open(settings)
        .await
        .context("cannot open the object store for the model snapshot")?;
    let rag = grpc_client::channel(&settings.services.rag).context("RAG_URL is not a valid URI")?;
    let engine = Engine::new(
        catalog.clone(),
        objects,
        RagServiceClient::new(rag),
        settings.ml.clone(),
    );

    let model_loaded = {
        let engine = engine.clone();
        std::sync::Arc::new(move || {
            let ready = engine.current().is_some();
            Box::pin(async move {
                if ready {
                    Ok(())
                } else {
                    Err("the first model is still being trained".to_owned())
                }
            }) as BoxFuture<'static, Result<(), String>>
        })
    };
    let addr = settings.bind_address(ServiceName::Ml)?;
    ServiceServer::new(ServiceName::Ml.as_str(), settings.server.shutdown_grace)
        .grpc(MlServiceServer::new(grpc::MlApi {
            engine: engine.clone(),
        }))
        .readiness_check("catalog", readiness_check(&catalog))
        .readiness_check("model", model_loaded)
        .background(engine.background_task())
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
