//! A replica's word index catches up with episodes another replica indexed: chunks that
//! reach the shared vector store and the catalog, but not this replica's memory, are
//! found by their words after one sync.

use podwise_common::stores::catalog::{NewEpisode, Podcast};
use podwise_common::stores::vectors::{ChunkRecord, ChunkVector};
use podwise_common::testing::settings_with;
use podwise_rag::index_sync::{SyncState, sync_once};
use podwise_rag::library::Library;
use podwise_rag::llm::Llm;
use podwise_rag::text::tokens::search_tokens;
use tempfile::TempDir;

const DIMENSION: usize = 384;

async fn library(dir: &TempDir) -> Library {
    let settings = settings_with(&[
        ("PODWISE_DATA_DIR", dir.path().to_str().expect("UTF-8")),
        // Nothing here embeds or transcribes: chunks arrive with their vectors.
        ("LLM_URL", "http://127.0.0.1:1"),
        ("STT_URL", "http://127.0.0.1:1"),
    ]);
    let llm = podwise_common::grpc_client::channel(&settings.services.llm).expect("channel");
    let stt = podwise_common::grpc_client::channel(&settings.services.stt).expect("channel");
    Library::open(&settings, Llm::new(llm, &settings.rag), stt)
        .await
        .expect("library")
}

/// Writes an episode's chunks the way another replica's indexer does: to the shared
/// vector store and the catalog, leaving this replica's word index alone.
async fn indexed_elsewhere(library: &Library, guid: &str, text: &str) -> String {
    library
        .catalog
        .upsert_podcast(&Podcast {
            id: "show".into(),
            title: "Show".into(),
            author: String::new(),
            description: String::new(),
            category_id: "education".into(),
            language: "en".into(),
            image_url: None,
            rss_url: None,
            rating: None,
        })
        .await
        .expect("podcast");
    let episode_id = library
        .catalog
        .upsert_episode(&NewEpisode {
            podcast_id: "show".into(),
            guid: guid.into(),
            title: guid.into(),
            description: String::new(),
            published_at: None,
            duration_ms: None,
            language: "en".into(),
            audio_key: None,
            preview_key: None,
            tags: vec![],
        })
        .await
        .expect("episode");
    let mut vector = vec![0.0; DIMENSION];
    vector[0] = 1.0;
    let chunk = ChunkVector {
        record: ChunkRecord {
            chunk_id: format!("{episode_id}:0"),
            episode_id: episode_id.clone(),
            podcast_id: "show".into(),
            category: "education".into(),
            start_ms: 0,
            end_ms: 30_000,
            tags: vec![],
            text: text.into(),
        },
        vector,
    };
    library
        .vectors
        .delete_episode(&episode_id)
        .await
        .expect("delete");
    library.vectors.upsert(vec![chunk]).await.expect("upsert");
    library
        .catalog
        .mark_indexed(&episode_id)
        .await
        .expect("mark");
    episode_id
}

fn found(library: &Library, words: &str) -> Vec<String> {
    library
        .lexical_reader()
        .search(&search_tokens(words), 5, |_| true)
        .into_iter()
        .map(|hit| hit.record.text)
        .collect()
}

#[tokio::test]
async fn episodes_indexed_by_another_replica_are_found_by_their_words_after_a_sync() {
    let dir = TempDir::new().expect("temp dir");
    let library = library(&dir).await;
    let mut state = SyncState::starting_at(0);

    let first = "The Rosetta Stone was found in 1799 near the town of Rashid.";
    indexed_elsewhere(&library, "rosetta", first).await;
    assert!(
        found(&library, "Rosetta Stone").is_empty(),
        "not in memory yet"
    );
    assert_eq!(sync_once(&library, &mut state).await.expect("sync"), 1);
    assert_eq!(found(&library, "Rosetta Stone"), [first]);
    assert_eq!(
        sync_once(&library, &mut state).await.expect("sync"),
        0,
        "an episode already loaded is not read again"
    );

    // Re-indexed elsewhere with new text: the old words go, the new ones are found.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let second = "Champollion read the hieroglyphs in 1822.";
    indexed_elsewhere(&library, "rosetta", second).await;
    assert_eq!(sync_once(&library, &mut state).await.expect("sync"), 1);
    assert_eq!(found(&library, "Champollion hieroglyphs"), [second]);
    assert!(
        found(&library, "Rashid").is_empty(),
        "the replaced chunk is gone"
    );
    assert_eq!(library.lexical_reader().len(), 1);
}
