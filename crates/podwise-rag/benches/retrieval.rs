//! Retrieval at the size of a large library: hybrid search (dense HNSW plus BM25, fused
//! and reranked) over 100,000 chunks, side by side with an exact scan of the same
//! vectors, and the answer assembled from it without generation.
//!
//! Run with `cargo bench -p podwise-rag --bench retrieval`. The question's embedding is
//! the LLM service's work (timed in `crates/podwise-llm/benches`), so queries arrive
//! here as vectors; everything after that is the service's own path: the vector store,
//! the lexical index, fusion, reranking with the catalog's ratings, citations from the
//! catalog, and the extractive answer.
//!
//! The library is synthetic but shaped like a real one: episodes on topics (a topic's
//! chunks lie near its centre, with noise), chunk words drawn from the topic's own
//! words and a shared everyday vocabulary. Sizes come from the environment:
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `PODWISE_BENCH_CHUNKS` | 100000 | chunks indexed |
//! | `PODWISE_BENCH_QUERIES` | 300 | questions timed |
//! | `PODWISE_BENCH_NOISE` | 0.6 | noise per component, relative to the topic centres |

use std::env;
use std::sync::Arc;
use std::time::{Duration, Instant};

use podwise_common::stores::catalog::{NewEpisode, Podcast};
use podwise_common::stores::vectors::{ChunkRecord, ChunkVector, VectorFilter};
use podwise_common::testing::settings_with;
use podwise_rag::answer::citations::cite;
use podwise_rag::answer::compose::extractive;
use podwise_rag::library::Library;
use podwise_rag::llm::Llm;
use podwise_rag::search::{self, Query};

const DIMENSION: usize = 384;
const CHUNKS_PER_EPISODE: usize = 20;
const EPISODES_PER_PODCAST: usize = 20;
const TOPICS: usize = 1_000;
const WORDS_PER_TOPIC: usize = 12;
const EVERYDAY_WORDS: usize = 3_000;
const K: usize = 10;

/// A small deterministic generator, so every run indexes the same library.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    /// Roughly normal: the sum of four uniforms, centred.
    fn normal(&mut self) -> f32 {
        let sum: f32 = (0..4)
            .map(|_| (self.next() % 10_000) as f32 / 10_000.0)
            .sum();
        (sum - 2.0) * 1.7
    }
}

/// A word the tokenizer keeps whole: lowercase letters, none that plural folding strips.
fn word(mut n: usize) -> String {
    const LETTERS: &[u8] = b"abcdefghijklmnopqr";
    let mut word = String::from("z");
    loop {
        word.push(LETTERS[n % LETTERS.len()] as char);
        n /= LETTERS.len();
        if n == 0 {
            return word;
        }
    }
}

fn unit(mut vector: Vec<f32>) -> Vec<f32> {
    let norm = vector.iter().map(|v| v * v).sum::<f32>().sqrt();
    vector.iter_mut().for_each(|v| *v /= norm);
    vector
}

fn near(centre: &[f32], noise: f32, rng: &mut Rng) -> Vec<f32> {
    let scale = noise / (DIMENSION as f32).sqrt();
    unit(centre.iter().map(|c| c + scale * rng.normal()).collect())
}

fn topic_word(topic: usize, rng: &mut Rng) -> String {
    word(EVERYDAY_WORDS + topic * WORDS_PER_TOPIC + rng.below(WORDS_PER_TOPIC))
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[at].as_secs_f64() * 1000.0
}

