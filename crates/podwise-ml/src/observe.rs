//! The service's metrics.
//!
//! | metric | kind | labels |
//! |---|---|---|
//! | `podwise_ml_recommend_seconds` | histogram | `path` (`personal`, `cold_start`, `similar`) |
//! | `podwise_ml_recommendations_total` | counter | `path` |
//! | `podwise_ml_training_seconds` | histogram | `outcome` (`ok`, `failed`) |
//! | `podwise_ml_model_trained_at_seconds` | gauge | |
//! | `podwise_ml_model_users` | gauge | |
//! | `podwise_ml_model_episodes` | gauge | |
//! | `podwise_ml_content_vectors` | gauge | |
//!
//! Request time covers the model's work and the catalog reads before it. The trained-at
//! gauge (Unix seconds) lets an alert fire when scheduled training has stopped.

use std::time::Duration;

use podwise_common::metrics::metric_name;

use crate::model::Model;

pub(crate) fn served(path: &'static str, took: Duration) {
    metrics::histogram!(metric_name("ml", "recommend_seconds"), "path" => path).record(took);
    metrics::counter!(metric_name("ml", "recommendations_total"), "path" => path).increment(1);
}

pub(crate) fn trained(took: Duration, ok: bool) {
    let outcome = if ok { "ok" } else { "failed" };
    metrics::histogram!(metric_name("ml", "training_seconds"), "outcome" => outcome).record(took);
}

pub(crate) fn serving(model: &Model) {
    metrics::gauge!(metric_name("ml", "model_trained_at_seconds"))
        .set(model.trained_at_ms as f64 / 1000.0);
    metrics::gauge!(metric_name("ml", "model_users")).set(model.users.len() as f64);
    metrics::gauge!(metric_name("ml", "model_episodes")).set(model.episodes.len() as f64);
    metrics::gauge!(metric_name("ml", "content_vectors")).set(model.content.len() as f64);
}
