//! The object store conformance suite: each test runs on the local directory and on S3.

use std::time::Duration;

use bytes::Bytes;
use podwise_common::stores::StoreError;
use podwise_common::stores::objects::{ObjectKey, ObjectStore};
use podwise_common::testing::{dev_server_settings, settings_with};
use tempfile::TempDir;

/// A store for one test, with whatever must live as long as it does.
struct Fixture {
    store: ObjectStore,
    _dir: TempDir,
}

async fn local() -> Fixture {
    let dir = TempDir::new().expect("temp dir");
    let data_dir = dir.path().to_str().expect("utf-8 temp path");
    let settings = settings_with(&[("PODWISE_DATA_DIR", data_dir)]);
    let store = ObjectStore::open(&settings)
        .await
        .expect("local store opens");
    assert_eq!(store.adapter(), "local directory");
    Fixture { store, _dir: dir }
}

/// An S3 store on the dev server, in a bucket of its own so tests never see each other.
async fn s3() -> Option<Fixture> {
    let mut settings = dev_server_settings("objects (S3)", "MINIO_HOST")?;
    settings.minio.bucket = format!("podwise-test-{}", uuid::Uuid::new_v4().simple());
    let store = ObjectStore::open(&settings).await.expect("S3 store opens");
    assert_eq!(store.adapter(), "s3");
    Some(Fixture {
        store,
        _dir: TempDir::new().expect("temp dir"),
    })
}

/// Declares each conformance test once per adapter.
macro_rules! conformance {
    ($($test:ident),* $(,)?) => {
        mod local_directory {
            $(
                #[tokio::test]
                async fn $test() {
                    super::$test(super::local().await.store).await;
                }
            )*
        }
        mod s3 {
            $(
                #[tokio::test]
                async fn $test() {
                    if let Some(fixture) = super::s3().await {
                        super::$test(fixture.store).await;
                    }
                }
            )*
        }
    };
}

conformance!(
    stored_bytes_come_back_unchanged,
    an_object_larger_than_one_part_streams_through_whole,
    a_second_put_replaces_the_object,
    a_range_reads_only_those_bytes,
    a_range_past_the_end_is_not_found,
    a_missing_object_is_not_found,
    listing_returns_only_the_prefix_in_key_order,
    deleting_removes_the_object_and_is_idempotent,
    the_store_reports_itself_ready,
);

fn key(text: &str) -> ObjectKey {
    ObjectKey::new(text).expect("valid key")
}

/// Bytes that differ at every offset in a way a shifted or truncated copy would not match.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

async fn stored_bytes_come_back_unchanged(store: ObjectStore) {
    let key = key("audio/show-1/episode-1.mp3");
    let body = Bytes::from(pattern(10_000));

    let info = store
        .put_bytes(&key, body.clone(), "audio/mpeg")
        .await
        .expect("put");

    assert_eq!(info.size, 10_000);
    assert_eq!(store.get_bytes(&key).await.expect("get"), body);
    let head = store.head(&key).await.expect("head").expect("exists");
    assert_eq!(
        (head.size, head.content_type.as_str()),
        (10_000, "audio/mpeg")
    );
}

async fn an_object_larger_than_one_part_streams_through_whole(store: ObjectStore) {
    // Above the S3 adapter's 8 MiB part size, so it goes up as a multipart upload.
    let key = key("audio/long-episode.wav");
    let body = pattern(19 * 1024 * 1024 + 17);

    let info = store
        .put_stream(
            &key,
            Box::pin(std::io::Cursor::new(body.clone())),
            "audio/wav",
        )
        .await
        .expect("streamed put");

    assert_eq!(info.size, body.len() as u64);
    let stored = store.get_bytes(&key).await.expect("get");
    assert!(
        stored == body,
        "the stored object differs from what was sent"
    );
}

async fn a_second_put_replaces_the_object(store: ObjectStore) {
    let key = key("previews/p1.mp3");
    store
        .put_bytes(&key, Bytes::from_static(b"first version"), "audio/mpeg")
        .await
        .expect("first put");

    store
        .put_bytes(&key, Bytes::from_static(b"second"), "audio/mpeg")
        .await
        .expect("second put");

    assert_eq!(store.get_bytes(&key).await.expect("get"), "second");
    assert_eq!(store.list("previews/").await.expect("list").len(), 1);
}

async fn a_range_reads_only_those_bytes(store: ObjectStore) {
    let key = key("audio/ranged.mp3");
    let body = pattern(4096);
    store
        .put_bytes(&key, Bytes::from(body.clone()), "audio/mpeg")
        .await
        .expect("put");

    let middle = store.get_range(&key, 100..1100).await.expect("range");
    let tail = store
        .get_range(&key, 4000..9000)
        .await
        .expect("range over the end");

    assert_eq!(middle, body[100..1100]);
    assert_eq!(tail, body[4000..], "a range over the end is clamped");
}

async fn a_range_past_the_end_is_not_found(store: ObjectStore) {
    let key = key("audio/short.mp3");
    store
        .put_bytes(&key, Bytes::from_static(b"tiny"), "audio/mpeg")
        .await
        .expect("put");

    let past = store.get_range(&key, 10..20).await;
    let empty = store.get_range(&key, 2..2).await;

    assert!(matches!(past, Err(StoreError::NotFound(_))), "{past:?}");
    assert!(matches!(empty, Err(StoreError::Invalid(_))), "{empty:?}");
}

