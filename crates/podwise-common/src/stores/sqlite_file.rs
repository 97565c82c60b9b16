//! The embedded stores' SQLite files: one per store under the data directory, opened
//! the same way so that several local processes can share them safely.

use std::path::Path;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use super::StoreError;

/// How long a query waits for a pooled connection before the store counts as down.
pub(crate) const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// A lazily connecting pool on the SQLite file at `path`, created if missing.
///
/// # Errors
/// `Unavailable` when the file's directory cannot be created.
pub(crate) async fn open_pool(path: &Path, store: &'static str) -> Result<SqlitePool, StoreError> {
    if let Some(parent) = path.parent() {
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(|e| StoreError::unavailable(store, format!("{}: {e}", parent.display())))?;
    }
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        // WAL lets the local services read while one of them writes.
        .journal_mode(SqliteJournalMode::Wal)
        // FULL syncs every commit: an acknowledged write survives a power cut.
        .synchronous(SqliteSynchronous::Full)
        // Another process holding the write lock is waited for, not reported as down.
        .busy_timeout(Duration::from_secs(5))
        .foreign_keys(true);
    Ok(SqlitePoolOptions::new()
        .max_connections(4)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_lazy_with(options))
}
