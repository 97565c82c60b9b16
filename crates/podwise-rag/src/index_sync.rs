//! Keeps this replica's word index in step with episodes other replicas indexed.
//!
//! Dense vectors live in the shared vector store, but the BM25 index is each replica's own
//! memory. Every indexing records its time in the catalog (`episodes.indexed_at`); this
//! task looks there every `PODWISE_RAG_INDEX_SYNC_MS` and reloads the chunks of each
//! episode indexed since its last look, so a question finds by its words what another
//! replica ingested a few seconds ago. Re-reading this replica's own episodes is harmless:
//! the index replaces an episode's chunks, it never adds them twice.

use std::collections::HashMap;
use std::time::Duration;

use podwise_common::{CancellationToken, ServiceError};

use crate::library::Library;
use crate::text::tokens::search_tokens;

/// Replicas' clocks differ and a slow writer can commit an earlier time after a later
/// one: each look goes back this far before the newest time it has seen.
const CLOCK_MARGIN_MS: i64 = 60_000;
/// Episodes read per look; more waiting are read at the next one.
const BATCH: u32 = 1_000;

/// Where the last look ended, and what it already loaded inside the margin.
#[derive(Debug)]
pub struct SyncState {
    newest_seen: i64,
    loaded: HashMap<String, i64>,
}

impl SyncState {
    /// Starting after the full load at start-up, which read every episode up to `since`.
    pub fn starting_at(since_ms: i64) -> Self {
        Self {
            newest_seen: since_ms,
            loaded: HashMap::new(),
        }
    }
}

/// Loads every episode indexed since the last look; returns how many it loaded.
///
/// # Errors
/// When the catalog or the vector store cannot be read; the next look tries again from
/// the same place.
pub async fn sync_once(library: &Library, state: &mut SyncState) -> Result<usize, ServiceError> {
    let from = state.newest_seen - CLOCK_MARGIN_MS;
    let indexed = library.catalog.indexed_since(from, BATCH).await?;
    let mut reloaded = 0;
    for (episode_id, indexed_at) in indexed {
        if state.loaded.get(&episode_id) == Some(&indexed_at) {
            continue;
        }
        let stored = library.vectors.episode_chunks(&episode_id).await?;
        let chunks = stored
            .into_iter()
            .map(|chunk| {
                let tokens = search_tokens(&chunk.record.text);
                (chunk.record, tokens)
            })
            .collect();
        library.lexical_index().replace_episode(&episode_id, chunks);
        state.newest_seen = state.newest_seen.max(indexed_at);
        state.loaded.insert(episode_id, indexed_at);
        reloaded += 1;
    }
    // What lies before the margin is never listed again, so it need not be remembered.
    let horizon = state.newest_seen - CLOCK_MARGIN_MS;
    state.loaded.retain(|_, at| *at >= horizon);
    Ok(reloaded)
}

/// Runs [`sync_once`] every `interval` until `stop`.
pub async fn run(
    library: std::sync::Arc<Library>,
    mut state: SyncState,
    interval: Duration,
    stop: CancellationToken,
) {
    let mut failing = false;
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(interval) => {}
        }
        match sync_once(&library, &mut state).await {
            Ok(0) => {}
            Ok(episodes) => {
                tracing::info!(
                    episodes,
                    "word index caught up with episodes indexed elsewhere"
                );
            }
            Err(error) if !failing => {
                // Once per outage, not at every look: /ready already names the store.
                tracing::warn!(%error, "cannot catch up the word index; retrying");
                failing = true;
                continue;
            }
            Err(_) => continue,
        }
        if failing {
            tracing::info!("the word index is catching up again");
            failing = false;
        }
    }
}
