//! Signed object URLs of the embedded store, fetched through the gateway as a
//! listener's browser would: no token, only the signature and its expiry.

use std::time::Duration;

use bytes::Bytes;
use podwise_common::CancellationToken;
use podwise_common::stores::objects::{ObjectKey, ObjectStore, SIGNED_OBJECT_PATH};
use podwise_common::testing::settings_with;
use tempfile::TempDir;

struct Running {
    base: String,
    store: ObjectStore,
    shutdown: CancellationToken,
    _dir: TempDir,
}

impl Running {
    /// The gateway's address for a signed URL the store made (its public URL is not
    /// known until the port is bound).
    async fn url(&self, key: &ObjectKey, ttl: Duration) -> String {
        let signed = self
            .store
            .presigned_get_url(key, ttl)
            .await
            .expect("signed URL");
        let path = &signed[signed.find(SIGNED_OBJECT_PATH).expect("the signed path")..];
        format!("{}{path}", self.base)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

async fn start() -> Running {
    let dir = TempDir::new().expect("temp dir");
    let settings = settings_with(&[("PODWISE_DATA_DIR", dir.path().to_str().expect("UTF-8"))]);
    let gateway = podwise_gateway::build(&settings)
        .await
        .expect("build gateway");
    let base = format!("http://{}", gateway.local_addr());
    let shutdown = CancellationToken::new();
    tokio::spawn(gateway.run_until_stopped(shutdown.clone()));
    // A second handle on the same directory signs with the same key, as the other
    // local services do.
    let store = ObjectStore::open(&settings).await.expect("object store");
    Running {
        base,
        store,
        shutdown,
        _dir: dir,
    }
}

async fn preview(running: &Running) -> (ObjectKey, Vec<u8>) {
    let key = ObjectKey::new("previews/ep-1.wav").expect("key");
    let audio: Vec<u8> = (0..50_000_u32).map(|i| (i % 251) as u8).collect();
    running
        .store
        .put_bytes(&key, Bytes::from(audio.clone()), "audio/wav")
        .await
        .expect("put");
    (key, audio)
}

#[tokio::test]
async fn a_signed_url_serves_the_whole_object_without_a_token() {
    let running = start().await;
    let (key, audio) = preview(&running).await;

    let response = reqwest::get(running.url(&key, Duration::from_secs(60)).await)
        .await
        .expect("request");

    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "audio/wav");
    assert_eq!(response.headers()["accept-ranges"], "bytes");
    assert_eq!(
        response.bytes().await.expect("body").as_ref(),
        audio.as_slice()
    );
}

#[tokio::test]
async fn a_range_request_gets_just_that_part_so_players_can_seek() {
    let running = start().await;
    let (key, audio) = preview(&running).await;
    let client = reqwest::Client::new();
    let url = running.url(&key, Duration::from_secs(60)).await;

    let part = client
        .get(&url)
        .header("Range", "bytes=1000-1999")
        .send()
        .await
        .expect("request");
    let beyond = client
        .get(&url)
        .header("Range", "bytes=60000-")
        .send()
        .await
        .expect("request");

    assert_eq!(part.status(), 206);
    assert_eq!(part.headers()["content-range"], "bytes 1000-1999/50000");
    assert_eq!(
        part.bytes().await.expect("body").as_ref(),
        &audio[1000..2000]
    );
    assert_eq!(beyond.status(), 416);
    assert_eq!(beyond.headers()["content-range"], "bytes */50000");
}

#[tokio::test]
async fn a_tampered_or_incomplete_url_is_refused() {
    let running = start().await;
    let (key, _) = preview(&running).await;
    let url = running.url(&key, Duration::from_secs(60)).await;
    let other_key = url.replace("ep-1.wav", "ep-2.wav");
    let (unsigned, _) = url.split_once('?').expect("a query");
    let later = {
        let (start, _) = url.split_once("expires=").expect("expires");
        let (_, rest) = url.split_once('&').expect("signature");
        format!("{start}expires=99999999999&{rest}")
    };

    for refused in [other_key, unsigned.to_owned(), later] {
        let response = reqwest::get(&refused).await.expect("request");
        assert_eq!(response.status(), 403, "{refused}");
        let body: serde_json::Value = response.json().await.expect("the JSON error shape");
        assert_eq!(body["code"], "permission_denied", "{body}");
    }
}

#[tokio::test]
async fn an_expired_url_is_refused() {
    let running = start().await;
    let (key, _) = preview(&running).await;
    let url = running.url(&key, Duration::from_secs(1)).await;

    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let response = reqwest::get(&url).await.expect("request");

    assert_eq!(response.status(), 403);
    let body: serde_json::Value = response.json().await.expect("the JSON error shape");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("expired")),
        "{body}"
    );
}

#[tokio::test]
async fn a_signed_url_for_an_object_that_is_gone_is_not_found() {
    let running = start().await;
    let (key, _) = preview(&running).await;
    let url = running.url(&key, Duration::from_secs(60)).await;
    running.store.delete(&key).await.expect("delete");

    let response = reqwest::get(&url).await.expect("request");

    assert_eq!(response.status(), 404);
}
