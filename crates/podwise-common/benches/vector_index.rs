//! Measures the embedded vector index at the size of a large Podwise library: insert
//! throughput, search latency and recall@10 against an exact scan, with and without a
//! selective filter, and the time and size of a save and a load. Then the same through
//! the store's adapters, side by side: the embedded store, and Milvus when `MILVUS_HOST`
//! is set.
//!
//! Run with `cargo bench -p podwise-common --bench vector_index --features vectors`.
//! Every size and parameter can be changed through the environment:
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `PODWISE_BENCH_VECTORS` | 100000 | points inserted |
//! | `PODWISE_BENCH_QUERIES` | 1000 | queries timed |
//! | `PODWISE_BENCH_DIMENSION` | 384 | components per vector |
//! | `PODWISE_BENCH_DATA` | `clustered` | `clustered` (200 topics plus noise) or `uniform` |
//! | `PODWISE_BENCH_NOISE` | 1.0 | noise per component, relative to the topic centres |
//! | `PODWISE_BENCH_M`, `_EF_CONSTRUCTION` | the defaults | graph parameters |
//! | `PODWISE_BENCH_EF_SEARCH` | the default | `ef_search` values, comma-separated: a row each |

use std::collections::HashSet;
use std::env;
use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::time::{Duration, Instant};

use podwise_common::settings::Settings;
use podwise_common::stores::StoreError;
use podwise_common::stores::vectors::hnsw::{HnswIndex, HnswParams};
use podwise_common::stores::vectors::{
    ChunkRecord, ChunkVector, EmbeddedVectors, MilvusVectors, VectorFilter, VectorStore,
};

/// Topics in the clustered data: a library of a few hundred podcasts.
const CENTRES: usize = 200;
/// Categories of the filtered searches; one of twenty keeps 5% of the points.
const CATEGORIES: u64 = 20;
const K: usize = 10;

fn main() {
    let count: usize = setting("PODWISE_BENCH_VECTORS", 100_000);
    let queries: usize = setting("PODWISE_BENCH_QUERIES", 1_000);
    let dimension: usize = setting("PODWISE_BENCH_DIMENSION", 384);
    let clustered = env::var("PODWISE_BENCH_DATA").map_or(true, |data| data != "uniform");
    let noise: f32 = setting("PODWISE_BENCH_NOISE", 1.0);
    let defaults = HnswParams::default();
    let ef_searches: Vec<usize> = env::var("PODWISE_BENCH_EF_SEARCH").map_or_else(
        |_| vec![defaults.ef_search],
        |list| {
            list.split(',')
                .map(|ef| parse("PODWISE_BENCH_EF_SEARCH", ef))
                .collect()
        },
    );
    let params = HnswParams {
        m: setting("PODWISE_BENCH_M", defaults.m),
        ef_construction: setting("PODWISE_BENCH_EF_CONSTRUCTION", defaults.ef_construction),
        ef_search: ef_searches[0],
        ..defaults
    };

    let mut data = Data::new(dimension, clustered.then_some(noise));
    let vectors: Vec<Vec<f32>> = (0..count).map(|_| data.vector()).collect();
    let categories: Vec<u64> = (0..count)
        .map(|_| data.numbers.next() % CATEGORIES)
        .collect();
    let probes: Vec<Vec<f32>> = (0..queries).map(|_| data.vector()).collect();
    println!(
        "{count} vectors × {dimension} dimensions, {}, m {}, ef_construction {}, ef_search {}",
        if clustered {
            format!("200 topics, noise {noise}")
        } else {
            "uniform".to_owned()
        },
        params.m,
        params.ef_construction,
        params.ef_search,
    );

    let mut index = HnswIndex::new(dimension, params).expect("valid parameters");
    let started = Instant::now();
    for vector in &vectors {
        index.insert(vector).expect("a valid vector");
    }
    let took = started.elapsed();
    println!(
        "insert: {:.1} s, {:.0} vectors/s",
        took.as_secs_f64(),
        count as f64 / took.as_secs_f64()
    );

    println!();
    println!(
        "| {:<28} | p50 ms | p99 ms | recall@{K} |",
        format!("search, k = {K}")
    );
    println!("|---|---:|---:|---:|");
    let everything = |_: u32| true;
    let exact = run(&probes, |query, _| index.exact_search(query, K, everything));
    for &ef in &ef_searches {
        index.set_ef_search(ef);
        let graph = run(&probes, |query, _| index.search(query, K, everything));
        report(&format!("hnsw, ef {ef}"), &graph, &exact);
    }
    index.set_ef_search(params.ef_search);
    report("exact scan", &exact, &exact);

    // Each query filters on its own category, as a search within one podcast would.
    let categories = categories.as_slice();
    let in_category = |probe: usize| {
        let wanted = probe as u64 % CATEGORIES;
        move |slot: u32| categories[slot as usize] == wanted
    };
    let exact = run(&probes, |query, i| {
        index.exact_search(query, K, in_category(i))
    });
    let graph = run(&probes, |query, i| index.search(query, K, in_category(i)));
    report(
        &format!("hnsw, ef {}, 5% filter", params.ef_search),
        &graph,
        &exact,
    );
    report("exact scan, 5% filter", &exact, &exact);

    let file = tempfile::NamedTempFile::new().expect("a temporary file");
    let started = Instant::now();
    let mut writer = BufWriter::new(File::create(file.path()).expect("the temporary file"));
    index.write_to(&mut writer).expect("the index is saved");
    drop(writer);
    let saved = started.elapsed();
    let size = std::fs::metadata(file.path())
        .expect("the saved file")
        .len();

    let started = Instant::now();
    let mut reader = BufReader::new(File::open(file.path()).expect("the saved file"));
    let loaded = HnswIndex::read_from(&mut reader).expect("the index loads");
    let load = started.elapsed();
    assert_eq!(
        loaded.search(&probes[0], K, everything),
        index.search(&probes[0], K, everything),
        "the loaded index answers as the saved one"
    );
    println!();
    println!(
        "save: {:.2} s, load: {:.2} s, file: {:.1} MB",
        saved.as_secs_f64(),
        load.as_secs_f64(),
        size as f64 / 1e6
    );

    let truth = run(&probes, |query, _| index.exact_search(query, K, everything));
    adapters(&vectors, &probes, &truth);
}

