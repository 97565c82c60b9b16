//! The vectors conformance suite: each test runs on the embedded index and on Milvus.

use std::time::Duration;

use podwise_common::stores::StoreError;
use podwise_common::stores::vectors::{
    ChunkRecord, ChunkVector, EmbeddedVectors, MAX_SEARCH_K, VectorFilter, VectorStore,
};
use podwise_common::testing::{dev_server_settings, settings_with};
use tempfile::TempDir;

/// Small vectors keep the suite fast; the dimension is still checked everywhere.
const DIMENSION: usize = 8;

struct Fixture {
    store: VectorStore,
    _dir: TempDir,
}

async fn embedded() -> Fixture {
    let dir = TempDir::new().expect("temp dir");
    let settings = settings_with(&[("PODWISE_DATA_DIR", dir.path().to_str().expect("utf-8"))]);
    let store = VectorStore::open(&settings, DIMENSION)
        .await
        .expect("embedded vectors open");
    assert_eq!(store.adapter(), "embedded");
    Fixture { store, _dir: dir }
}

/// A Milvus store in a collection of its own.
async fn milvus() -> Option<Fixture> {
    let mut settings = dev_server_settings("vectors (Milvus)", "MILVUS_HOST")?;
    settings.milvus.collection = format!("test_{}", uuid::Uuid::new_v4().simple());
    let store = VectorStore::open(&settings, DIMENSION)
        .await
        .expect("milvus vectors open");
    assert_eq!(store.adapter(), "milvus");
    Some(Fixture {
        store,
        _dir: TempDir::new().expect("temp dir"),
    })
}

async fn drop_milvus_collection(store: &VectorStore) {
    if let VectorStore::Milvus(milvus) = store {
        milvus.drop_collection().await.expect("drop the collection");
    }
}

macro_rules! conformance {
    ($($test:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test]
                async fn $test() {
                    super::$test(super::embedded().await.store).await;
                }
            )*
        }
        mod milvus {
            $(
                #[tokio::test]
                async fn $test() {
                    if let Some(fixture) = super::milvus().await {
                        super::$test(fixture.store.clone()).await;
                        super::drop_milvus_collection(&fixture.store).await;
                    }
                }
            )*
        }
    };
}

conformance!(
    the_store_reports_itself_ready,
    the_nearest_chunk_comes_first_with_its_chinese_text_and_tags_intact,
    writing_a_chunk_again_replaces_it,
    deleting_an_episode_removes_its_chunks_and_no_others,
    a_search_keeps_to_the_category_and_podcasts_asked_for,
    an_episodes_chunks_come_back_in_spoken_order_as_unit_vectors,
    a_batch_with_one_bad_chunk_is_refused_whole,
    queries_that_cannot_be_answered_are_refused,
);

/// A unit-ish vector pointing mostly along `axis`, tilted towards the next axis.
fn towards(axis: usize, tilt: f32) -> Vec<f32> {
    let mut vector = vec![0.0; DIMENSION];
    vector[axis % DIMENSION] = 1.0;
    vector[(axis + 1) % DIMENSION] = tilt;
    vector
}

fn chunk(id: &str, episode: &str, podcast: &str, category: &str, vector: Vec<f32>) -> ChunkVector {
    ChunkVector {
        record: ChunkRecord {
            chunk_id: id.to_owned(),
            episode_id: episode.to_owned(),
            podcast_id: podcast.to_owned(),
            category: category.to_owned(),
            start_ms: 0,
            end_ms: 30_000,
            tags: Vec::new(),
            text: format!("chunk {id}"),
        },
        vector,
    }
}

fn ids(hits: &[podwise_common::stores::vectors::VectorHit]) -> Vec<&str> {
    hits.iter().map(|h| h.record.chunk_id.as_str()).collect()
}

async fn the_store_reports_itself_ready(store: VectorStore) {
    store.check().await.expect("ready");
    assert_eq!(store.dimension(), DIMENSION);
}

