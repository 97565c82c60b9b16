//! Objects: audio files, previews, cover art, synthesised speech.
//!
//! Keys are validated [`ObjectKey`]s, never raw user input, so no key can escape its
//! bucket or directory. Bodies stream in both directions: a one-hour episode is never
//! held in memory whole.

mod key;
mod local;
mod s3;
mod signed_url;

use std::ops::Range;
use std::path::Path;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt as _};

pub use key::ObjectKey;
pub use local::LocalObjects;
pub use s3::S3Objects;
pub use signed_url::{SIGNED_OBJECT_PATH, SignedUrl};

use super::StoreError;
use crate::settings::{Profile, Settings};

/// A readable object body.
pub type ObjectBody = Pin<Box<dyn AsyncRead + Send>>;

/// What the store knows about one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub key: ObjectKey,
    pub size: u64,
    pub content_type: String,
}

/// The object store, backed by S3 in a cluster or by a local directory.
#[derive(Debug, Clone)]
pub enum ObjectStore {
    Local(LocalObjects),
    S3(S3Objects),
}

impl ObjectStore {
    /// Opens the adapter the settings' profile selects. Nothing is contacted yet: a
    /// server that is down shows in [`check`](Self::check) and in each call.
    ///
    /// # Errors
    /// When the local directory cannot be created or the S3 settings are incomplete.
    pub async fn open(settings: &Settings) -> Result<Self, StoreError> {
        match settings.profile {
            Profile::Embedded => Ok(Self::Local(
                LocalObjects::open(&settings.paths.data_dir.join("objects"), &settings.objects)
                    .await?,
            )),
            Profile::Cluster => Ok(Self::S3(S3Objects::new(
                &settings.minio,
                &settings.objects,
            )?)),
        }
    }

    /// Stores the bytes under `key`, replacing any object there.
    ///
    /// # Errors
    /// When the store is unavailable or refuses the write.
    pub async fn put_bytes(
        &self,
        key: &ObjectKey,
        body: Bytes,
        content_type: &str,
    ) -> Result<ObjectInfo, StoreError> {
        self.put_stream(key, Box::pin(std::io::Cursor::new(body)), content_type)
            .await
    }

    /// Streams `body` into the store under `key`; returns once the store has confirmed
    /// the whole object. The local adapter derives the content type from the key's
    /// extension instead of storing `content_type`.
    ///
    /// # Errors
    /// When reading the body fails or the store is unavailable.
    pub async fn put_stream(
        &self,
        key: &ObjectKey,
        body: ObjectBody,
        content_type: &str,
    ) -> Result<ObjectInfo, StoreError> {
        match self {
            Self::Local(store) => store.put_stream(key, body).await,
            Self::S3(store) => store.put_stream(key, body, content_type).await,
        }
    }

    /// Streams a local file into the store.
    ///
    /// # Errors
    /// When the file cannot be read or the store is unavailable.
    pub async fn put_file(
        &self,
        key: &ObjectKey,
        path: &Path,
        content_type: &str,
    ) -> Result<ObjectInfo, StoreError> {
        let file = tokio::fs::File::open(path)
            .await
            .map_err(|e| StoreError::Invalid(format!("cannot read {}: {e}", path.display())))?;
        self.put_stream(key, Box::pin(file), content_type).await
    }

    /// Opens the object for streaming.
    ///
    /// # Errors
    /// `NotFound` when there is no such object.
    pub async fn get(&self, key: &ObjectKey) -> Result<(ObjectInfo, ObjectBody), StoreError> {
        match self {
            Self::Local(store) => store.get(key, None).await,
            Self::S3(store) => store.get(key, None).await,
        }
    }

