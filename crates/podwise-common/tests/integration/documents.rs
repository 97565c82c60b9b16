//! The documents conformance suite: each test runs on SQLite and on MongoDB.

use std::time::Duration;

use podwise_common::stores::StoreError;
use podwise_common::stores::documents::{
    ChatMessage, ChatRole, Citation, DocumentStore, Transcript, TranscriptSegment,
};
use podwise_common::testing::{dev_server_settings, settings_with};
use tempfile::TempDir;

struct Fixture {
    store: DocumentStore,
    _dir: TempDir,
}

async fn sqlite() -> Fixture {
    let dir = TempDir::new().expect("temp dir");
    let settings = settings_with(&[("PODWISE_DATA_DIR", dir.path().to_str().expect("utf-8"))]);
    let store = DocumentStore::open(&settings)
        .await
        .expect("sqlite documents open");
    assert_eq!(store.adapter(), "sqlite");
    Fixture { store, _dir: dir }
}

/// A MongoDB store in a database of its own.
async fn mongo() -> Option<Fixture> {
    let mut settings = dev_server_settings("documents (MongoDB)", "MONGO_HOST")?;
    settings.mongo.db = format!("test_{}", uuid::Uuid::new_v4().simple());
    let store = DocumentStore::open(&settings)
        .await
        .expect("mongo documents open");
    assert_eq!(store.adapter(), "mongodb");
    Some(Fixture {
        store,
        _dir: TempDir::new().expect("temp dir"),
    })
}

macro_rules! conformance {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $test() {
                    super::$test(super::sqlite().await.store).await;
                }
            )*
        }
        mod mongo {
            $(
                #[tokio::test]
                async fn $test() {
                    if let Some(fixture) = super::mongo().await {
                        super::$test(fixture.store).await;
                    }
                }
            )*
        }
    };
}

conformance!(
    the_store_reports_itself_ready,
    a_transcript_comes_back_with_its_segments_and_chinese_text_intact,
    storing_a_transcript_again_replaces_it,
    a_deleted_transcript_is_gone,
    history_returns_the_latest_messages_in_conversation_order,
    conversations_are_kept_apart_per_listener_and_session,
    sessions_are_listed_most_recent_first,
);

fn transcript(episode_id: &str, text: &str) -> Transcript {
    Transcript {
        episode_id: episode_id.to_owned(),
        language: "zh-TW".to_owned(),
        model: "whisper-base".to_owned(),
        segments: vec![
            TranscriptSegment {
                start_ms: 0,
                end_ms: 4_200,
                text: "歡迎收聽，今天聊「臺灣」的半導體。".to_owned(),
                confidence: Some(0.87),
            },
            TranscriptSegment {
                start_ms: 4_200,
                end_ms: 9_000,
                text: text.to_owned(),
                confidence: None,
            },
        ],
        raw_text: format!("歡迎收聽，今天聊「台灣」的半導體。{text}"),
        cleaned_text: format!("歡迎收聽，今天聊「臺灣」的半導體。{text}"),
        updated_at: 1_700_000_000_000,
    }
}

fn message(user: &str, session: &str, role: ChatRole, text: &str, at: i64) -> ChatMessage {
    ChatMessage {
        user_id: user.to_owned(),
        session_id: session.to_owned(),
        role,
        text: text.to_owned(),
        citations: match role {
            ChatRole::User => vec![],
            ChatRole::Assistant => vec![Citation {
                episode_id: "ep-1".to_owned(),
                start_ms: 61_000,
                end_ms: 75_500,
            }],
        },
        at,
    }
}

async fn the_store_reports_itself_ready(store: DocumentStore) {
    store.check().await.expect("ready");
    store.check().await.expect("still ready");
}

async fn a_transcript_comes_back_with_its_segments_and_chinese_text_intact(store: DocumentStore) {
    let stored = transcript("ep-1", "Let's talk about TSMC.");

    store.put_transcript(&stored).await.expect("put");

    assert_eq!(store.transcript("ep-1").await.expect("get"), Some(stored));
    assert_eq!(store.transcript("ep-2").await.expect("get"), None);
}

