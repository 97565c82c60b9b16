//! `podwise-stt`: speech to text with timestamps, for listeners' spoken questions and for
//! transcribing ingested episodes.
//!
//! An upload is decoded and resampled in Rust ([`audio`]), cut at pauses into windows of
//! at most 30 s and transcribed window by window by Whisper running in-process on the CPU
//! ([`whisper`], [`pipeline`]); Chinese comes out in Traditional characters
//! ([`traditional`]). One model thread serves every request through a bounded queue
//! ([`transcriber`]); [`grpc`] serves the contract of `proto/podwise/stt/v1`.

pub mod audio;
mod grpc;
pub mod pipeline;
pub use podwise_common::traditional;
pub mod transcriber;
pub mod whisper;

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context as _;
use futures_util::future::BoxFuture;
use podwise_common::CancellationToken;
use podwise_common::server::{BoundServer, ServiceServer};
use podwise_common::settings::{ServiceName, Settings};
use podwise_common::stores::objects::ObjectStore;
use podwise_common::stores::readiness_check;
use podwise_proto::stt::v1::stt_service_server::SttServiceServer;

use crate::audio::Limits;
use crate::transcriber::Transcriber;
use crate::whisper::{ComputeType, Whisper};

/// Room for the request's other fields beside the audio in one gRPC message.
const ENVELOPE_BYTES: usize = 64 * 1024;

/// Loads the speech model, opens the object store and binds the service's port.
///
/// # Errors
/// When a model file is missing or invalid (naming it), a setting does not apply to this
/// engine, the object store cannot be opened, or the bind address is taken.
pub async fn build(settings: &Settings) -> anyhow::Result<BoundServer> {
    podwise_common::metrics::handle();
    let compute_type = compute_type(settings)?;
    let model_dir = model_dir(settings);
    let threads = settings.stt.threads;
    let started = Instant::now();
    let dir = model_dir.clone();
    let whisper = tokio::task::spawn_blocking(move || Whisper::load(&dir, threads, compute_type))
        .await
        .context("the model loading task failed")??;
    let name = whisper.name().to_owned();
    tracing::info!(
        model = %name,
        multilingual = whisper.is_multilingual(),
        dir = %model_dir.display(),
        threads,
        compute_type = compute_type.as_str(),
        load_ms = started.elapsed().as_millis() as u64,
        "speech model loaded"
    );
    let limits = Limits {
        max_seconds: f64::from(settings.stt.max_audio_seconds),
    };
    let transcriber = Transcriber::start(Box::new(whisper), settings.stt.queue_depth, limits)
        .context("cannot start the Whisper thread")?;
    let objects = ObjectStore::open(settings)
        .await
        .context("cannot open the object store")?;
    let api = grpc::SttApi {
        transcriber,
        aliases: aliases(&name, &settings.whisper.model),
        model: name,
        objects: objects.clone(),
    };

    let addr = settings.bind_address(ServiceName::Stt)?;
    let max_message = settings.stt.max_upload_bytes + ENVELOPE_BYTES;
    ServiceServer::new(ServiceName::Stt.as_str(), settings.server.shutdown_grace)
        .grpc(SttServiceServer::new(api).max_decoding_message_size(max_message))
        .readiness_check("objects", readiness_check(&objects))
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

/// Where the model's files are: `WHISPER_MODEL` is a name the fetch script knows
/// (`base`, `tiny.en`: `<model_dir>/stt/whisper-<name>`) or a directory path.
pub fn model_dir(settings: &Settings) -> PathBuf {
    let model = settings.whisper.model.trim();
    if model.contains(std::path::MAIN_SEPARATOR) || model.starts_with('.') {
        PathBuf::from(model)
    } else {
        settings
            .paths
            .model_dir
            .join("stt")
            .join(format!("whisper-{model}"))
    }
}

/// The names a request may use for the loaded model: its own, the configured one, and
/// both with or without the `whisper-` prefix.
fn aliases(name: &str, configured: &str) -> Vec<String> {
    let mut names = Vec::new();
    for base in [name, configured] {
        let short = base.strip_prefix("whisper-").unwrap_or(base);
        names.push(short.to_owned());
        names.push(format!("whisper-{short}"));
    }
    names.sort();
    names.dedup();
    names
}

/// The compute type `WHISPER_COMPUTE_TYPE` asks for, refusing a value this engine cannot
/// honour rather than running something other than what the operator asked for.
///
/// # Errors
/// When the value is one CTranslate2 knows but this engine does not run (`int8`,
/// `float16`): the message names the variable, the value and the values that work.
pub fn compute_type(settings: &Settings) -> anyhow::Result<ComputeType> {
    // The settings layer already accepts only cpu and auto as devices, and refuses names
    // no Whisper engine knows.
    ComputeType::from_setting(&settings.whisper.compute_type).map_err(anyhow::Error::msg)
}

#[cfg(test)]
mod tests {
    use podwise_common::testing::settings_with;

    use super::*;

    fn compute_type_of(value: &str) -> anyhow::Result<ComputeType> {
        compute_type(&settings_with(&[("WHISPER_COMPUTE_TYPE", value)]))
    }

    #[test]
    fn float32_keeps_the_decoder_in_f32_and_the_default_quantizes_it() {
        assert_eq!(compute_type_of("float32").ok(), Some(ComputeType::Float32));
        for value in ["default", "auto", "int8_float32", "INT8_FLOAT32"] {
            assert_eq!(
                compute_type_of(value).ok(),
                Some(ComputeType::Int8Float32),
                "{value}"
            );
        }
    }

    #[test]
    fn a_compute_type_this_engine_cannot_run_is_refused_by_name() {
        for value in ["int8", "float16"] {
            let message = compute_type_of(value).expect_err(value).to_string();
            assert!(
                message.contains(&format!("WHISPER_COMPUTE_TYPE={value}"))
                    && message.contains("float32"),
                "{message}"
            );
        }
    }
}