/// Writes the same vectors through each adapter of the vector store, in ingestion-sized
/// batches with their journal or network round trips, and searches them as above: the
/// embedded store always, Milvus as well when `MILVUS_HOST` is set (for example by
/// `eval "$(scripts/dev-services.sh env)"`).
fn adapters(vectors: &[Vec<f32>], probes: &[Vec<f32>], truth: &Run) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let _inside_the_runtime = runtime.enter();
    let dimension = vectors[0].len();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let embedded = runtime
        .block_on(EmbeddedVectors::open(dir.path(), dimension))
        .expect("the embedded store opens");
    let mut stores = vec![("embedded store", VectorStore::Embedded(embedded))];
    if env::var_os("MILVUS_HOST").is_some() {
        let settings = Settings::load().expect("the Milvus settings are valid");
        let collection = format!("bench_{}", std::process::id());
        let milvus = MilvusVectors::new(&settings.milvus, &collection, dimension)
            .expect("the Milvus address is valid");
        stores.push(("milvus", VectorStore::Milvus(milvus)));
    } else {
        println!();
        println!("MILVUS_HOST is not set: measuring the embedded store only");
    }

    println!();
    println!(
        "| {:<28} | vectors/s |",
        format!("upsert, batches of {BATCH}")
    );
    println!("|---|---:|");
    for (name, store) in &stores {
        let started = Instant::now();
        for (number, batch) in vectors.chunks(BATCH).enumerate() {
            let chunks = batch
                .iter()
                .enumerate()
                .map(|(i, vector)| chunk(number * BATCH + i, vector))
                .collect();
            runtime
                .block_on(store.upsert(chunks))
                .expect("the upsert succeeds");
        }
        let rate = vectors.len() as f64 / started.elapsed().as_secs_f64();
        println!("| {name:<28} | {rate:>9.0} |");
    }

    println!();
    println!(
        "| {:<28} | p50 ms | p99 ms | recall@{K} |",
        format!("store search, k = {K}")
    );
    println!("|---|---:|---:|---:|");
    let everything = VectorFilter::default();
    for (name, store) in &stores {
        let found = run(probes, |query, _| {
            let hits = runtime.block_on(store.search(query, K, &everything))?;
            Ok::<_, StoreError>(
                hits.iter()
                    .map(|hit| (slot_of(&hit.record), hit.score))
                    .collect(),
            )
        });
        report(name, &found, truth);
    }
    for (_, store) in stores {
        if let VectorStore::Milvus(milvus) = store {
            runtime
                .block_on(milvus.drop_collection())
                .expect("the bench collection is dropped");
        }
    }
}

/// Rows per upsert: what ingesting a long episode writes at once.
const BATCH: usize = 512;