async fn storing_a_transcript_again_replaces_it(store: DocumentStore) {
    store
        .put_transcript(&transcript("ep-1", "first pass"))
        .await
        .expect("put");
    let better = Transcript {
        model: "whisper-small".to_owned(),
        ..transcript("ep-1", "second pass")
    };

    store.put_transcript(&better).await.expect("put again");

    assert_eq!(store.transcript("ep-1").await.expect("get"), Some(better));
}

async fn a_deleted_transcript_is_gone(store: DocumentStore) {
    store
        .put_transcript(&transcript("ep-1", "x"))
        .await
        .expect("put");

    store.delete_transcript("ep-1").await.expect("delete");
    store
        .delete_transcript("ep-1")
        .await
        .expect("deleting again");

    assert_eq!(store.transcript("ep-1").await.expect("get"), None);
}

async fn history_returns_the_latest_messages_in_conversation_order(store: DocumentStore) {
    let conversation = [
        message("u1", "s1", ChatRole::User, "推薦投資的節目", 1_000),
        message(
            "u1",
            "s1",
            ChatRole::Assistant,
            "可以聽《財經早餐》第 12 集",
            2_000,
        ),
        message("u1", "s1", ChatRole::User, "幫我總結那一集", 3_000),
        // Same millisecond as the previous one: insertion order decides.
        message("u1", "s1", ChatRole::Assistant, "這集談到…", 3_000),
    ];
    for m in &conversation {
        store.append_message(m).await.expect("append");
    }

    let all = store.history("u1", "s1", 50).await.expect("history");
    let last_two = store.history("u1", "s1", 2).await.expect("history");

    assert_eq!(all, conversation);
    assert_eq!(last_two, conversation[2..]);
}

async fn conversations_are_kept_apart_per_listener_and_session(store: DocumentStore) {
    store
        .append_message(&message("u1", "s1", ChatRole::User, "mine", 1))
        .await
        .expect("append");
    store
        .append_message(&message("u2", "s1", ChatRole::User, "someone else's", 2))
        .await
        .expect("append");
    store
        .append_message(&message("u1", "s2", ChatRole::User, "another chat", 3))
        .await
        .expect("append");

    let texts = |messages: Vec<ChatMessage>| -> Vec<String> {
        messages.into_iter().map(|m| m.text).collect()
    };
    assert_eq!(
        texts(store.history("u1", "s1", 10).await.expect("h")),
        ["mine"]
    );
    assert_eq!(
        texts(store.history("u2", "s1", 10).await.expect("h")),
        ["someone else's"]
    );

    store.delete_session("u1", "s1").await.expect("delete");

    assert!(store.history("u1", "s1", 10).await.expect("h").is_empty());
    assert_eq!(store.history("u2", "s1", 10).await.expect("h").len(), 1);
    assert_eq!(store.history("u1", "s2", 10).await.expect("h").len(), 1);
}

async fn sessions_are_listed_most_recent_first(store: DocumentStore) {
    for (session, at) in [("old", 10), ("old", 20), ("new", 30), ("mid", 25)] {
        store
            .append_message(&message("u1", session, ChatRole::User, "hi", at))
            .await
            .expect("append");
    }

    let sessions = store.sessions("u1").await.expect("sessions");

    let listed: Vec<(&str, i64, i64)> = sessions
        .iter()
        .map(|s| (s.session_id.as_str(), s.messages, s.last_at))
        .collect();
    assert_eq!(listed, [("new", 1, 30), ("mid", 1, 25), ("old", 2, 20)]);
    assert!(store.sessions("nobody").await.expect("sessions").is_empty());
}

#[tokio::test]
async fn an_unreachable_mongodb_fails_fast_as_unavailable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port().to_string();
    drop(listener);
    let settings = settings_with(&[
        ("PODWISE_PROFILE", "cluster"),
        ("MONGO_HOST", "127.0.0.1"),
        ("MONGO_PORT", &port),
        ("MINIO_ACCESS_KEY", "unused"),
        ("MINIO_SECRET_KEY", "unused"),
    ]);
    let store = DocumentStore::open(&settings)
        .await
        .expect("opening contacts nothing");

    let started = std::time::Instant::now();
    let checked = store.check().await;
    let read = store.transcript("ep-1").await;

    assert!(
        matches!(checked, Err(StoreError::Unavailable { .. })),
        "{checked:?}"
    );
    assert!(
        matches!(read, Err(StoreError::Unavailable { .. })),
        "{read:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "took {:?}",
        started.elapsed()
    );
}
