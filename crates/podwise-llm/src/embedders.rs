//! The embedding models this process serves, by id, and the gate in front of them.
//!
//! Embedding is CPU work that would stall the async runtime, so each batch runs on a
//! blocking thread. At most one batch computes at a time (two at once on a small machine
//! only slow each other down) and a bounded number wait; beyond that callers get 503 with
//! a retry hint instead of an ever longer queue.

use std::sync::Arc;
use std::time::{Duration, Instant};

use podwise_common::ServiceError;
use tokio::sync::Semaphore;

use crate::embeddings::{EmbedError, Embedded, Embedder, Purpose};
use crate::models::{ModelInfo, ModelKind};

/// The most texts one request may embed.
pub const MAX_BATCH: usize = 256;

/// What a caller waits before retrying when the queue is full.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// The loaded embedding models, the first being the default.
#[derive(Debug)]
pub struct Embedders {
    models: Vec<Arc<dyn Embedder>>,
    /// One permit: the batch computing now.
    compute: Arc<Semaphore>,
    /// Permits for the batches allowed to wait or compute.
    admitted: Arc<Semaphore>,
}

impl Embedders {
    /// Serves `models` (the first is the default), letting `queue_depth` batches wait.
    ///
    /// # Panics
    /// When `models` is empty: the service always loads its default model.
    pub fn new(models: Vec<Arc<dyn Embedder>>, queue_depth: usize) -> Self {
        assert!(
            !models.is_empty(),
            "at least the default embedding model is loaded"
        );
        Self {
            models,
            compute: Arc::new(Semaphore::new(1)),
            admitted: Arc::new(Semaphore::new(queue_depth + 1)),
        }
    }

    /// The model list entries.
    pub fn models(&self) -> Vec<ModelInfo> {
        self.models
            .iter()
            .map(|m| ModelInfo {
                id: m.id().to_owned(),
                kind: ModelKind::Embedding,
                owned_by: crate::local::LOCAL.to_owned(),
                context_length: u32::try_from(m.max_input_tokens()).unwrap_or(u32::MAX),
                dimensions: u32::try_from(m.dimensions()).unwrap_or(u32::MAX),
            })
            .collect()
    }

    /// The model named `id`, or the default for `None`.
    ///
    /// # Errors
    /// `NotFound` listing the served models.
    pub fn model(&self, id: Option<&str>) -> Result<Arc<dyn Embedder>, ServiceError> {
        let Some(id) = id else {
            return Ok(Arc::clone(&self.models[0]));
        };
        self.models
            .iter()
            .find(|m| m.id() == id)
            .cloned()
            .ok_or_else(|| {
                let known: Vec<&str> = self.models.iter().map(|m| m.id()).collect();
                ServiceError::NotFound(format!(
                    "no embedding model '{id}'; available: {}",
                    known.join(", ")
                ))
            })
    }

    /// Embeds `texts` with `model` on a blocking thread, after the batches before it.
    ///
    /// # Errors
    /// `InvalidArgument` for an empty or oversized batch or an input over the model's
    /// limit; `Unavailable` when too many batches are already waiting.
    pub async fn embed(
        &self,
        model: Arc<dyn Embedder>,
        texts: Vec<String>,
        purpose: Purpose,
    ) -> Result<Embedded, ServiceError> {
        if texts.is_empty() {
            return Err(ServiceError::InvalidArgument(
                "inputs must hold at least one text".to_owned(),
            ));
        }
        if texts.len() > MAX_BATCH {
            return Err(ServiceError::InvalidArgument(format!(
                "at most {MAX_BATCH} inputs per request; this one has {}",
                texts.len()
            )));
        }
        let _admitted = Arc::clone(&self.admitted)
            .try_acquire_owned()
            .map_err(|_| ServiceError::Unavailable {
                message: "the embedding queue is full".to_owned(),
                retry_after: RETRY_AFTER,
            })?;
        let _computing = Arc::clone(&self.compute)
            .acquire_owned()
            .await
            .map_err(|e| ServiceError::Internal(e.into()))?;
        let started = Instant::now();
        let count = texts.len();
        let id = model.id().to_owned();
        let embedded = tokio::task::spawn_blocking(move || {
            let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
            model.embed(&texts, purpose)
        })
        .await
        .map_err(|e| ServiceError::Internal(e.into()))?
        .map_err(|e| match e {
            EmbedError::TooLong { .. } => ServiceError::InvalidArgument(e.to_string()),
        })?;
        tracing::debug!(
            model = %id,
            texts = count,
            tokens = embedded.tokens,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "embedded a batch"
        );
        Ok(embedded)
    }
}
