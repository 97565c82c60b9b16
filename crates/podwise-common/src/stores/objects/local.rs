//! The embedded object store: one file per object under the data directory.
//!
//! Writes go to a temporary file that is flushed to disk and then renamed into place,
//! so a reader never sees half an object and a crash never leaves one.

use std::io::SeekFrom;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _};

use super::{ObjectBody, ObjectInfo, ObjectKey, SignedUrl, content_type_for};
use crate::settings::ObjectSettings;
use crate::stores::StoreError;

/// Where half-written objects live until they are complete; hidden from listings.
const STAGING_DIR: &str = ".staging";

#[derive(Debug, Clone)]
pub struct LocalObjects {
    root: PathBuf,
    signer: SignedUrl,
}

impl LocalObjects {
    /// Opens (and creates) the store rooted at `root`.
    ///
    /// # Errors
    /// When the directory cannot be created or the signing key cannot be loaded.
    pub async fn open(root: &Path, settings: &ObjectSettings) -> Result<Self, StoreError> {
        tokio::fs::create_dir_all(root.join(STAGING_DIR))
            .await
            .map_err(|e| unavailable(format!("cannot create {}: {e}", root.display())))?;
        let signer = SignedUrl::load(
            settings.url_secret.as_ref(),
            &root.join(STAGING_DIR).join("url-signing.key"),
            &settings.public_url,
        )
        .await?;
        Ok(Self {
            root: root.to_owned(),
            signer,
        })
    }

    /// The signer, for the gateway to verify the URLs this store hands out.
    pub fn signer(&self) -> &SignedUrl {
        &self.signer
    }

    fn path(&self, key: &ObjectKey) -> PathBuf {
        self.root.join(key.as_str())
    }

    /// Files carry no metadata: the content type is always derived from the key's
    /// extension, so keys should end in the extension of what they hold.
    pub(super) async fn put_stream(
        &self,
        key: &ObjectKey,
        mut body: ObjectBody,
    ) -> Result<ObjectInfo, StoreError> {
        let staging = self
            .root
            .join(STAGING_DIR)
            .join(uuid::Uuid::new_v4().to_string());
        let written = async {
            let mut file = tokio::fs::File::create(&staging).await?;
            let size = tokio::io::copy(&mut body, &mut file).await?;
            file.sync_all().await?;
            let target = self.path(key);
            if let Some(parent) = target.parent() {
                tokio::fs::create_dir_all(parent).await?;
            }
            tokio::fs::rename(&staging, &target).await?;
            Ok::<_, std::io::Error>(size)
        }
        .await;
        match written {
            Ok(size) => Ok(ObjectInfo {
                key: key.clone(),
                size,
                content_type: content_type_for(key).to_owned(),
            }),
            Err(error) => {
                let _ = tokio::fs::remove_file(&staging).await;
                Err(unavailable(format!("writing {key} failed: {error}")))
            }
        }
    }

    pub(super) async fn get(
        &self,
        key: &ObjectKey,
        range: Option<Range<u64>>,
    ) -> Result<(ObjectInfo, ObjectBody), StoreError> {
        let mut file = tokio::fs::File::open(self.path(key))
            .await
            .map_err(|e| io_error(key, e))?;
        let size = file.metadata().await.map_err(|e| io_error(key, e))?.len();
        let info = ObjectInfo {
            key: key.clone(),
            size,
            content_type: content_type_for(key).to_owned(),
        };
        let Some(range) = range else {
            return Ok((info, Box::pin(file)));
        };
        if range.start >= size {
            // S3 answers 416 here; both adapters report it the same way.
            return Err(StoreError::NotFound(format!(
                "object {key} has no bytes in that range"
            )));
        }
        let (start, end) = (range.start, range.end.min(size));
        file.seek(SeekFrom::Start(start))
            .await
            .map_err(|e| io_error(key, e))?;
        Ok((info, Box::pin(file.take(end - start))))
    }

    pub(super) async fn head(&self, key: &ObjectKey) -> Result<Option<ObjectInfo>, StoreError> {
        match tokio::fs::metadata(self.path(key)).await {
            Ok(metadata) if metadata.is_file() => Ok(Some(ObjectInfo {
                key: key.clone(),
                size: metadata.len(),
                content_type: content_type_for(key).to_owned(),
            })),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error(key, e)),
        }
    }

    pub(super) async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, StoreError> {
        let root = self.root.clone();
        let prefix = prefix.to_owned();
        tokio::task::spawn_blocking(move || {
            let mut found = Vec::new();
            walk(&root, &root, &prefix, &mut found)
                .map_err(|e| unavailable(format!("listing failed: {e}")))?;
            Ok(found)
        })
        .await
        .map_err(|e| StoreError::Internal(e.into()))?
    }

    pub(super) async fn delete(&self, key: &ObjectKey) -> Result<(), StoreError> {
        match tokio::fs::remove_file(self.path(key)).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_error(key, e)),
        }
    }

    pub(super) fn signed_url(&self, key: &ObjectKey, ttl: Duration) -> String {
        self.signer.url(key, ttl)
    }

    pub(super) async fn check(&self) -> Result<(), StoreError> {
        let probe = self.root.join(STAGING_DIR).join("ready-probe");
        tokio::fs::write(&probe, b"ok")
            .await
            .map_err(|e| unavailable(format!("{} is not writable: {e}", self.root.display())))?;
        let _ = tokio::fs::remove_file(&probe).await;
        Ok(())
    }
}

fn walk(root: &Path, dir: &Path, prefix: &str, found: &mut Vec<ObjectInfo>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        let file_type = entry.file_type()?;
        if file_type.is_dir() {
            walk(root, &path, prefix, found)?;
        } else if file_type.is_file() {
            let Ok(relative) = path.strip_prefix(root) else {
                continue;
            };
            let Ok(key) = ObjectKey::new(relative.to_string_lossy().replace('\\', "/")) else {
                continue;
            };
            if key.as_str().starts_with(prefix) {
                let content_type = content_type_for(&key).to_owned();
                found.push(ObjectInfo {
                    size: entry.metadata()?.len(),
                    key,
                    content_type,
                });
            }
        }
    }
    Ok(())
}

fn unavailable(detail: String) -> StoreError {
    StoreError::unavailable("objects", detail)
}

fn io_error(key: &ObjectKey, error: std::io::Error) -> StoreError {
    if error.kind() == std::io::ErrorKind::NotFound {
        StoreError::NotFound(format!("no object {key}"))
    } else {
        unavailable(format!("{key}: {error}"))
    }
}