fn setting<T: std::str::FromStr>(name: &str, default: T) -> T {
    env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let chunks: usize = setting("PODWISE_BENCH_CHUNKS", 100_000);
    let queries: usize = setting("PODWISE_BENCH_QUERIES", 300);
    let noise: f32 = setting("PODWISE_BENCH_NOISE", 0.6);
    let episodes = chunks.div_ceil(CHUNKS_PER_EPISODE);
    let podcasts = episodes.div_ceil(EPISODES_PER_PODCAST);

    let settings = settings_with(&[("LLM_URL", "http://127.0.0.1:1")]);
    let channel = podwise_common::grpc_client::channel(&settings.services.llm)?;
    let library = Arc::new(Library::open(&settings, Llm::new(channel, &settings.rag)).await?);
    let mut rng = Rng(0x5eed_cafe_f00d_d00d);
    let centres: Vec<Vec<f32>> = (0..TOPICS)
        .map(|_| unit((0..DIMENSION).map(|_| rng.normal()).collect()))
        .collect();

    println!("building a library of {chunks} chunks ({episodes} episodes, {podcasts} podcasts)");
    let started = Instant::now();
    for p in 0..podcasts {
        library
            .catalog
            .upsert_podcast(&Podcast {
                id: format!("pod-{p}"),
                title: format!("Podcast {p}"),
                author: String::new(),
                description: String::new(),
                category_id: if p.is_multiple_of(2) {
                    "business"
                } else {
                    "education"
                }
                .to_owned(),
                language: "en".to_owned(),
                image_url: None,
                rss_url: None,
                rating: Some((p % 5) as f64 + 0.5),
            })
            .await?;
    }
    let mut episode_ids = Vec::with_capacity(episodes);
    let mut episode_topics = Vec::with_capacity(episodes);
    for e in 0..episodes {
        let id = library
            .catalog
            .upsert_episode(&NewEpisode {
                podcast_id: format!("pod-{}", e / EPISODES_PER_PODCAST),
                guid: format!("ep-{e}"),
                title: format!("Episode {e}"),
                description: String::new(),
                published_at: None,
                duration_ms: None,
                language: "en".to_owned(),
                audio_key: None,
                preview_key: None,
                tags: Vec::new(),
            })
            .await?;
        episode_ids.push(id);
        episode_topics.push(rng.below(TOPICS));
    }
    let catalog_seconds = started.elapsed().as_secs_f64();

    let started = Instant::now();
    let mut vectors: Vec<(String, usize, Vec<f32>)> = Vec::with_capacity(chunks);
    let mut batch = Vec::new();
    for c in 0..chunks {
        let e = c / CHUNKS_PER_EPISODE;
        let topic = episode_topics[e];
        let mut words: Vec<String> = (0..25).map(|_| topic_word(topic, &mut rng)).collect();
        words.extend((0..45).map(|_| word(rng.below(EVERYDAY_WORDS))));
        let vector = near(&centres[topic], noise, &mut rng);
        let p = e / EPISODES_PER_PODCAST;
        let record = ChunkRecord {
            chunk_id: format!("{}:{}", episode_ids[e], c % CHUNKS_PER_EPISODE),
            episode_id: episode_ids[e].clone(),
            podcast_id: format!("pod-{p}"),
            category: if p.is_multiple_of(2) {
                "business"
            } else {
                "education"
            }
            .to_owned(),
            start_ms: (c % CHUNKS_PER_EPISODE) as i64 * 60_000,
            end_ms: (c % CHUNKS_PER_EPISODE) as i64 * 60_000 + 59_000,
            tags: Vec::new(),
            text: words.join(" "),
        };
        vectors.push((record.chunk_id.clone(), topic, vector.clone()));
        batch.push(ChunkVector { record, vector });
        if batch.len() == 1_000 {
            library.vectors.upsert(std::mem::take(&mut batch)).await?;
        }
    }
    library.vectors.upsert(batch).await?;
    let vector_seconds = started.elapsed().as_secs_f64();

    let started = Instant::now();
    let loaded = library.load_lexical_index().await?;
    let lexical_seconds = started.elapsed().as_secs_f64();
    println!(
        "catalog {catalog_seconds:.1} s, vectors {vector_seconds:.1} s, lexical index rebuilt \
         from the vector store in {lexical_seconds:.1} s ({loaded} chunks)"
    );

    let mut hybrid = Vec::with_capacity(queries);
    let mut assembled = Vec::with_capacity(queries);
    let mut dense_store = Vec::with_capacity(queries);
    let mut exact = Vec::with_capacity(queries);
    let (mut recall_hits, mut on_topic) = (0usize, 0usize);
    for _ in 0..queries {
        let e = rng.below(episodes);
        let topic = episode_topics[e];
        let vector = near(&centres[topic], noise, &mut rng);
        let mut words: Vec<String> = (0..3).map(|_| topic_word(topic, &mut rng)).collect();
        words.extend((0..2).map(|_| word(rng.below(EVERYDAY_WORDS))));
        let query = Query {
            text: words.join(" "),
            k: 6,
            per_episode: 2,
            ..Query::default()
        };

        let started = Instant::now();
        let passages = search::retrieve(&library, &query, &vector).await?;
        hybrid.push(started.elapsed());
        let top_topic = passages.first().and_then(|p| {
            vectors
                .iter()
                .find(|(id, _, _)| *id == p.record.chunk_id)
                .map(|(_, t, _)| *t)
        });
        on_topic += usize::from(top_topic == Some(topic));

        let started = Instant::now();
        let passages = search::retrieve(&library, &query, &vector).await?;
        let (_, sources) = cite(&library, &passages).await?;
        let answer = extractive("en", &sources);
        assembled.push(started.elapsed());
        assert!(!answer.is_empty());

        let started = Instant::now();
        let found = library
            .vectors
            .search(&vector, K, &VectorFilter::default())
            .await?;
        dense_store.push(started.elapsed());

        let started = Instant::now();
        let mut scored: Vec<(f32, &str)> = vectors
            .iter()
            .map(|(id, _, v)| (dot(v, &vector), id.as_str()))
            .collect();
        scored.select_nth_unstable_by(K - 1, |a, b| b.0.total_cmp(&a.0));
        exact.push(started.elapsed());
        let truth: Vec<&str> = scored[..K].iter().map(|(_, id)| *id).collect();
        recall_hits += found
            .iter()
            .filter(|hit| truth.contains(&hit.record.chunk_id.as_str()))
            .count();
    }
    for timings in [&mut hybrid, &mut assembled, &mut dense_store, &mut exact] {
        timings.sort();
    }
    let recall = recall_hits as f64 / (queries * K) as f64;
    let row = |name: &str, t: &[Duration]| {
        println!(
            "| {name} | {:.2} | {:.2} |",
            percentile(t, 0.5),
            percentile(t, 0.99)
        )
    };
    println!("\n{queries} questions over {chunks} chunks, one request at a time:\n");
    println!("| path | p50 ms | p99 ms |");
    println!("|---|---:|---:|");
    row("hybrid retrieval (dense + BM25, fused, reranked)", &hybrid);
    row(
        "answer without generation (retrieval, citations, extractive text)",
        &assembled,
    );
    row("dense search alone (vector store, k = 10)", &dense_store);
    row("exact scan of the same vectors (reference)", &exact);
    println!(
        "\ndense recall@{K} against the exact scan: {recall:.3}; top passage on the \
         question's topic: {:.3}; hybrid p50 is {:.2}x the exact scan's",
        on_topic as f64 / queries as f64,
        percentile(&hybrid, 0.5) / percentile(&exact, 0.5)
    );
    Ok(())
}
