//! Offline evaluation of the recommender on MovieLens-100k, through the same code the
//! service trains with: feedback events, the same weighting and decay, the same model
//! selection. `scripts/eval-recommender.sh` fetches the data and runs this.
//!
//! Protocol: every rating (or, with `PODWISE_EVAL_MIN_RATING`, every rating at least
//! that high) is one `liked` event at its timestamp; each user's positives are split at
//! random 80/20 (`PODWISE_EVAL_SEED`); models rank every item the user has not rated in
//! the training part; metrics at 10 are averaged over users. The serving model is chosen
//! on a validation split carved out of the training part only, so the reported test
//! figures are never used to pick or tune it.

use std::collections::HashMap;
use std::time::Instant;

use anyhow::{Context as _, bail};
use podwise_common::Settings;
use podwise_common::stores::catalog::{FeedbackEvent, FeedbackKind};
use podwise_ml::cf::{Candidate, CfParams, Collaborative};
use podwise_ml::dataset::Dataset;
use podwise_ml::evaluate::{Metrics, measure, select_and_train};
use podwise_ml::interactions::Weighting;

const K: usize = 10;
const TEST_FRACTION: f64 = 0.2;

fn main() -> anyhow::Result<()> {
    let path = std::env::args()
        .nth(1)
        .context("usage: movielens <path to ml-100k.inter>")?;
    let min_rating: f64 = env_or("PODWISE_EVAL_MIN_RATING", 0.0)?;
    let seed: u64 = env_or("PODWISE_EVAL_SEED", 2026)?;
    let settings = Settings::load().map_err(|e| anyhow::anyhow!("{e}"))?;
    let ml = &settings.ml;

    let (items, events) = read_ratings(&path, min_rating)?;
    let index: HashMap<&str, u32> = items
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i as u32))
        .collect();
    let dataset = Dataset::build(&index, &events, &Weighting::from_settings(ml));
    let data = &dataset.interactions;
    println!(
        "MovieLens-100k: {} users, {} items, {} positives ({})",
        data.n_users(),
        data.n_items(),
        data.n_positives(),
        if min_rating > 0.0 {
            format!("ratings >= {min_rating}")
        } else {
            "every rating".to_owned()
        }
    );
    println!(
        "protocol: per-user random {:.0}/{:.0} holdout (seed {seed}), full ranking over \
         items unrated in training, metrics at {K} averaged over users",
        (1.0 - TEST_FRACTION) * 100.0,
        TEST_FRACTION * 100.0
    );
    println!(
        "settings: factors {}, iterations {}, regularization {}, confidence {}, \
         neighbours {}, half-life {}",
        ml.factors,
        ml.iterations,
        ml.regularization,
        ml.confidence,
        ml.neighbours,
        ml.half_life.map_or("none".to_owned(), |h| format!(
            "{:.0} days",
            h.as_secs_f64() / 86_400.0
        ))
    );

    let (train, test) = data.split(TEST_FRACTION, seed);
    let params = CfParams::from_settings(ml, seed);
    let started = Instant::now();
    let (chosen, validation) = select_and_train(&train, &params, K, seed.wrapping_add(1));
    let training_seconds = started.elapsed().as_secs_f64();

    println!();
    println!(
        "{:<12} {:>12} {:>12} {:>12} {:>12} {:>14}",
        "model", "precision@10", "recall@10", "NDCG@10", "coverage@10", "validation NDCG"
    );
    let mut chosen_metrics = Metrics::default();
    for candidate in Candidate::ALL {
        let model = if candidate == chosen.kind {
            chosen.clone()
        } else {
            Collaborative::train(candidate, &train, &params)
        };
        let metrics = measure(&model, &train, &test, K);
        let validation_ndcg = validation
            .models
            .iter()
            .find(|(c, _)| *c == candidate)
            .map_or(0.0, |(_, m)| m.ndcg);
        println!(
            "{:<12} {:>12.4} {:>12.4} {:>12.4} {:>12.4} {:>14.4}",
            candidate.as_str(),
            metrics.precision,
            metrics.recall,
            metrics.ndcg,
            metrics.coverage,
            validation_ndcg
        );
        if candidate == chosen.kind {
            chosen_metrics = metrics;
        }
    }
    println!();
    println!(
        "chosen by validation: {} (selection and training took {training_seconds:.1} s)",
        chosen.kind
    );
    println!("NDCG@10 {:.4}", chosen_metrics.ndcg);
    Ok(())
}

/// The items in order of first appearance and one `liked` event per kept rating.
fn read_ratings(path: &str, min_rating: f64) -> anyhow::Result<(Vec<String>, Vec<FeedbackEvent>)> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {path}"))?;
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    if !header.starts_with("user_id:token\titem_id:token\trating:float\ttimestamp:float") {
        bail!("{path} is not a RecBole ml-100k.inter file (header {header:?})");
    }
    let mut items: Vec<String> = Vec::new();
    let mut known: HashMap<String, ()> = HashMap::new();
    let mut events = Vec::new();
    for (number, line) in lines.enumerate() {
        let fields: Vec<&str> = line.split('\t').collect();
        let [user, item, rating, timestamp] = fields[..] else {
            bail!("line {} of {path} does not have four fields", number + 2);
        };
        let rating: f64 = rating
            .parse()
            .with_context(|| format!("line {}", number + 2))?;
        let seconds: f64 = timestamp
            .parse()
            .with_context(|| format!("line {}", number + 2))?;
        if known.insert(item.to_owned(), ()).is_none() {
            items.push(item.to_owned());
        }
        if rating < min_rating {
            continue;
        }
        events.push(FeedbackEvent {
            user_id: user.to_owned(),
            episode_id: item.to_owned(),
            kind: FeedbackKind::Liked,
            at: (seconds * 1000.0) as i64,
        });
    }
    Ok((items, events))
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> anyhow::Result<T> {
    match std::env::var(name) {
        Ok(raw) => raw
            .parse()
            .map_err(|_| anyhow::anyhow!("{name}={raw:?} is not valid")),
        Err(_) => Ok(default),
    }
}
