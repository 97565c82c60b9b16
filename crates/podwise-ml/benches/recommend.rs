//! Measures the recommender at the size of a large Podwise deployment: training time of
//! the whole pipeline (model selection included), then the latency of recommendations,
//! cold-start lists and similar episodes from the trained model, in-process, and the
//! time and size of a snapshot.
//!
//! Run with `cargo bench -p podwise-ml --bench recommend`. Sizes come from the
//! environment:
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `PODWISE_BENCH_USERS` | 10000 | listeners |
//! | `PODWISE_BENCH_EPISODES` | 50000 | episodes (ten per podcast) |
//! | `PODWISE_BENCH_EVENTS_PER_USER` | 30 | feedback events per listener |
//! | `PODWISE_BENCH_DIMENSION` | 384 | content vector length (0: no vectors) |
//! | `PODWISE_BENCH_REQUESTS` | 2000 | requests timed per kind |
//! | `PODWISE_BENCH_MODEL` | the chosen one | serve `als`, `item_knn` or `blend` instead |
//!
//! The data is synthetic with planted structure: 100 taste clusters, each listener in
//! one, skewed (Zipf-like) popularity inside a cluster, 10% of episodes never heard.
//! Model settings are the service defaults (`PODWISE_ML_*` variables apply).

use std::time::{Duration, Instant};

use podwise_common::Settings;
use podwise_common::stores::catalog::{
    Category, EpisodeSummary, FeedbackEvent, FeedbackKind, Preferences,
};
use podwise_ml::cf::{Candidate, CfParams, Collaborative};
use podwise_ml::content::FetchedVectors;
use podwise_ml::model::{Model, Query};
use podwise_ml::snapshot;
use podwise_ml::training::{self, TrainingInputs};
use podwise_ml::vector::Rng;

const CLUSTERS: usize = 100;
const EPISODES_PER_PODCAST: usize = 10;
const K: usize = 10;

fn main() {
    let users: usize = setting("PODWISE_BENCH_USERS", 10_000);
    let episodes: usize = setting("PODWISE_BENCH_EPISODES", 50_000);
    let per_user: usize = setting("PODWISE_BENCH_EVENTS_PER_USER", 30);
    let dim: usize = setting("PODWISE_BENCH_DIMENSION", 384);
    let requests: usize = setting("PODWISE_BENCH_REQUESTS", 2000);
    let settings = Settings::load().unwrap_or_else(|e| panic!("{e}"));

    let inputs = synthetic(users, episodes, per_user, dim);
    println!(
        "{users} listeners, {episodes} episodes, {} events, content vectors of {dim}",
        inputs.events.len()
    );

    let started = Instant::now();
    let model = training::train(inputs, &settings.ml);
    let training_time = started.elapsed();
    let chosen = model
        .evaluation
        .as_ref()
        .map_or("none", |e| e.chosen.as_str());
    println!(
        "training (selection on a validation split, then the chosen model on all): {:.1} s, \
         chose {chosen}",
        training_time.as_secs_f64()
    );
    if let Some(evaluation) = &model.evaluation {
        for (candidate, m) in &evaluation.models {
            println!("  validation {candidate:<10} NDCG@10 {:.4}", m.ndcg);
        }
    }

    let model = match std::env::var("PODWISE_BENCH_MODEL") {
        Ok(name) => {
            let kind: Candidate = name.parse().unwrap_or_else(|e| panic!("{e}"));
            let params = CfParams::from_settings(&settings.ml, training::TRAINING_SEED);
            let mut parts = model.parts();
            parts.cf = Collaborative::train(kind, &parts.interactions, &params);
            println!("serving {kind} instead, as PODWISE_BENCH_MODEL asks");
            Model::new(parts)
        }
        Err(_) => model,
    };

    let mut rng = Rng::new(42);
    let preferences = Preferences {
        categories: vec!["business".into()],
        tags: vec!["tag-3".into()],
    };
    let no_preferences = Preferences::default();
    let known: Vec<String> = (0..requests)
        .map(|_| model.users[rng.below(model.users.len())].clone())
        .collect();
    let (raw, best) = time(&known, |user| recommend(&model, user, &no_preferences));
    report("recommend, known listener", &raw, &best);
    let newcomers: Vec<String> = (0..requests).map(|i| format!("new-listener-{i}")).collect();
    let (raw, best) = time(&newcomers, |user| recommend(&model, user, &preferences));
    report("recommend, cold start", &raw, &best);
    let items: Vec<u32> = (0..requests)
        .map(|_| rng.below(model.episodes.len()) as u32)
        .collect();
    let (raw, best) = time(&items, |&item| model.similar(item, K).len());
    report("similar episodes", &raw, &best);

    let started = Instant::now();
    let bytes = snapshot::encode(&model);
    let encoded = started.elapsed();
    let started = Instant::now();
    let restored = snapshot::decode(&bytes).unwrap_or_else(|e| panic!("{e}"));
    let decoded = started.elapsed();
    assert_eq!(restored.version, model.version);
    println!(
        "snapshot: {:.1} MB, written in {} ms, read in {} ms",
        bytes.len() as f64 / 1e6,
        encoded.as_millis(),
        decoded.as_millis()
    );
}

