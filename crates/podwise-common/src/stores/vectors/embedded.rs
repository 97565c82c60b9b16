//! The embedded vector store: an [`HnswIndex`] in memory beside each chunk's record,
//! kept on disk in a directory as a [`snapshot`] plus a [`journal`] of the writes since.
//!
//! A write is appended to the journal and synced before it is applied, so whatever was
//! acknowledged survives a crash. Once the journal outgrows [`COMPACT_AFTER_BYTES`], the
//! store is written out as a new snapshot and the journal starts again empty. Opening
//! loads the snapshot and replays the journal onto it.
//!
//! Only one process may hold the directory: it is locked while the store is open, and
//! a second process is refused with a clear error rather than corrupting the files.

mod journal;
mod snapshot;

use std::collections::HashMap;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use journal::{Entry, Journal};

use super::hnsw::{HnswError, HnswIndex, HnswParams};
use super::{ChunkRecord, ChunkVector, VectorFilter, VectorHit};
use crate::stores::StoreError;

/// Journal size past which the next write also writes a snapshot: about 5,000 chunks of
/// 384 dimensions, a few seconds of replay at start-up.
pub const COMPACT_AFTER_BYTES: u64 = 32 * 1024 * 1024;

const STORE: &str = "vectors";

/// The embedded vector store; clones share one index.
#[derive(Debug, Clone)]
pub struct EmbeddedVectors {
    state: Arc<RwLock<State>>,
    dir: PathBuf,
    dimension: usize,
}

#[derive(Debug)]
struct State {
    index: HnswIndex,
    /// The record in each slot of the index; `None` once the slot is removed.
    records: Vec<Option<ChunkRecord>>,
    /// The live slot of each chunk id.
    slots: HashMap<String, u32>,
    journal: Journal,
    compact_after: u64,
    /// Held open for its lock, which ends when the store is dropped.
    _lock: File,
}

impl EmbeddedVectors {
    /// Opens the store in `dir` (created if missing) for vectors of `dimension`
    /// components, loading what an earlier run left there.
    ///
    /// # Errors
    /// `Invalid` when the files hold vectors of another dimension; `Unavailable` when
    /// the directory cannot be used, another process holds it, or its files are damaged.
    pub async fn open(dir: &Path, dimension: usize) -> Result<Self, StoreError> {
        Self::open_with(dir, dimension, COMPACT_AFTER_BYTES).await
    }

    /// [`open`](Self::open) with another journal size limit (tests use a small one).
    ///
    /// # Errors
    /// As [`open`](Self::open).
    pub async fn open_with(
        dir: &Path,
        dimension: usize,
        compact_after: u64,
    ) -> Result<Self, StoreError> {
        let owned = dir.to_owned();
        let state = blocking(move || State::load(&owned, dimension, compact_after)).await??;
        Ok(Self {
            state: Arc::new(RwLock::new(state)),
            dir: dir.to_owned(),
            dimension,
        })
    }

    pub(super) fn dimension(&self) -> usize {
        self.dimension
    }

    pub(super) async fn check(&self) -> Result<(), StoreError> {
        self.read(|_| Ok(()))
    }

    /// Writes the chunks (already unit vectors of the right dimension, one per chunk id).
    pub(super) async fn upsert(&self, chunks: Vec<ChunkVector>) -> Result<(), StoreError> {
        let entries = chunks.into_iter().map(Entry::Upsert).collect();
        self.write(entries).await
    }

    pub(super) async fn delete_episode(&self, episode_id: &str) -> Result<(), StoreError> {
        self.write(vec![Entry::DeleteEpisode(episode_id.to_owned())])
            .await
    }

    pub(super) async fn search(
        &self,
        query: Vec<f32>,
        k: usize,
        filter: VectorFilter,
    ) -> Result<Vec<VectorHit>, StoreError> {
        let state = self.state.clone();
        blocking(move || {
            let state = state.read().map_err(|_| poisoned())?;
            let accepts = |slot: u32| {
                state.records[slot as usize]
                    .as_ref()
                    .is_some_and(|record| filter.accepts(record))
            };
            let found = state
                .index
                .search(&query, k, accepts)
                .map_err(|e| StoreError::Invalid(e.to_string()))?;
            Ok(found
                .into_iter()
                .filter_map(|(slot, score)| {
                    let record = state.records[slot as usize].clone()?;
                    Some(VectorHit { record, score })
                })
                .collect())
        })
        .await?
    }

    pub(super) async fn episode_chunks(
        &self,
        episode_id: &str,
    ) -> Result<Vec<ChunkVector>, StoreError> {
        self.read(|state| {
            Ok(state
                .records
                .iter()
                .enumerate()
                .filter_map(|(slot, record)| {
                    let record = record.as_ref().filter(|r| r.episode_id == episode_id)?;
                    let vector = state.index.vector(slot as u32)?.to_vec();
                    Some(ChunkVector {
                        record: record.clone(),
                        vector,
                    })
                })
                .collect())
        })
    }

    /// Journals `entries`, applies them and, when the journal has grown past its limit,
    /// writes a snapshot.
    async fn write(&self, entries: Vec<Entry>) -> Result<(), StoreError> {
        let state = self.state.clone();
        let dir = self.dir.clone();
        blocking(move || {
            let mut state = state.write().map_err(|_| poisoned())?;
            state
                .journal
                .append(&entries)
                .map_err(|e| StoreError::unavailable(STORE, format!("{}: {e}", dir.display())))?;
            for entry in entries {
                state.apply(entry).map_err(index_error)?;
            }
            if state.journal.len() >= state.compact_after {
                // The writes are already durable in the journal: a failed snapshot is
                // retried on the next write, so it is logged rather than returned.
                if let Err(error) = state.compact(&dir) {
                    tracing::warn!(
                        dir = %dir.display(),
                        error = %error,
                        "writing the vector snapshot failed",
                    );
                }
            }
            Ok(())
        })
        .await?
    }