/// The chunk stored for the vector inserted `slot`-th into the index above.
fn chunk(slot: usize, vector: &[f32]) -> ChunkVector {
    ChunkVector {
        record: ChunkRecord {
            chunk_id: format!("chunk-{slot}"),
            episode_id: format!("episode-{}", slot / 20),
            podcast_id: format!("podcast-{}", slot / 2_000),
            category: "business".to_owned(),
            start_ms: (slot % 20) as i64 * 30_000,
            end_ms: (slot % 20 + 1) as i64 * 30_000,
            tags: Vec::new(),
            text: String::new(),
        },
        vector: vector.to_vec(),
    }
}

fn slot_of(record: &ChunkRecord) -> u32 {
    record.chunk_id["chunk-".len()..]
        .parse()
        .expect("a chunk written by this bench")
}

/// What a run of queries took and found.
struct Run {
    latencies: Vec<Duration>,
    results: Vec<Vec<u32>>,
}

/// Times `search` on every probe, one at a time.
fn run<E: std::fmt::Debug>(
    probes: &[Vec<f32>],
    search: impl Fn(&[f32], usize) -> Result<Vec<(u32, f32)>, E>,
) -> Run {
    let mut run = Run {
        latencies: Vec::with_capacity(probes.len()),
        results: Vec::with_capacity(probes.len()),
    };
    for (i, probe) in probes.iter().enumerate() {
        let started = Instant::now();
        let found = search(probe, i).expect("a valid query");
        run.latencies.push(started.elapsed());
        run.results
            .push(found.into_iter().map(|(slot, _)| slot).collect());
    }
    run.latencies.sort_unstable();
    run
}

/// Prints one table row: latency percentiles and the mean share of the exact top `K`
/// that `run` also found.
fn report(name: &str, run: &Run, exact: &Run) {
    let percentile = |p: f64| {
        let rank = ((run.latencies.len() - 1) as f64 * p).round() as usize;
        run.latencies[rank].as_secs_f64() * 1e3
    };
    let recall: f64 = run
        .results
        .iter()
        .zip(&exact.results)
        .map(|(found, truth)| {
            let found: HashSet<&u32> = found.iter().collect();
            let hits = truth.iter().filter(|slot| found.contains(slot)).count();
            hits as f64 / truth.len().max(1) as f64
        })
        .sum::<f64>()
        / run.results.len() as f64;
    println!(
        "| {name:<28} | {:>6.2} | {:>6.2} | {recall:>9.3} |",
        percentile(0.50),
        percentile(0.99)
    );
}

fn setting<T: std::str::FromStr>(name: &str, default: T) -> T {
    env::var(name).map_or(default, |value| parse(name, &value))
}

fn parse<T: std::str::FromStr>(name: &str, value: &str) -> T {
    value
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("{name} must be a number, got {value:?}"))
}

/// Seeded synthetic embeddings, so every run measures the same data.
struct Data {
    numbers: Numbers,
    dimension: usize,
    centres: Vec<Vec<f32>>,
    noise: f32,
}

impl Data {
    /// Uniform data without `noise`; otherwise topic centres plus `noise` times a
    /// Gaussian of the same spread as the centres.
    fn new(dimension: usize, noise: Option<f32>) -> Self {
        let mut numbers = Numbers(0x5eed);
        let centres = if noise.is_some() {
            (0..CENTRES)
                .map(|_| (0..dimension).map(|_| numbers.gaussian()).collect())
                .collect()
        } else {
            Vec::new()
        };
        Self {
            numbers,
            dimension,
            centres,
            noise: noise.unwrap_or(1.0),
        }
    }

    /// A topic centre plus noise. With noise 1, points of one topic have a cosine of
    /// about 0.5 with each other and about 0 with other topics.
    fn vector(&mut self) -> Vec<f32> {
        let mut vector: Vec<f32> = (0..self.dimension)
            .map(|_| self.noise * self.numbers.gaussian())
            .collect();
        if !self.centres.is_empty() {
            let centre = &self.centres[self.numbers.next() as usize % self.centres.len()];
            for (x, c) in vector.iter_mut().zip(centre) {
                *x += c;
            }
        }
        vector
    }
}

/// splitmix64, turned into Gaussian samples by the Box-Muller transform.
struct Numbers(u64);

impl Numbers {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1].
    fn uniform(&mut self) -> f64 {
        ((self.next() >> 11) + 1) as f64 / (1_u64 << 53) as f64
    }

    fn gaussian(&mut self) -> f32 {
        let radius = (-2.0 * self.uniform().ln()).sqrt();
        let angle = std::f64::consts::TAU * self.uniform();
        (radius * angle.cos()) as f32
    }
}
