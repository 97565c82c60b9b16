//! The one speech model of the process and the queue in front of it.
//!
//! Whisper is CPU work measured in seconds, and two transcriptions at once on a small
//! machine only slow each other down, so the model lives on a thread of its own that
//! takes one recording at a time. Uploads are decoded on the runtime's blocking pool
//! meanwhile (that work fits beside the model on a second core). A bounded number of
//! recordings may wait; beyond that callers get 503 with a retry hint. Segments go back
//! over a channel as each window is done, and a caller that goes away stops its work
//! before the next window.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use podwise_common::ServiceError;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};

use crate::audio::{self, Limits};
use crate::pipeline::{self, Progress, WindowModel};
use crate::whisper::DecodeError;

/// What a caller waits before retrying when the queue is full. A 30 s window takes a few
/// seconds, so a slot frees up about this often.
const RETRY_AFTER: Duration = Duration::from_secs(5);

/// Progress items that may wait for a slow reader before the model waits too.
const EVENT_BUFFER: usize = 64;

/// One recording to transcribe, already checked.
#[derive(Debug)]
pub struct Job {
    /// The file's bytes.
    pub bytes: Vec<u8>,
    /// The client's file name or content type, a hint for the container format.
    pub format_hint: Option<String>,
    pub request: pipeline::Request,
}

/// What a caller receives, in order: [`Update::Started`] once, then segments.
#[derive(Debug, Clone, PartialEq)]
pub enum Update {
    /// The audio is decoded and the language known.
    Started {
        duration_seconds: f64,
        language: String,
        language_probability: f32,
    },
    Segment(pipeline::TimedSegment),
}

/// A queued recording on its way to the model thread.
struct Queued {
    samples: Vec<f32>,
    request: pipeline::Request,
    duration_seconds: f64,
    updates: mpsc::Sender<Result<Update, ServiceError>>,
    queued_at: Instant,
    /// Held until the recording is done, so the queue bound counts it.
    _admitted: OwnedSemaphorePermit,
}

/// The model thread's mailbox and the admission gate.
#[derive(Debug, Clone)]
pub struct Transcriber {
    jobs: std_mpsc::Sender<Queued>,
    admitted: Arc<Semaphore>,
    limits: Limits,
}

impl std::fmt::Debug for Queued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queued")
            .field("duration_seconds", &self.duration_seconds)
            .finish_non_exhaustive()
    }
}

impl Transcriber {
    /// Starts the model thread with `model`, letting `queue_depth` recordings wait behind
    /// the one being transcribed.
    ///
    /// # Errors
    /// When the thread cannot be started.
    pub fn start(
        model: Box<dyn WindowModel + Send>,
        queue_depth: usize,
        limits: Limits,
    ) -> std::io::Result<Self> {
        let (jobs, inbox) = std_mpsc::channel();
        std::thread::Builder::new()
            .name("whisper".to_owned())
            .spawn(move || run_model(model, &inbox))?;
        Ok(Self {
            jobs,
            admitted: Arc::new(Semaphore::new(queue_depth + 1)),
            limits,
        })
    }

    /// Decodes `job`'s audio and queues it for the model; updates arrive on the returned
    /// channel. Dropping the receiver stops the work.
    ///
    /// # Errors
    /// `Unavailable` when the queue is full; the audio's own error (4xx) when the file
    /// cannot be decoded or is too long.
    pub async fn submit(
        &self,
        job: Job,
    ) -> Result<mpsc::Receiver<Result<Update, ServiceError>>, ServiceError> {
        let admitted = Arc::clone(&self.admitted)
            .try_acquire_owned()
            .map_err(|_| ServiceError::Unavailable {
                message: "the transcription queue is full".to_owned(),
                retry_after: RETRY_AFTER,
            })?;
        let limits = self.limits;
        let decoded = tokio::task::spawn_blocking(move || {
            audio::decode(&job.bytes, job.format_hint.as_deref(), &limits).map(|a| (a, job))
        })
        .await
        .map_err(|e| ServiceError::Internal(e.into()))?;
        let (audio, job) = decoded.inspect_err(|e| {
            tracing::debug!(error = %e, "refused an upload that does not decode");
        })?;
        tracing::debug!(
            container = audio.source.container,
            codec = %audio.source.codec,
            sample_rate = audio.source.sample_rate,
            channels = audio.source.channels,
            seconds = audio.duration_seconds(),
            "audio decoded"
        );
        let (updates, receiver) = mpsc::channel(EVENT_BUFFER);
        let queued = Queued {
            duration_seconds: audio.duration_seconds(),
            samples: audio.samples,
            request: job.request,
            updates,
            queued_at: Instant::now(),
            _admitted: admitted,
        };
        metrics::gauge!("podwise_stt_queue_depth").increment(1.0);
        self.jobs.send(queued).map_err(|_| {
            metrics::gauge!("podwise_stt_queue_depth").decrement(1.0);
            ServiceError::Internal(anyhow::anyhow!("the Whisper thread has stopped"))
        })?;
        Ok(receiver)
    }
}

