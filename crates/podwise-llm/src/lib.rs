//! `podwise-llm`: text generation and embeddings for every other service, from a local
//! model on the CPU or from remote OpenAI-compatible backends.
//!
//! Chat requests go through the [`router::Router`], which asks the backends in the
//! configured order ([`local`] for the in-process GGUF model, [`remote`] for
//! OpenAI-compatible servers) and falls back when one fails. Embeddings are always
//! computed in-process by the models of [`embeddings`], behind the gate of [`embedders`].
//! [`grpc`](crate) checks requests and speaks the contract of `proto/podwise/llm/v1`.

pub mod chat;
pub mod embedders;
pub mod embeddings;
mod grpc;
pub mod local;
pub mod models;
pub mod remote;
pub mod router;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use futures_util::future::BoxFuture;
use podwise_common::CancellationToken;
use podwise_common::server::{BoundServer, ServiceServer};
use podwise_common::settings::{LocalPosition, ServiceName, Settings};
use podwise_proto::llm::v1::llm_service_server::LlmServiceServer;

use crate::chat::ChatBackend;
use crate::embedders::Embedders;
use crate::local::LocalChat;
use crate::router::Router;

/// Loads the models, binds the service's port and assembles what it serves.
///
/// # Errors
/// When a model file is missing or unreadable (the message names it), the backends
/// setting is malformed, or the bind address is invalid or taken.
pub async fn build(settings: &Settings) -> anyhow::Result<BoundServer> {
    let llm = settings.llm.clone();
    let model_dir = settings.paths.model_dir.clone();

    let local: Option<Arc<dyn ChatBackend>> = match llm.local {
        LocalPosition::Off => None,
        LocalPosition::First | LocalPosition::Last => {
            let path = chat_model_path(&model_dir, &llm.chat_model);
            let (threads, depth) = (llm.threads, llm.queue_depth);
            let chat = tokio::task::spawn_blocking(move || LocalChat::load(&path, threads, depth))
                .await??;
            Some(Arc::new(chat))
        }
    };
    let router = Router::from_settings(&llm, &settings.openai, local)?;
    tracing::info!(backends = ?router.backend_names(), "chat backends in the order tried");

    let embedders = tokio::task::spawn_blocking(move || load_embedders(&model_dir, &llm)).await??;

    let api = grpc::LlmApi {
        router: Arc::new(router),
        embedders: Arc::new(embedders),
        max_tokens: settings.llm.max_tokens,
    };
    let addr = settings.bind_address(ServiceName::Llm)?;
    ServiceServer::new(ServiceName::Llm.as_str(), settings.server.shutdown_grace)
        .grpc(LlmServiceServer::new(api))
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

/// A bare file name is looked up in `<model_dir>/llm`; anything with a directory part is
/// taken as a path.
fn chat_model_path(model_dir: &Path, chat_model: &str) -> PathBuf {
    let given = Path::new(chat_model);
    if given.components().count() > 1 || given.is_absolute() {
        given.to_owned()
    } else {
        model_dir.join("llm").join(given)
    }
}

/// Loads every model of `PODWISE_LLM_EMBEDDING_MODEL` (comma-separated, the first is the
/// default).
fn load_embedders(
    model_dir: &Path,
    llm: &podwise_common::settings::LlmSettings,
) -> anyhow::Result<Embedders> {
    let mut models = Vec::new();
    for id in llm
        .embedding_model
        .split(',')
        .map(str::trim)
        .filter(|id| !id.is_empty())
    {
        let started = std::time::Instant::now();
        let model = embeddings::load(model_dir, id, llm.threads)?;
        tracing::info!(
            model = id,
            dimensions = model.dimensions(),
            load_ms = started.elapsed().as_millis() as u64,
            "embedding model loaded"
        );
        models.push(model);
    }
    anyhow::ensure!(
        !models.is_empty(),
        "PODWISE_LLM_EMBEDDING_MODEL names no model; the default is multilingual-e5-small"
    );
    Ok(Embedders::new(models, llm.queue_depth))
}