    /// Reads a byte range of the object (`start..end`, end exclusive, clamped to size).
    ///
    /// # Errors
    /// `NotFound` for a missing object, `Invalid` for an empty or inverted range.
    pub async fn get_range(&self, key: &ObjectKey, range: Range<u64>) -> Result<Bytes, StoreError> {
        if range.start >= range.end {
            return Err(StoreError::Invalid(format!("empty byte range {range:?}")));
        }
        let (_, body) = match self {
            Self::Local(store) => store.get(key, Some(range)).await?,
            Self::S3(store) => store.get(key, Some(range)).await?,
        };
        read_all(body).await
    }

    /// Reads the whole object into memory; for small objects only.
    ///
    /// # Errors
    /// `NotFound` when there is no such object.
    pub async fn get_bytes(&self, key: &ObjectKey) -> Result<Bytes, StoreError> {
        let (_, body) = self.get(key).await?;
        read_all(body).await
    }

    /// Describes the object, or `None` when there is none.
    ///
    /// # Errors
    /// When the store is unavailable.
    pub async fn head(&self, key: &ObjectKey) -> Result<Option<ObjectInfo>, StoreError> {
        match self {
            Self::Local(store) => store.head(key).await,
            Self::S3(store) => store.head(key).await,
        }
    }

    /// Every object whose key starts with `prefix`, in key order.
    ///
    /// # Errors
    /// When the store is unavailable.
    pub async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, StoreError> {
        let mut objects = match self {
            Self::Local(store) => store.list(prefix).await?,
            Self::S3(store) => store.list(prefix).await?,
        };
        objects.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(objects)
    }

    /// Removes the object; removing a missing object succeeds.
    ///
    /// # Errors
    /// When the store is unavailable.
    pub async fn delete(&self, key: &ObjectKey) -> Result<(), StoreError> {
        match self {
            Self::Local(store) => store.delete(key).await,
            Self::S3(store) => store.delete(key).await,
        }
    }

    /// A URL a listener's browser can fetch the object from until `ttl` passes: an S3
    /// presigned URL, or a gateway URL signed with the embedded store's key.
    ///
    /// # Errors
    /// When the store is unavailable or `ttl` is out of range.
    pub async fn presigned_get_url(
        &self,
        key: &ObjectKey,
        ttl: Duration,
    ) -> Result<String, StoreError> {
        match self {
            Self::Local(store) => Ok(store.signed_url(key, ttl)),
            Self::S3(store) => store.presigned_get_url(key, ttl).await,
        }
    }

    /// Confirms the store is usable (for `/ready`), creating the bucket if missing.
    ///
    /// # Errors
    /// `Unavailable` with the reason.
    pub async fn check(&self) -> Result<(), StoreError> {
        match self {
            Self::Local(store) => store.check().await,
            Self::S3(store) => store.check().await,
        }
    }

    /// Which adapter this is, for logs.
    pub fn adapter(&self) -> &'static str {
        match self {
            Self::Local(_) => "local directory",
            Self::S3(_) => "s3",
        }
    }
}

async fn read_all(mut body: ObjectBody) -> Result<Bytes, StoreError> {
    let mut buffer = Vec::new();
    body.read_to_end(&mut buffer)
        .await
        .map_err(|e| StoreError::unavailable("objects", format!("reading the body failed: {e}")))?;
    Ok(Bytes::from(buffer))
}

/// The content type for a key's extension, for stores that keep no metadata.
fn content_type_for(key: &ObjectKey) -> &'static str {
    let extension = key
        .as_str()
        .rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase());
    match extension.as_deref() {
        Some("wav") => "audio/wav",
        Some("mp3") => "audio/mpeg",
        Some("flac") => "audio/flac",
        Some("ogg" | "oga" | "opus") => "audio/ogg",
        Some("m4a" | "aac") => "audio/mp4",
        Some("json") => "application/json",
        Some("txt" | "srt") => "text/plain; charset=utf-8",
        Some("vtt") => "text/vtt",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("xml" | "rss") => "application/xml",
        _ => "application/octet-stream",
    }
}

impl super::Store for ObjectStore {
    async fn check(&self) -> Result<(), StoreError> {
        ObjectStore::check(self).await
    }
}