async fn the_nearest_chunk_comes_first_with_its_chinese_text_and_tags_intact(store: VectorStore) {
    let mut spoken = chunk("ep1-0", "ep1", "pod1", "business", towards(0, 0.1));
    spoken.record.text = "今天我們聊臺灣的半導體產業，還有「護國神山」這個說法。".to_owned();
    spoken.record.tags = vec!["半導體".to_owned(), "投資".to_owned()];
    spoken.record.start_ms = 61_500;
    spoken.record.end_ms = 95_250;
    store
        .upsert(vec![
            spoken.clone(),
            chunk("ep1-1", "ep1", "pod1", "business", towards(2, 0.0)),
            chunk("ep2-0", "ep2", "pod2", "education", towards(4, 0.0)),
        ])
        .await
        .expect("upsert");

    let hits = store
        .search(&towards(0, 0.0), 3, &VectorFilter::default())
        .await
        .expect("search");

    assert_eq!(hits.len(), 3, "{hits:?}");
    assert_eq!(hits[0].record, spoken.record);
    assert!(
        hits[0].score > 0.99 && hits[0].score <= 1.0001,
        "{}",
        hits[0].score
    );
    assert!(
        hits[1].score < 0.01,
        "orthogonal chunks score about 0: {hits:?}"
    );
}

async fn writing_a_chunk_again_replaces_it(store: VectorStore) {
    let first = chunk("ep1-0", "ep1", "pod1", "business", towards(0, 0.0));
    store.upsert(vec![first]).await.expect("first write");
    let mut second = chunk("ep1-0", "ep1", "pod1", "business", towards(3, 0.0));
    second.record.text = "改寫過的段落".to_owned();
    store
        .upsert(vec![second.clone()])
        .await
        .expect("second write");

    let hits = store
        .search(&towards(3, 0.0), 10, &VectorFilter::default())
        .await
        .expect("search");

    assert_eq!(ids(&hits), ["ep1-0"]);
    assert_eq!(hits[0].record.text, "改寫過的段落");
    assert!(hits[0].score > 0.99);
    let chunks = store.episode_chunks("ep1").await.expect("episode chunks");
    assert_eq!(chunks.len(), 1);
}

async fn deleting_an_episode_removes_its_chunks_and_no_others(store: VectorStore) {
    store
        .upsert(vec![
            chunk("ep1-0", "ep1", "pod1", "business", towards(0, 0.0)),
            chunk("ep1-1", "ep1", "pod1", "business", towards(0, 0.2)),
            chunk("ep2-0", "ep2", "pod1", "business", towards(0, 0.4)),
        ])
        .await
        .expect("upsert");

    store.delete_episode("ep1").await.expect("delete");
    store
        .delete_episode("never-ingested")
        .await
        .expect("deleting nothing succeeds");

    let hits = store
        .search(&towards(0, 0.0), 10, &VectorFilter::default())
        .await
        .expect("search");
    assert_eq!(ids(&hits), ["ep2-0"]);
    assert!(
        store
            .episode_chunks("ep1")
            .await
            .expect("chunks")
            .is_empty()
    );
}

async fn a_search_keeps_to_the_category_and_podcasts_asked_for(store: VectorStore) {
    store
        .upsert(vec![
            chunk("a", "ep-a", "pod1", "business", towards(0, 0.0)),
            chunk("b", "ep-b", "pod2", "business", towards(0, 0.1)),
            chunk("c", "ep-c", "pod3", "education", towards(0, 0.2)),
            chunk("d", "ep-d", "pod2", "education", towards(0, 0.3)),
        ])
        .await
        .expect("upsert");
    let query = towards(0, 0.0);
    let search = |filter: VectorFilter| {
        let store = store.clone();
        let query = query.clone();
        async move { store.search(&query, 10, &filter).await.expect("search") }
    };

    let education = search(VectorFilter {
        category: Some("education".to_owned()),
        ..VectorFilter::default()
    })
    .await;
    let pod2 = search(VectorFilter {
        podcast_ids: vec!["pod2".to_owned()],
        ..VectorFilter::default()
    })
    .await;
    let pod1_or_3_in_business = search(VectorFilter {
        category: Some("business".to_owned()),
        podcast_ids: vec!["pod1".to_owned(), "pod3".to_owned()],
    })
    .await;
    let unknown_category = search(VectorFilter {
        category: Some("gardening".to_owned()),
        ..VectorFilter::default()
    })
    .await;

    assert_eq!(ids(&education), ["c", "d"]);
    assert_eq!(ids(&pod2), ["b", "d"]);
    assert_eq!(ids(&pod1_or_3_in_business), ["a"]);
    assert!(unknown_category.is_empty());
}

