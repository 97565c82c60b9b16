//! `podwise-tts`: text to speech with named zh-TW and English voices, for spoken answers
//! and for voicing the demo library.
//!
//! [`build`] finds the espeak-ng program ([`espeak`]), loads ONNX Runtime and the Piper
//! voice ([`piper`]) and opens the object store for the [`cache`], failing at start with
//! the missing file or program named. Requests are checked by the gRPC face (`grpc`),
//! cut and routed by [`text`], spoken by the [`engine`]s of each [`voices`] voice, joined
//! and paced by the [`synth`]esiser and written out by [`audio`]. [`observe`](crate)
//! records its metrics.

pub mod audio;
pub mod cache;
pub mod engine;
pub mod espeak;
mod grpc;
mod observe;
pub mod piper;
pub mod synth;
pub mod text;
pub mod voices;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use futures_util::future::BoxFuture;
use podwise_common::CancellationToken;
use podwise_common::server::{BoundServer, ServiceServer};
use podwise_common::settings::{ServiceName, Settings};
use podwise_common::stores::objects::ObjectStore;
use podwise_proto::tts::v1::tts_service_server::TtsServiceServer;

use crate::cache::Cache;
use crate::engine::{Engine, PiperEngine};
use crate::espeak::Espeak;
use crate::piper::PiperVoice;
use crate::synth::{Options, Synthesizer};
use crate::text::Limits;
use crate::voices::Catalogue;

/// The Piper voice's model, under `<model_dir>/tts/`.
pub const ENGLISH_MODEL: &str = "en_US-joe-medium.onnx";

/// The engines the standard voices need, loaded from what the settings point at.
///
/// # Errors
/// When espeak-ng is missing or lacks a voice, or a model or runtime file is missing or
/// invalid: the message names it and what to run.
pub fn load_catalogue(settings: &Settings) -> anyhow::Result<Catalogue> {
    let tts = &settings.tts;
    let espeak = Espeak::find(&tts.espeak_program)?;
    let runtime = onnxruntime_path(settings);
    let model = settings.paths.model_dir.join("tts").join(ENGLISH_MODEL);
    let started = std::time::Instant::now();
    let voice = PiperVoice::load(&runtime, &model, tts.threads)?;
    tracing::info!(
        model = ENGLISH_MODEL,
        load_ms = started.elapsed().as_millis() as u64,
        "English voice loaded"
    );
    let english: Arc<dyn Engine> = Arc::new(PiperEngine::new(
        voice,
        espeak.clone(),
        ENGLISH_MODEL.to_owned(),
    ));
    Ok(Catalogue::standard(&espeak, english))
}

/// `ORT_DYLIB_PATH` when set, else the library the fetch script places.
fn onnxruntime_path(settings: &Settings) -> PathBuf {
    settings
        .tts
        .onnxruntime_library
        .clone()
        .unwrap_or_else(|| settings.paths.model_dir.join(piper::RUNTIME_FILE))
}

/// Loads the engines, binds the service's port and assembles what it serves.
///
/// # Errors
/// When espeak-ng or a model file is missing (the message names it), the object store
/// cannot be opened, or the bind address is invalid or taken.
pub async fn build(settings: &Settings) -> anyhow::Result<BoundServer> {
    let loading = settings.clone();
    let catalogue = tokio::task::spawn_blocking(move || load_catalogue(&loading)).await??;
    build_with(settings, catalogue).await
}

/// [`build`] with the voices given rather than loaded: what tests use to count engine
/// calls or to run without the models.
///
/// # Errors
/// When the object store cannot be opened or the bind address is invalid or taken.
pub async fn build_with(settings: &Settings, catalogue: Catalogue) -> anyhow::Result<BoundServer> {
    let tts = &settings.tts;
    let cache = if tts.cache {
        let store = ObjectStore::open(settings)
            .await
            .context("cannot open the object store for the speech cache")?;
        Some(Cache::new(store))
    } else {
        None
    };
    let synthesizer = Synthesizer::new(
        cache,
        Options {
            limits: Limits::default(),
            pause: tts.sentence_pause,
            queue_depth: tts.queue_depth,
        },
    );
    let api = grpc::TtsApi {
        catalogue: Arc::new(catalogue),
        synthesizer,
        max_chars: tts.max_chars,
    };
    let addr = settings.bind_address(ServiceName::Tts)?;
    // No readiness check on the cache's store: without it every request is a miss, which
    // is slower but still speech, so a store outage must not take the service out.
    ServiceServer::new(ServiceName::Tts.as_str(), settings.server.shutdown_grace)
        .grpc(
            TtsServiceServer::new(api)
                .max_encoding_message_size(grpc::MAX_MESSAGE_BYTES)
                .max_decoding_message_size(grpc::MAX_MESSAGE_BYTES),
        )
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