    fn read<T>(&self, read: impl FnOnce(&State) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let state = self.state.read().map_err(|_| poisoned())?;
        read(&state)
    }
}

impl State {
    fn load(dir: &Path, dimension: usize, compact_after: u64) -> Result<Self, StoreError> {
        let unavailable =
            |e: std::io::Error| StoreError::unavailable(STORE, format!("{}: {e}", dir.display()));
        fs::create_dir_all(dir).map_err(unavailable)?;
        let lock = File::create(dir.join("lock")).map_err(unavailable)?;
        if lock.try_lock().is_err() {
            return Err(StoreError::unavailable(
                STORE,
                format!("{} is in use by another process", dir.display()),
            ));
        }

        let snapshot = snapshot::read(&dir.join("snapshot")).map_err(unavailable)?;
        let (index, records) = match snapshot {
            Some(snapshot) => (snapshot.index, snapshot.records),
            None => (
                HnswIndex::new(dimension, HnswParams::default()).map_err(index_error)?,
                Vec::new(),
            ),
        };
        if index.dimension() != dimension {
            return Err(StoreError::Invalid(format!(
                "the vector index in {} holds {}-dimensional vectors but the embedding model \
                 makes {dimension}-dimensional ones: move the directory away to re-index",
                dir.display(),
                index.dimension()
            )));
        }
        let slots = records
            .iter()
            .enumerate()
            .filter_map(|(slot, r)| Some((r.as_ref()?.chunk_id.clone(), slot as u32)))
            .collect();

        let (journal, replay) =
            Journal::open(&dir.join("journal"), dimension).map_err(unavailable)?;
        if replay.discarded > 0 {
            tracing::warn!(
                dir = %dir.display(),
                bytes = replay.discarded,
                "cut a torn or damaged tail off the vector journal",
            );
        }
        let mut state = Self {
            index,
            records,
            slots,
            journal,
            compact_after,
            _lock: lock,
        };
        let replayed = replay.entries.len();
        for entry in replay.entries {
            state.apply(entry).map_err(index_error)?;
        }
        tracing::info!(
            dir = %dir.display(),
            chunks = state.index.len(),
            replayed,
            "opened the embedded vector index",
        );
        Ok(state)
    }

    fn apply(&mut self, entry: Entry) -> Result<(), HnswError> {
        match entry {
            Entry::Upsert(chunk) => {
                if let Some(old) = self.slots.remove(&chunk.record.chunk_id) {
                    self.remove(old);
                }
                let slot = self.index.insert(&chunk.vector)?;
                self.records.resize(slot as usize + 1, None);
                self.slots.insert(chunk.record.chunk_id.clone(), slot);
                self.records[slot as usize] = Some(chunk.record);
            }
            Entry::DeleteEpisode(episode_id) => {
                let doomed: Vec<u32> = self
                    .records
                    .iter()
                    .enumerate()
                    .filter(|(_, r)| r.as_ref().is_some_and(|r| r.episode_id == episode_id))
                    .map(|(slot, _)| slot as u32)
                    .collect();
                for slot in doomed {
                    self.remove(slot);
                }
            }
        }
        Ok(())
    }

    fn remove(&mut self, slot: u32) {
        self.index.remove(slot);
        if let Some(record) = self.records[slot as usize].take() {
            self.slots.remove(&record.chunk_id);
        }
    }

    /// Writes a snapshot of everything and empties the journal. When most slots are
    /// removed ones, the index is rebuilt from the live points first, so it does not
    /// keep growing under re-ingestion.
    fn compact(&mut self, dir: &Path) -> Result<(), StoreError> {
        if self.index.slot_count() > 2 * self.index.len() + 1024 {
            self.rebuild().map_err(index_error)?;
        }
        let io =
            |e: std::io::Error| StoreError::unavailable(STORE, format!("{}: {e}", dir.display()));
        snapshot::write(&dir.join("snapshot"), &self.index, &self.records).map_err(io)?;
        self.journal.clear().map_err(io)?;
        tracing::info!(
            dir = %dir.display(),
            chunks = self.index.len(),
            "wrote the vector snapshot",
        );
        Ok(())
    }

    fn rebuild(&mut self) -> Result<(), HnswError> {
        let mut index = HnswIndex::new(self.index.dimension(), self.index.params())?;
        let mut records = Vec::with_capacity(self.index.len());
        let mut slots = HashMap::with_capacity(self.index.len());
        for (old, record) in self.records.iter().enumerate() {
            let (Some(record), Some(vector)) = (record, self.index.vector(old as u32)) else {
                continue;
            };
            let slot = index.insert(vector)?;
            slots.insert(record.chunk_id.clone(), slot);
            records.push(Some(record.clone()));
        }
        self.index = index;
        self.records = records;
        self.slots = slots;
        Ok(())
    }
}

/// Runs file and index work off the async threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| StoreError::Internal(anyhow::anyhow!("vector store task failed: {e}")))
}

fn index_error(error: HnswError) -> StoreError {
    StoreError::Internal(anyhow::anyhow!("vector index: {error}"))
}

/// A panic while the state was locked for writing may have left it half updated.
fn poisoned() -> StoreError {
    StoreError::unavailable(
        STORE,
        "a write failed midway; restart the service to reload the index",
    )
}