fn recommend(model: &Model, user: &str, preferences: &Preferences) -> usize {
    model
        .recommend(&Query {
            user_id: user,
            k: K,
            category: None,
            exclude: &[],
            recent: &[],
            preferences,
        })
        .items
        .len()
}

/// Times `f` on every input, each three times: returns the first timings and, per
/// input, the fastest of the three, both sorted. On a shared machine the first include
/// every preemption by other processes; the fastest show what a request itself costs.
fn time<T>(inputs: &[T], mut f: impl FnMut(&T) -> usize) -> (Vec<Duration>, Vec<Duration>) {
    let mut sink = 0;
    for input in inputs.iter().take(inputs.len() / 10) {
        sink += f(input);
    }
    let mut first = Vec::with_capacity(inputs.len());
    let mut fastest = Vec::with_capacity(inputs.len());
    for input in inputs {
        let runs: Vec<Duration> = (0..3)
            .map(|_| {
                let started = Instant::now();
                sink += f(input);
                started.elapsed()
            })
            .collect();
        first.push(runs[0]);
        fastest.extend(runs.iter().min());
    }
    assert!(sink > 0, "every request returned nothing");
    first.sort_unstable();
    fastest.sort_unstable();
    (first, fastest)
}

fn report(what: &str, first: &[Duration], fastest: &[Duration]) {
    let ms = |sorted: &[Duration], q: f64| {
        sorted[((sorted.len() - 1) as f64 * q).round() as usize].as_secs_f64() * 1e3
    };
    println!(
        "{what:<26} p50 {:>6.3} ms  p99 {:>6.3} ms  max {:>6.3} ms | fastest of 3: \
         p50 {:>6.3} ms  p99 {:>6.3} ms  ({} requests)",
        ms(first, 0.5),
        ms(first, 0.99),
        ms(first, 1.0),
        ms(fastest, 0.5),
        ms(fastest, 0.99),
        first.len()
    );
}

fn synthetic(users: usize, episodes: usize, per_user: usize, dim: usize) -> TrainingInputs {
    let mut rng = Rng::new(7);
    let cluster_of = |episode: usize| (episode / EPISODES_PER_PODCAST) % CLUSTERS;
    let summaries: Vec<EpisodeSummary> = (0..episodes)
        .map(|e| EpisodeSummary {
            id: format!("episode-{e}"),
            podcast_id: format!("podcast-{}", e / EPISODES_PER_PODCAST),
            title: format!("Episode {e}"),
            category_id: if cluster_of(e) % 2 == 0 {
                "business"
            } else {
                "education"
            }
            .into(),
            podcast_rating: Some(3.0 + (e % 5) as f64 * 0.4),
            published_at: Some(e as i64),
            tags: vec![format!("tag-{}", e % 20)],
        })
        .collect();
    // Episodes of each cluster, of which the last tenth are never heard.
    let mut by_cluster: Vec<Vec<usize>> = vec![Vec::new(); CLUSTERS];
    for e in 0..episodes {
        by_cluster[cluster_of(e)].push(e);
    }
    let kinds = [
        FeedbackKind::PreviewPlayed,
        FeedbackKind::Liked,
        FeedbackKind::Completed,
        FeedbackKind::Skipped,
    ];
    let mut events = Vec::with_capacity(users * per_user);
    for u in 0..users {
        let members = &by_cluster[u % CLUSTERS];
        let heard = members.len() * 9 / 10;
        for n in 0..per_user {
            // Squaring a uniform draw skews choices towards the cluster's first episodes.
            let draw = rng.next_f32();
            let episode = if rng.below(10) == 0 {
                rng.below(episodes * 9 / 10)
            } else {
                members[((draw * draw) * heard as f32) as usize]
            };
            events.push(FeedbackEvent {
                user_id: format!("user-{u}"),
                episode_id: format!("episode-{episode}"),
                kind: kinds[n % kinds.len()],
                at: 1_700_000_000_000 + (u * per_user + n) as i64 * 1000,
            });
        }
    }
    let vectors = if dim == 0 {
        FetchedVectors::default()
    } else {
        FetchedVectors {
            model: "synthetic".into(),
            episodes: (0..episodes)
                .map(|e| {
                    let mut v: Vec<f32> = (0..dim).map(|_| rng.next_f32() * 0.2).collect();
                    v[cluster_of(e) % dim] += 1.0;
                    (format!("episode-{e}"), v)
                })
                .collect(),
        }
    };
    TrainingInputs {
        episodes: summaries,
        categories: vec![
            Category {
                id: "business".into(),
                name_zh: "商業".into(),
                name_en: "Business".into(),
            },
            Category {
                id: "education".into(),
                name_zh: "教育".into(),
                name_en: "Education".into(),
            },
        ],
        events,
        vectors,
        now_ms: 1_800_000_000_000,
    }
}

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