async fn an_episodes_chunks_come_back_in_spoken_order_as_unit_vectors(store: VectorStore) {
    let mut later = chunk("ep1-1", "ep1", "pod1", "business", vec![3.0; DIMENSION]);
    later.record.start_ms = 30_000;
    later.record.end_ms = 60_000;
    let earlier = chunk("ep1-0", "ep1", "pod1", "business", towards(1, 0.0));
    store
        .upsert(vec![
            later,
            earlier,
            chunk("ep2-0", "ep2", "pod1", "business", towards(2, 0.0)),
        ])
        .await
        .expect("upsert");

    let chunks = store.episode_chunks("ep1").await.expect("episode chunks");

    let order: Vec<&str> = chunks.iter().map(|c| c.record.chunk_id.as_str()).collect();
    assert_eq!(order, ["ep1-0", "ep1-1"]);
    let expected = 1.0 / (DIMENSION as f32).sqrt();
    assert!(
        chunks[1].vector.iter().all(|x| (x - expected).abs() < 1e-5),
        "{:?}",
        chunks[1].vector
    );
    assert!(
        store
            .episode_chunks("unknown")
            .await
            .expect("chunks")
            .is_empty()
    );
}

async fn a_batch_with_one_bad_chunk_is_refused_whole(store: VectorStore) {
    let good = chunk("good", "ep1", "pod1", "business", towards(0, 0.0));
    let short = chunk("short", "ep1", "pod1", "business", vec![1.0; DIMENSION - 1]);
    let zero = chunk("zero", "ep1", "pod1", "business", vec![0.0; DIMENSION]);
    let nan = chunk("nan", "ep1", "pod1", "business", vec![f32::NAN; DIMENSION]);
    let mut long_id = chunk("x", "ep1", "pod1", "business", towards(0, 0.0));
    long_id.record.chunk_id = "x".repeat(200);
    let mut piped_tag = chunk("tag", "ep1", "pod1", "business", towards(0, 0.0));
    piped_tag.record.tags = vec!["a|b".to_owned()];

    for bad in [short, zero, nan, long_id, piped_tag] {
        let refused = store.upsert(vec![good.clone(), bad.clone()]).await;
        assert!(
            matches!(refused, Err(StoreError::Invalid(_))),
            "{:?}: {refused:?}",
            bad.record.chunk_id
        );
    }

    let hits = store
        .search(&towards(0, 0.0), 10, &VectorFilter::default())
        .await
        .expect("search");
    assert!(
        hits.is_empty(),
        "nothing of a refused batch is written: {hits:?}"
    );
}

async fn queries_that_cannot_be_answered_are_refused(store: VectorStore) {
    store
        .upsert(vec![chunk("a", "ep1", "pod1", "business", towards(0, 0.0))])
        .await
        .expect("upsert");
    let all = VectorFilter::default();

    let wrong_dimension = store.search(&[1.0; DIMENSION + 1], 5, &all).await;
    let zero = store.search(&[0.0; DIMENSION], 5, &all).await;
    let too_many = store.search(&towards(0, 0.0), MAX_SEARCH_K + 1, &all).await;

    for refused in [wrong_dimension, zero, too_many] {
        assert!(
            matches!(refused, Err(StoreError::Invalid(_))),
            "{refused:?}"
        );
    }
    let none = store
        .search(&towards(0, 0.0), 0, &all)
        .await
        .expect("k = 0");
    assert!(none.is_empty());
}

// Embedded only: what the index keeps on disk.

#[tokio::test]
async fn what_the_embedded_index_acknowledged_survives_a_restart() {
    let dir = TempDir::new().expect("temp dir");
    let store = VectorStore::Embedded(
        EmbeddedVectors::open(dir.path(), DIMENSION)
            .await
            .expect("open"),
    );
    store
        .upsert(vec![
            chunk("ep1-0", "ep1", "pod1", "business", towards(0, 0.0)),
            chunk("ep2-0", "ep2", "pod1", "business", towards(1, 0.0)),
        ])
        .await
        .expect("upsert");
    store.delete_episode("ep2").await.expect("delete");
    drop(store);

    let reopened = VectorStore::Embedded(
        EmbeddedVectors::open(dir.path(), DIMENSION)
            .await
            .expect("reopen"),
    );
    let hits = reopened
        .search(&towards(0, 0.0), 10, &VectorFilter::default())
        .await
        .expect("search");
    assert_eq!(ids(&hits), ["ep1-0"]);
}

