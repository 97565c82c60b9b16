//! `podwise-rag`: turns shows into searchable knowledge (ingestion) and answers listeners'
//! questions from it with citations of episodes and moments.
//!
//! - [`ingest`]: transcripts, audio or RSS feeds in, per-episode jobs in the catalog,
//!   workers that download and transcribe (through the STT service), clean, chunk, tag
//!   ([`text`]), embed ([`llm`]) and index them;
//! - [`search`]: hybrid retrieval, dense vectors plus BM25, fused and reranked;
//! - [`answer`]: classification, the confidence gate, cited answers (written by the LLM
//!   or extractive), summaries and chat history;
//! - [`library`]: the stores and clients all of it shares; `grpc` maps the contract of
//!   `proto/podwise/rag/v1` onto them.

pub mod answer;
pub mod episode_vectors;
mod grpc;
pub mod index_sync;
pub mod ingest;
pub mod library;
pub mod llm;
pub mod search;
pub mod text;

use std::sync::Arc;

use anyhow::Context as _;
use futures_util::future::BoxFuture;
use podwise_common::CancellationToken;
use podwise_common::grpc_client;
use podwise_common::server::{BoundServer, ServiceServer};
use podwise_common::settings::{ServiceName, Settings};
use podwise_common::stores::readiness_check;
use podwise_proto::rag::v1::rag_service_server::RagServiceServer;

use crate::library::{Library, SharedLibrary};
use crate::llm::Llm;

/// Gives the largest request (an ingestion of many transcripts) room, within reason.
const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;

/// Opens the stores, loads the lexical index, binds the service's port and assembles
/// what it serves, with the ingestion workers as background work.
///
/// # Errors
/// When a store cannot be opened or the bind address is invalid or taken.
pub async fn build(settings: &Settings) -> anyhow::Result<BoundServer> {
    let llm_channel = grpc_client::channel(settings.services.get(ServiceName::Llm))
        .context("the LLM service's URL is not valid")?;
    let warmed = tokio::task::spawn_blocking(text::tokens::warm_up).await?;
    tracing::info!(
        ms = warmed.as_millis() as u64,
        "Chinese word segmenter loaded"
    );
    let stt_channel = grpc_client::channel(settings.services.get(ServiceName::Stt))
        .context("the STT service's URL is not valid")?;
    let llm = Llm::new(llm_channel, &settings.rag);
    let library: SharedLibrary = Arc::new(Library::open(settings, llm, stt_channel).await?);
    // Episodes indexed elsewhere while the full load runs are caught up by the sync.
    let sync = index_sync::SyncState::starting_at(unix_ms_now());
    match library.load_lexical_index().await {
        Ok(chunks) => tracing::info!(chunks, "lexical index loaded from the vector store"),
        // A store that is down at start-up is reported by /ready; the index fills as
        // episodes are ingested again.
        Err(error) => tracing::warn!(%error, "cannot load the lexical index yet"),
    }

    let api = grpc::RagApi {
        library: library.clone(),
    };
    let workers = library.clone();
    let synced = library.clone();
    let sync_interval = settings.rag.index_sync_interval;
    let addr = settings.bind_address(ServiceName::Rag)?;
    ServiceServer::new(ServiceName::Rag.as_str(), settings.server.shutdown_grace)
        .grpc(
            RagServiceServer::new(api)
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES),
        )
        .readiness_check("catalog", readiness_check(&library.catalog))
        .readiness_check("documents", readiness_check(&library.documents))
        .readiness_check("objects", readiness_check(&library.objects))
        .readiness_check("vectors", readiness_check(&library.vectors))
        .background(Box::new(move |stop: CancellationToken| {
            Box::pin(async move {
                for worker in ingest::worker::spawn(workers, stop) {
                    if let Err(error) = worker.await {
                        tracing::error!(%error, "an ingestion worker panicked");
                    }
                }
            })
        }))
        .background(Box::new(move |stop: CancellationToken| {
            Box::pin(index_sync::run(synced, sync, sync_interval, stop))
        }))
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

fn unix_ms_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as i64)
}
