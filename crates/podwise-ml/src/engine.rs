//! The service's state: the model serving now, the training that replaces it, and the
//! snapshot that outlives the process.
//!
//! Serving takes the current model (an `Arc`, cloned under a lock held for a pointer
//! copy) and never waits for training: a training builds a whole new model on a
//! blocking thread and swaps it in at the end. One training or evaluation runs at a
//! time, so two cannot fight over the CPU.
//!
//! The snapshot goes to the object store rather than the data directory: in the cluster
//! the pod's filesystem is read-only and lost on rescheduling, while the object store
//! (MinIO) is shared and durable; on a laptop the object store is a directory under
//! `./data` anyway. A restart therefore serves the last model at once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use podwise_common::grpc_client::TracedChannel;
use podwise_common::server::BackgroundTask;
use podwise_common::settings::MlSettings;
use podwise_common::stores::StoreError;
use podwise_common::stores::catalog::{Catalog, Page, Preferences};
use podwise_common::stores::objects::{ObjectKey, ObjectStore};
use podwise_common::{CancellationToken, ServiceError};
use podwise_proto::rag::v1::rag_service_client::RagServiceClient;

use crate::cf::CfParams;
use crate::content;
use crate::evaluate::{self, Evaluation};
use crate::model::{Model, Pick, Picks, Query};
use crate::observe;
use crate::snapshot;
use crate::training::{self, TRAINING_SEED, TrainingInputs};

/// Where the snapshot lives in the object store.
const SNAPSHOT_KEY: &str = "ml/model.snapshot";
/// The most recent feedback read per request, to respect what happened after training.
const RECENT_FEEDBACK: u32 = 200;
/// What a caller is told to wait before the first model is ready.
const FIRST_MODEL_RETRY: Duration = Duration::from_secs(5);

/// What a finished training reports.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainingReport {
    pub version: String,
    pub seconds: f64,
    pub users: u64,
    pub episodes: u64,
    pub interactions: u64,
}

/// The recommender as the gRPC face uses it; cheap to clone.
#[derive(Debug, Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    model: RwLock<Option<Arc<Model>>>,
    /// Held for the whole of a training or an evaluation.
    heavy_work: tokio::sync::Mutex<()>,
    training: AtomicBool,
    catalog: Catalog,
    objects: ObjectStore,
    rag: RagServiceClient<TracedChannel>,
    settings: MlSettings,
}