#[tokio::test]
async fn the_embedded_index_survives_restarts_across_snapshots_and_rebuilds() {
    let dir = TempDir::new().expect("temp dir");
    // A small journal limit writes a snapshot every hundred writes or so.
    let open = || EmbeddedVectors::open_with(dir.path(), DIMENSION, 20_000);
    let store = VectorStore::Embedded(open().await.expect("open"));
    // Re-writing the same chunk leaves a removed slot each time; once they outnumber
    // the live ones by a thousand, a snapshot rebuilds the index without them.
    let rounds = 1_500;
    for round in 0..rounds {
        let tilt = (round % 7) as f32 / 10.0;
        store
            .upsert(vec![chunk(
                "ep1-0",
                "ep1",
                "pod1",
                "business",
                towards(0, tilt),
            )])
            .await
            .expect("upsert");
    }
    store
        .upsert(vec![chunk(
            "ep2-0",
            "ep2",
            "pod2",
            "education",
            towards(5, 0.0),
        )])
        .await
        .expect("upsert");
    drop(store);

    let snapshot = std::fs::metadata(dir.path().join("snapshot")).expect("a snapshot");
    let every_slot_kept = (rounds * DIMENSION * 4) as u64;
    assert!(snapshot.len() < every_slot_kept, "{} bytes", snapshot.len());
    let reopened = VectorStore::Embedded(open().await.expect("reopen"));
    let hits = reopened
        .search(&towards(0, 0.0), 10, &VectorFilter::default())
        .await
        .expect("search");
    assert_eq!(ids(&hits), ["ep1-0", "ep2-0"]);
    let tilt = ((rounds - 1) % 7) as f32 / 10.0;
    let expected = towards(0, tilt);
    let norm = expected.iter().map(|x| x * x).sum::<f32>().sqrt();
    let stored = &reopened.episode_chunks("ep1").await.expect("chunks")[0].vector;
    assert!(
        (stored[1] - tilt / norm).abs() < 1e-5,
        "the last write wins: {stored:?}"
    );
}

#[tokio::test]
async fn an_embedded_index_of_another_dimension_is_refused_with_the_reason() {
    let dir = TempDir::new().expect("temp dir");
    let store = EmbeddedVectors::open_with(dir.path(), DIMENSION, 1)
        .await
        .expect("open");
    VectorStore::Embedded(store)
        .upsert(vec![chunk("a", "ep1", "pod1", "business", towards(0, 0.0))])
        .await
        .expect("upsert");

    let refused = EmbeddedVectors::open(dir.path(), DIMENSION * 2).await;

    match refused {
        Err(StoreError::Invalid(message)) => {
            assert!(message.contains("8-dimensional"), "{message}")
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[tokio::test]
async fn a_second_process_cannot_open_an_embedded_index_in_use() {
    let dir = TempDir::new().expect("temp dir");
    let first = EmbeddedVectors::open(dir.path(), DIMENSION)
        .await
        .expect("open");

    let second = EmbeddedVectors::open(dir.path(), DIMENSION).await;

    assert!(
        matches!(second, Err(StoreError::Unavailable { .. })),
        "{second:?}"
    );
    drop(first);
    EmbeddedVectors::open(dir.path(), DIMENSION)
        .await
        .expect("free again once the first is closed");
}

// Milvus only.

#[tokio::test]
async fn a_milvus_collection_of_another_dimension_is_refused_with_the_reason() {
    let Some(fixture) = milvus().await else {
        return;
    };
    fixture
        .store
        .check()
        .await
        .expect("the collection is created");
    let VectorStore::Milvus(milvus) = &fixture.store else {
        unreachable!("the fixture is Milvus");
    };
    let mut settings = dev_server_settings("vectors (Milvus)", "MILVUS_HOST").expect("settings");
    settings.milvus.collection = milvus.collection().to_owned();

    let other = VectorStore::open(&settings, DIMENSION * 2)
        .await
        .expect("open is lazy");
    let checked = other.check().await;

    drop_milvus_collection(&fixture.store).await;
    match checked {
        Err(StoreError::Invalid(message)) => {
            assert!(message.contains("8-dimensional"), "{message}")
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[tokio::test]
async fn an_unreachable_milvus_fails_fast_as_unavailable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port().to_string();
    drop(listener);
    let settings = settings_with(&[
        ("PODWISE_PROFILE", "cluster"),
        ("MILVUS_HOST", "127.0.0.1"),
        ("MILVUS_PORT", &port),
        ("MINIO_ACCESS_KEY", "unused"),
        ("MINIO_SECRET_KEY", "unused"),
    ]);
    let store = VectorStore::open(&settings, DIMENSION)
        .await
        .expect("opening contacts nothing");

    let started = std::time::Instant::now();
    let checked = store.check().await;
    let searched = store
        .search(&towards(0, 0.0), 3, &VectorFilter::default())
        .await;

    assert!(
        matches!(checked, Err(StoreError::Unavailable { .. })),
        "{checked:?}"
    );
    assert!(
        matches!(searched, Err(StoreError::Unavailable { .. })),
        "{searched:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "took {:?}",
        started.elapsed()
    );
}