async fn a_missing_object_is_not_found(store: ObjectStore) {
    let key = key("audio/never-stored.mp3");

    assert!(store.head(&key).await.expect("head").is_none());
    let got = store.get_bytes(&key).await;
    assert!(matches!(got, Err(StoreError::NotFound(_))), "{got:?}");
}

async fn listing_returns_only_the_prefix_in_key_order(store: ObjectStore) {
    for name in [
        "audio/b/2.mp3",
        "audio/a/1.mp3",
        "previews/a.mp3",
        "audio/b/1.mp3",
    ] {
        store
            .put_bytes(
                &key(name),
                Bytes::from(name.as_bytes().to_vec()),
                "audio/mpeg",
            )
            .await
            .expect("put");
    }

    let listed = store.list("audio/b/").await.expect("list");
    let everything = store.list("").await.expect("list all");

    let keys: Vec<&str> = listed.iter().map(|o| o.key.as_str()).collect();
    assert_eq!(keys, ["audio/b/1.mp3", "audio/b/2.mp3"]);
    assert_eq!(listed[0].size, "audio/b/1.mp3".len() as u64);
    assert_eq!(everything.len(), 4);
}

async fn deleting_removes_the_object_and_is_idempotent(store: ObjectStore) {
    let key = key("tts/answer.wav");
    store
        .put_bytes(&key, Bytes::from_static(b"RIFF"), "audio/wav")
        .await
        .expect("put");

    store.delete(&key).await.expect("delete");
    store.delete(&key).await.expect("deleting again");

    assert!(store.head(&key).await.expect("head").is_none());
    assert!(store.list("tts/").await.expect("list").is_empty());
}

async fn the_store_reports_itself_ready(store: ObjectStore) {
    store.check().await.expect("a fresh store is ready");
}

// Adapter-specific behaviour: how each hands out URLs, and what "down" looks like.

#[tokio::test]
async fn a_presigned_s3_url_serves_the_object_without_credentials() {
    let Some(fixture) = s3().await else { return };
    let key = key("previews/signed.mp3");
    fixture
        .store
        .put_bytes(&key, Bytes::from_static(b"preview bytes"), "audio/mpeg")
        .await
        .expect("put");

    let url = fixture
        .store
        .presigned_get_url(&key, Duration::from_secs(60))
        .await
        .expect("presign");
    let response = reqwest::get(&url).await.expect("fetch");

    assert_eq!(response.status(), 200, "{url}");
    assert_eq!(response.bytes().await.expect("body"), "preview bytes");
    let unsigned = url.split('?').next().expect("url has a path");
    let refused = reqwest::get(unsigned).await.expect("fetch unsigned");
    assert_eq!(refused.status(), 403, "an unsigned URL must be refused");
}

#[tokio::test]
async fn every_local_process_signs_urls_with_the_same_key() {
    // The gateway verifies URLs that other services signed: two stores opened on one
    // data directory, as two processes would, must agree on the key.
    let dir = TempDir::new().expect("temp dir");
    let data_dir = dir.path().to_str().expect("utf-8 temp path");
    let settings = settings_with(&[("PODWISE_DATA_DIR", data_dir)]);
    let (ObjectStore::Local(signing), ObjectStore::Local(verifying)) = (
        ObjectStore::open(&settings).await.expect("first opener"),
        ObjectStore::open(&settings).await.expect("second opener"),
    ) else {
        panic!("the embedded profile opens the local store")
    };
    let key = key("previews/signed.mp3");

    let url = signing.signer().url(&key, Duration::from_secs(60));

    let (path, query) = url.split_once('?').expect("url has a query");
    let object = path.split_once("/api/v1/objects/").expect("gateway path").1;
    let param = |name: &str| {
        query
            .split('&')
            .find_map(|pair| pair.strip_prefix(&format!("{name}=")))
            .expect("parameter present")
            .to_owned()
    };
    let expires: u64 = param("expires").parse().expect("numeric expiry");
    let verified = verifying
        .signer()
        .verify(object, expires, &param("signature"));
    assert_eq!(verified.expect("the other process accepts it"), key);
}

#[tokio::test]
async fn an_unreachable_s3_server_fails_fast_as_unavailable() {
    // A port nothing listens on: the connection is refused at once.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port().to_string();
    drop(listener);
    let settings = podwise_common::testing::settings_with(&[
        ("PODWISE_PROFILE", "cluster"),
        ("MINIO_HOST", "127.0.0.1"),
        ("MINIO_PORT", &port),
        ("MINIO_ACCESS_KEY", "test-access"),
        ("MINIO_SECRET_KEY", "test-secret"),
    ]);
    let store = ObjectStore::open(&settings)
        .await
        .expect("opening contacts nothing");

    let started = std::time::Instant::now();
    let checked = store.check().await;
    let put = store
        .put_bytes(&key("a.mp3"), Bytes::from_static(b"x"), "audio/mpeg")
        .await;

    assert!(
        matches!(checked, Err(StoreError::Unavailable { .. })),
        "{checked:?}"
    );
    assert!(
        matches!(put, Err(StoreError::Unavailable { .. })),
        "{put:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
}
