//! The chat model run in-process on the CPU, as a [`ChatBackend`] named `local`.
//!
//! One worker thread owns the model and serves requests one at a time: on a small machine
//! two generations at once are slower than two in turn, because the kernels' threads spin
//! against each other. Requests wait in a bounded queue; when it is full the backend
//! answers `Busy`, which the router turns into a fallback or a 503.

mod attention;
mod forward;
mod generate;
mod kernels;
mod metadata;
mod model;
mod ops;
mod pretokenize;
mod template;
mod text_stream;
mod tokenizer;
mod weights;

use std::path::Path;
use std::sync::mpsc;
use std::time::Instant;

use futures_util::StreamExt as _;
use futures_util::future::BoxFuture;
use podwise_common::metrics::metric_name;
use tokio::sync::mpsc as events;
use tokio_stream::wrappers::ReceiverStream;
use tracing::{debug, warn};

use self::generate::{GenerateError, generate};
use self::model::ChatModel;
pub use self::model::LoadError;
use crate::chat::{BackendError, ChatBackend, ChatEvent, ChatRequest, ChatStream};
use crate::models::{ModelInfo, ModelKind};

/// The name of the local backend in logs, metrics and the model list.
pub const LOCAL: &str = "local";

/// Events a reply may run ahead of its reader before generation waits.
const EVENT_BUFFER: usize = 32;

struct Job {
    request: ChatRequest,
    events: events::Sender<Result<ChatEvent, BackendError>>,
    queued_at: Instant,
}

/// The local chat model and the worker thread that runs it.
#[derive(Debug)]
pub struct LocalChat {
    info: ModelInfo,
    jobs: mpsc::SyncSender<Job>,
}

impl LocalChat {
    /// Loads the GGUF model at `path` and starts its worker thread, which computes with
    /// `threads` threads and lets `queue_depth` requests wait.
    ///
    /// # Errors
    /// When the model cannot be loaded (see [`LoadError`]) or the thread cannot start.
    pub fn load(path: &Path, threads: usize, queue_depth: usize) -> Result<Self, LoadError> {
        let invalid = |reason: String| LoadError::Invalid {
            path: path.to_owned(),
            reason,
        };
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("llm-compute-{i}"))
            .build()
            .map_err(|e| invalid(format!("cannot start the compute threads: {e}")))?;
        let started = Instant::now();
        let model = pool.install(|| ChatModel::load(path))?;
        let info = ModelInfo {
            id: model.id.clone(),
            kind: ModelKind::Chat,
            owned_by: LOCAL.to_owned(),
            context_length: u32::try_from(model.context_length).unwrap_or(u32::MAX),
            dimensions: 0,
        };
        tracing::info!(
            model = %info.id,
            context_length = info.context_length,
            engine = model.engine(),
            threads,
            load_ms = started.elapsed().as_millis() as u64,
            "local chat model loaded"
        );
        let (jobs, queue) = mpsc::sync_channel(queue_depth);
        std::thread::Builder::new()
            .name("llm-local-chat".to_owned())
            .spawn(move || pool.install(move || work(model, &queue)))
            .map_err(|e| invalid(format!("cannot start the worker thread: {e}")))?;
        Ok(Self { info, jobs })
    }
}

impl ChatBackend for LocalChat {
    fn name(&self) -> &str {
        LOCAL
    }

    fn models(&self) -> Vec<ModelInfo> {
        vec![self.info.clone()]
    }

    fn start(&self, request: ChatRequest) -> BoxFuture<'_, Result<ChatStream, BackendError>> {
        Box::pin(async move {
            if let Some(model) = &request.model
                && *model != self.info.id
            {
                return Err(BackendError::Rejected(format!(
                    "the local backend serves {}, not {model}",
                    self.info.id
                )));
            }
            let (sender, receiver) = events::channel(EVENT_BUFFER);
            let job = Job {
                request,
                events: sender,
                queued_at: Instant::now(),
            };
            // Counted before it is sent, so the worker's decrement never comes first.
            queue_depth().increment(1.0);
            self.jobs.try_send(job).map_err(|e| {
                queue_depth().decrement(1.0);
                match e {
                    mpsc::TrySendError::Full(_) => {
                        BackendError::Busy("the local model's queue is full".to_owned())
                    }
                    mpsc::TrySendError::Disconnected(_) => {
                        BackendError::Failed("the local model's worker has stopped".to_owned())
                    }
                }
            })?;
            Ok(ReceiverStream::new(receiver).boxed())
        })
    }
}

/// Chat requests waiting for the local model's thread.
fn queue_depth() -> metrics::Gauge {
    metrics::gauge!(metric_name("llm", "local_queue_depth"))
}

/// The worker thread's loop: one job at a time until every sender is gone.
fn work(mut model: ChatModel, queue: &mpsc::Receiver<Job>) {
    while let Ok(job) = queue.recv() {
        queue_depth().decrement(1.0);
        if job.events.is_closed() {
            debug!("dropping a chat request whose client left while it waited");
            continue;
        }
        let waited_ms = job.queued_at.elapsed().as_millis() as u64;
        let events = job.events;
        let outcome = generate(&mut model, &job.request, |text| {
            events.blocking_send(Ok(ChatEvent::Delta(text))).is_ok()
        });
        let last = match outcome {
            Ok(outcome) => Ok(ChatEvent::Done {
                model: model.id.clone(),
                finish_reason: outcome.finish_reason,
                usage: outcome.usage,
            }),
            Err(GenerateError::Cancelled) => {
                debug!(waited_ms, "chat generation cancelled: the client went away");
                continue;
            }
            Err(GenerateError::Rejected(message)) => Err(BackendError::Rejected(message)),
            Err(GenerateError::Model(e)) => {
                warn!(error = %e, "the local chat model failed");
                Err(BackendError::Failed(format!("the local model failed: {e}")))
            }
        };
        // Nobody listening any more is not an error: the reply was complete anyway.
        let _ = events.blocking_send(last);
    }
}