/// The model thread: one recording at a time until the service drops its sender.
fn run_model(mut model: Box<dyn WindowModel + Send>, inbox: &std_mpsc::Receiver<Queued>) {
    while let Ok(job) = inbox.recv() {
        metrics::gauge!("podwise_stt_queue_depth").decrement(1.0);
        metrics::histogram!("podwise_stt_queue_wait_seconds")
            .record(job.queued_at.elapsed().as_secs_f64());
        let started = Instant::now();
        let duration = job.duration_seconds;
        // A panic in the model is a bug, but one recording must not take the service's
        // only model thread with it.
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| transcribe(&mut *model, &job)))
            .unwrap_or_else(|_| {
                Outcome::Failed(ServiceError::Internal(anyhow::anyhow!(
                    "the Whisper model panicked"
                )))
            });
        let elapsed = started.elapsed().as_secs_f64();
        let label = match &outcome {
            Outcome::Done => "done",
            Outcome::Abandoned => "abandoned",
            Outcome::Failed(_) => "failed",
        };
        metrics::counter!("podwise_stt_transcriptions_total", "outcome" => label).increment(1);
        if let Outcome::Done = outcome {
            metrics::counter!("podwise_stt_audio_seconds_total").increment(duration as u64);
            if duration > 0.0 {
                metrics::histogram!("podwise_stt_real_time_factor").record(elapsed / duration);
            }
        }
        match outcome {
            Outcome::Done => tracing::debug!(
                audio_seconds = duration,
                elapsed_seconds = elapsed,
                real_time_factor = elapsed / duration.max(f64::EPSILON),
                "transcribed"
            ),
            Outcome::Abandoned => {
                tracing::debug!(
                    audio_seconds = duration,
                    "the caller left; transcription stopped"
                );
            }
            Outcome::Failed(error) => {
                if let ServiceError::Internal(source) = &error {
                    tracing::error!(error = format!("{source:#}"), "transcription failed");
                }
                // The caller may be gone already; then nobody needs the error.
                let _ = job.updates.blocking_send(Err(error));
            }
        }
    }
    tracing::debug!("the Whisper thread stops: the service is shutting down");
}

enum Outcome {
    Done,
    Abandoned,
    Failed(ServiceError),
}

fn transcribe(model: &mut dyn WindowModel, job: &Queued) -> Outcome {
    let mut listening = true;
    let result = pipeline::transcribe(model, &job.samples, &job.request, |progress| {
        let update = match progress {
            Progress::Language { code, probability } => Update::Started {
                duration_seconds: job.duration_seconds,
                language: code,
                language_probability: probability,
            },
            Progress::Segment(segment) => Update::Segment(segment),
        };
        listening = job.updates.blocking_send(Ok(update)).is_ok();
        listening
    });
    match result {
        Ok(()) if listening => Outcome::Done,
        Ok(()) => Outcome::Abandoned,
        Err(error) => Outcome::Failed(service_error(error)),
    }
}

/// What the caller is told when the model refuses or fails a window.
fn service_error(error: DecodeError) -> ServiceError {
    let message = error.to_string();
    match error {
        DecodeError::UnknownLanguage(_) | DecodeError::Prompt(_) => {
            ServiceError::InvalidArgument(message)
        }
        DecodeError::NotFinite { .. } => ServiceError::Unprocessable(format!(
            "the audio holds samples that are not numbers: {message}"
        )),
        DecodeError::TooLong { .. } | DecodeError::NoAlignmentHeads | DecodeError::Model(_) => {
            ServiceError::Internal(anyhow::anyhow!(message))
        }
    }
}