impl Engine {
    pub fn new(
        catalog: Catalog,
        objects: ObjectStore,
        rag: RagServiceClient<TracedChannel>,
        settings: MlSettings,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                model: RwLock::new(None),
                heavy_work: tokio::sync::Mutex::new(()),
                training: AtomicBool::new(false),
                catalog,
                objects,
                rag,
                settings,
            }),
        }
    }

    pub fn settings(&self) -> &MlSettings {
        &self.inner.settings
    }

    pub fn catalog(&self) -> &Catalog {
        &self.inner.catalog
    }

    /// The model serving now, if any.
    pub fn current(&self) -> Option<Arc<Model>> {
        match self.inner.model.read() {
            Ok(model) => model.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub fn is_training(&self) -> bool {
        self.inner.training.load(Ordering::Relaxed)
    }

    fn install(&self, model: Arc<Model>) {
        observe::serving(&model);
        match self.inner.model.write() {
            Ok(mut slot) => *slot = Some(model),
            Err(poisoned) => *poisoned.into_inner() = Some(model),
        }
    }

    /// Serves the stored snapshot, if there is a readable one. Returns whether it did.
    pub async fn load_snapshot(&self) -> bool {
        let key = snapshot_key();
        let bytes = match self.inner.objects.get_bytes(&key).await {
            Ok(bytes) => bytes,
            Err(StoreError::NotFound(_)) => {
                tracing::info!("no model snapshot stored yet: training the first model");
                return false;
            }
            Err(error) => {
                tracing::warn!(error = %error, "cannot read the model snapshot: training afresh");
                return false;
            }
        };
        match tokio::task::spawn_blocking(move || snapshot::decode(&bytes)).await {
            Ok(Ok(model)) => {
                tracing::info!(
                    version = %model.version,
                    users = model.users.len(),
                    episodes = model.episodes.len(),
                    "serving the stored model snapshot"
                );
                self.install(Arc::new(model));
                true
            }
            Ok(Err(error)) => {
                tracing::warn!(error = %error, "the stored model snapshot is unusable: retraining");
                false
            }
            Err(error) => {
                tracing::error!(error = %error, "reading the model snapshot panicked");
                false
            }
        }
    }

    /// Trains a model on the catalog's current data, stores it and serves it.
    ///
    /// # Errors
    /// `Unavailable` when the catalog cannot be read; the old model keeps serving.
    pub async fn train(&self) -> Result<TrainingReport, ServiceError> {
        let _only_one = self.inner.heavy_work.lock().await;
        self.inner.training.store(true, Ordering::Relaxed);
        let started = Instant::now();
        let outcome = self.train_locked().await;
        observe::trained(started.elapsed(), outcome.is_ok());
        self.inner.training.store(false, Ordering::Relaxed);
        outcome
    }

    async fn train_locked(&self) -> Result<TrainingReport, ServiceError> {
        let started = Instant::now();
        let inputs = self.gather().await?;
        let settings = self.inner.settings.clone();
        let model = tokio::task::spawn_blocking(move || training::train(inputs, &settings))
            .await
            .map_err(|e| ServiceError::Internal(anyhow::anyhow!("training panicked: {e}")))?;
        let model = Arc::new(model);
        self.store_snapshot(&model).await;
        self.install(model.clone());
        let report = TrainingReport {
            version: model.version.clone(),
            seconds: started.elapsed().as_secs_f64(),
            users: model.users.len() as u64,
            episodes: model.episodes.len() as u64,
            interactions: model.events,
        };
        let chosen = model.evaluation.as_ref().map(|e| e.chosen.as_str());
        tracing::info!(
            version = %report.version,
            model = chosen.unwrap_or("none"),
            seconds = report.seconds,
            users = report.users,
            episodes = report.episodes,
            interactions = report.interactions,
            content_vectors = model.content.len(),
            "trained and swapped in a new model"
        );
        Ok(report)
    }

    /// Scores every candidate on held-out feedback, without changing what serves.
    ///
    /// # Errors
    /// `Unavailable` when the catalog cannot be read.
    pub async fn evaluate(
        &self,
        k: usize,
        holdout_fraction: f64,
        seed: u64,
    ) -> Result<Evaluation, ServiceError> {
        let _only_one = self.inner.heavy_work.lock().await;
        let inputs = self.gather().await?;
        let settings = self.inner.settings.clone();
        tokio::task::spawn_blocking(move || {
            let weighting = crate::interactions::Weighting::from_settings(&settings);
            let index = inputs
                .episodes
                .iter()
                .enumerate()
                .map(|(i, e)| (e.id.as_str(), i as u32))
                .collect();
            let dataset = crate::dataset::Dataset::build(&index, &inputs.events, &weighting);
            let params = CfParams::from_settings(&settings, TRAINING_SEED);
            evaluate::compare(&dataset.interactions, &params, k, holdout_fraction, seed)
        })
        .await
        .map_err(|e| ServiceError::Internal(anyhow::anyhow!("evaluation panicked: {e}")))
    }

    /// A user's recommendations, from the serving model and their latest feedback.
    ///
    /// # Errors
    /// `Unavailable` until the first model is trained.
    pub async fn recommend(
        &self,
        user_id: &str,
        k: usize,
        category: Option<&str>,
        exclude: &[String],
    ) -> Result<(Arc<Model>, Picks), ServiceError> {
        let model = self.require_model()?;
        let started = Instant::now();
        let catalog = &self.inner.catalog;
        let recent = match catalog
            .feedback_history(user_id, Page::first(RECENT_FEEDBACK))
            .await
        {
            Ok(recent) => recent,
            Err(error) => {
                tracing::warn!(error = %error, "cannot read recent feedback: using the model's");
                Vec::new()
            }
        };
        let preferences = match catalog.preferences(user_id).await {
            Ok(preferences) => preferences,
            Err(StoreError::NotFound(_)) => Preferences::default(),
            Err(error) => {
                tracing::warn!(error = %error, "cannot read preferences: cold start without them");
                Preferences::default()
            }
        };
        let picks = model.recommend(&Query {
            user_id,
            k,
            category,
            exclude,
            recent: &recent,
            preferences: &preferences,
        });
        let path = if picks.cold_start {
            "cold_start"
        } else {
            "personal"
        };
        observe::served(path, started.elapsed());
        Ok((model, picks))
    }

    /// Episodes like `episode_id`.
    ///
    /// # Errors
    /// `NotFound` for an episode neither the model nor the catalog knows; `Unavailable`
    /// until the first model is trained.
    pub async fn similar(
        &self,
        episode_id: &str,
        k: usize,
    ) -> Result<(Arc<Model>, Vec<Pick>), ServiceError> {
        let model = self.require_model()?;
        match model.item_of(episode_id) {
            Some(item) => {
                let started = Instant::now();
                let picks = model.similar(item, k);
                observe::served("similar", started.elapsed());
                Ok((model, picks))
            }
            None => {
                // Newer than the model: real, but nothing is known about it yet.
                self.inner.catalog.episode(episode_id).await?;
                Ok((model, Vec::new()))
            }
        }
    }

    fn require_model(&self) -> Result<Arc<Model>, ServiceError> {
        self.current().ok_or_else(|| ServiceError::Unavailable {
            message: "the first recommendation model is still being trained".to_owned(),
            retry_after: FIRST_MODEL_RETRY,
        })
    }

    async fn gather(&self) -> Result<TrainingInputs, ServiceError> {
        let catalog = &self.inner.catalog;
        let episodes = catalog.episode_index().await?;
        let categories = catalog.categories().await?;
        let events = catalog.interactions().await?;
        let vectors = content::fetch(&mut self.inner.rag.clone()).await;
        Ok(TrainingInputs {
            episodes,
            categories,
            events,
            vectors,
            now_ms: now_ms(),
        })
    }

    async fn store_snapshot(&self, model: &Arc<Model>) {
        let encoding = model.clone();
        let bytes = match tokio::task::spawn_blocking(move || snapshot::encode(&encoding)).await {
            Ok(bytes) => Bytes::from(bytes),
            Err(error) => {
                tracing::error!(error = %error, "encoding the model snapshot panicked");
                return;
            }
        };
        let size = bytes.len();
        match self
            .inner
            .objects
            .put_bytes(&snapshot_key(), bytes, "application/octet-stream")
            .await
        {
            Ok(_) => tracing::debug!(bytes = size, "stored the model snapshot"),
            // Serving goes on with the new model; only a restart would fall back.
            Err(error) => tracing::warn!(error = %error, "cannot store the model snapshot"),
        }
    }

    /// The service's background work: load the snapshot or train the first model, then
    /// retrain on the schedule, until the server stops. A training cut short by the
    /// stop is dropped whole: nothing is swapped in or stored half-done.
    pub fn background_task(&self) -> BackgroundTask {
        let engine = self.clone();
        Box::new(move |stop| Box::pin(engine.run_schedule(stop)))
    }

    async fn run_schedule(self, stop: CancellationToken) {
        let first = async {
            if !self.load_snapshot().await
                && let Err(error) = self.train().await
            {
                tracing::warn!(error = %error, "the first training failed: retrying on schedule");
            }
        };
        tokio::select! {
            () = stop.cancelled() => return,
            () = first => {}
        }
        let Some(interval) = self.inner.settings.train_interval else {
            return;
        };
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(interval) => {}
            }
            let outcome = tokio::select! {
                () = stop.cancelled() => return,
                outcome = self.train() => outcome,
            };
            if let Err(error) = outcome {
                tracing::warn!(error = %error, "scheduled training failed: the old model stays");
            }
        }
    }
}

fn snapshot_key() -> ObjectKey {
    // A constant that passes the key rules; a failure here is a programming error
    // caught by the tests.
    ObjectKey::new(SNAPSHOT_KEY).unwrap_or_else(|_| unreachable!("{SNAPSHOT_KEY} is a valid key"))
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
