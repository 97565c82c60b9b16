//! The four stores of Podwise, each a port with a cluster adapter and an embedded one.
//!
//! | store | cluster adapter | embedded adapter |
//! |---|---|---|
//! | [`catalog`] | PostgreSQL | a SQLite file |
//! | [`documents`] | MongoDB | JSON rows in a SQLite file |
//! | [`objects`] | S3 (MinIO) | a local directory |
//! | [`vectors`] | Milvus | an HNSW index in a local directory |
//!
//! Each store is an enum over its adapters, so callers hold one concrete type and every
//! method's `match` names each adapter. Both adapters of a store pass the same
//! conformance tests (`tests/integration/`).

#[cfg(feature = "catalog")]
pub mod catalog;
#[cfg(feature = "documents")]
pub mod documents;
#[cfg(feature = "objects")]
pub mod objects;
#[cfg(any(feature = "catalog", feature = "documents"))]
mod sqlite_file;
#[cfg(feature = "vectors")]
pub mod vectors;
use std::future::Future;
use std::sync::Arc;

use crate::ServiceError;
use crate::readiness::Check;

/// What went wrong in a store, in terms the service layer can map to a status.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    NotFound(String),
    /// The caller asked for something the store cannot hold (a bad key, a bad range).
    #[error("{0}")]
    Invalid(String),
    /// The write would break a uniqueness rule (a second record with the same key).
    #[error("{0}")]
    Conflict(String),
    /// The store cannot be reached or refused to work; retrying later may succeed.
    #[error("{store} is unavailable: {detail}")]
    Unavailable { store: &'static str, detail: String },
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl StoreError {
    pub fn unavailable(store: &'static str, detail: impl std::fmt::Display) -> Self {
        Self::Unavailable {
            store,
            detail: detail.to_string(),
        }
    }
}

impl From<StoreError> for ServiceError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound(message) => ServiceError::NotFound(message),
            StoreError::Invalid(message) => ServiceError::InvalidArgument(message),
            StoreError::Conflict(message) => ServiceError::AlreadyExists(message),
            StoreError::Unavailable { store, detail } => {
                // The detail may name hosts; it goes to the log, the caller gets the store.
                tracing::warn!(store, detail = %detail, "store unavailable");
                ServiceError::unavailable(format!("the {store} store is unavailable"))
            }
            StoreError::Internal(source) => ServiceError::Internal(source),
        }
    }
}

/// What every store offers the server around it: a cheap probe for `/ready`.
pub trait Store: Clone + Send + Sync + 'static {
    /// Confirms the store is usable now.
    fn check(&self) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// A readiness check that probes `store`, for
/// [`ServiceServer::readiness_check`](crate::server::ServiceServer::readiness_check):
/// `/ready` then names the store while it is down, and recovers with it.
pub fn readiness_check(store: &impl Store) -> Check {
    let store = store.clone();
    Arc::new(move || {
        let store = store.clone();
        Box::pin(async move { store.check().await.map_err(|e| e.to_string()) })
    })
}
