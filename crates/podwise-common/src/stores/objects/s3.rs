//! The cluster object store: any S3 server (MinIO in Kubernetes), path-style addressing.
//!
//! The bucket is created on first use. Uploads above one part size go as multipart
//! uploads, so memory stays bounded by the part size whatever the object's length.

use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::{Credentials, Region, timeout::TimeoutConfig};
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use secrecy::ExposeSecret as _;
use tokio::io::AsyncReadExt as _;

use super::{ObjectBody, ObjectInfo, ObjectKey};
use crate::settings::{MinioSettings, ObjectSettings};
use crate::stores::StoreError;

/// Size of each multipart part; S3 requires at least 5 MiB for all but the last.
const PART_SIZE: usize = 8 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct S3Objects {
    client: Client,
    bucket: String,
    bucket_ready: Arc<AtomicBool>,
}

impl S3Objects {
    /// Builds the client; no request is made until the first call.
    ///
    /// # Errors
    /// When the access or secret key is missing.
    pub fn new(settings: &MinioSettings, _objects: &ObjectSettings) -> Result<Self, StoreError> {
        let (Some(access_key), Some(secret_key)) = (&settings.access_key, &settings.secret_key)
        else {
            return Err(StoreError::Invalid(
                "MINIO_ACCESS_KEY and MINIO_SECRET_KEY are required for the S3 store".to_owned(),
            ));
        };
        let scheme = if settings.secure { "https" } else { "http" };
        let credentials = Credentials::new(
            access_key.expose_secret(),
            secret_key.expose_secret(),
            None,
            None,
            "podwise-settings",
        );
        let http_client = aws_smithy_http_client::Builder::new()
            .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
            ))
            .build_https();
        let config = aws_sdk_s3::Config::builder()
            .behavior_version_latest()
            .http_client(http_client)
            .credentials_provider(credentials)
            .region(Region::new(settings.region.clone()))
            .endpoint_url(format!("{scheme}://{}:{}", settings.host, settings.port))
            .force_path_style(true)
            // One quick retry covers a dropped connection; a server that is down must
            // show as unavailable within a readiness probe's two seconds, not after
            // the SDK's default back-off.
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(2)
                    .with_initial_backoff(Duration::from_millis(100)),
            )
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(2))
                    .read_timeout(Duration::from_secs(30))
                    .build(),
            )
            .build();
        Ok(Self {
            client: Client::from_conf(config),
            bucket: settings.bucket.clone(),
            bucket_ready: Arc::default(),
        })
    }

    pub(super) async fn check(&self) -> Result<(), StoreError> {
        self.bucket_ready.store(false, Ordering::SeqCst);
        self.ensure_bucket().await
    }

    async fn ensure_bucket(&self) -> Result<(), StoreError> {
        if self.bucket_ready.load(Ordering::SeqCst) {
            return Ok(());
        }
        match self.client.head_bucket().bucket(&self.bucket).send().await {
            Ok(_) => {}
            Err(SdkError::ServiceError(e)) if e.err().is_not_found() => {
                match self
                    .client
                    .create_bucket()
                    .bucket(&self.bucket)
                    .send()
                    .await
                {
                    Ok(_) => tracing::info!(bucket = %self.bucket, "created the object bucket"),
                    // Another service created it at the same moment.
                    Err(SdkError::ServiceError(e))
                        if e.err().is_bucket_already_owned_by_you()
                            || e.err().is_bucket_already_exists() => {}
                    Err(e) => return Err(sdk_error("creating the bucket", e)),
                }
            }
            Err(e) => return Err(sdk_error("checking the bucket", e)),
        }
        self.bucket_ready.store(true, Ordering::SeqCst);
        Ok(())
    }

    pub(super) async fn put_stream(
        &self,
        key: &ObjectKey,
        mut body: ObjectBody,
        content_type: &str,
    ) -> Result<ObjectInfo, StoreError> {
        self.ensure_bucket().await?;
        let first = read_part(&mut body).await?;
        if first.len() < PART_SIZE {
            let size = first.len() as u64;
            self.client
                .put_object()
                .bucket(&self.bucket)
                .key(key.as_str())
                .content_type(content_type)
                .body(ByteStream::from(first))
                .send()
                .await
                .map_err(|e| sdk_error("uploading", e))?;
            return Ok(info(key, size, content_type));
        }
        self.put_multipart(key, first, body, content_type).await
    }

    async fn put_multipart(
        &self,
        key: &ObjectKey,
        first: Vec<u8>,
        mut body: ObjectBody,
        content_type: &str,
    ) -> Result<ObjectInfo, StoreError> {
        let upload = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key.as_str())
            .content_type(content_type)
            .send()
            .await
            .map_err(|e| sdk_error("starting a multipart upload", e))?;
        let upload_id = upload
            .upload_id()
            .ok_or_else(|| anyhow::anyhow!("the S3 server returned no upload id"))?
            .to_owned();

        let uploaded = async {
            let mut parts = Vec::new();
            let mut size = 0u64;
            let mut chunk = first;
            while !chunk.is_empty() {
                let number = i32::try_from(parts.len() + 1).map_err(anyhow::Error::from)?;
                size += chunk.len() as u64;
                let part = self
                    .client
                    .upload_part()
                    .bucket(&self.bucket)
                    .key(key.as_str())
                    .upload_id(&upload_id)
                    .part_number(number)
                    .body(ByteStream::from(chunk))
                    .send()
                    .await
                    .map_err(|e| sdk_error("uploading a part", e))?;
                parts.push(
                    CompletedPart::builder()
                        .part_number(number)
                        .set_e_tag(part.e_tag().map(str::to_owned))
                        .build(),
                );
                chunk = read_part(&mut body).await?;
            }
            self.client
                .complete_multipart_upload()
                .bucket(&self.bucket)
                .key(key.as_str())
                .upload_id(&upload_id)
                .multipart_upload(
                    CompletedMultipartUpload::builder()
                        .set_parts(Some(parts))
                        .build(),
                )
                .send()
                .await
                .map_err(|e| sdk_error("completing a multipart upload", e))?;
            Ok::<_, StoreError>(size)
        }
        .await;

        match uploaded {
            Ok(size) => Ok(info(key, size, content_type)),
            Err(error) => {
                // Leave no orphaned parts behind on the server.
                let _ = self
                    .client
                    .abort_multipart_upload()
                    .bucket(&self.bucket)
                    .key(key.as_str())
                    .upload_id(&upload_id)
                    .send()
                    .await;
                Err(error)
            }
        }
    }

    pub(super) async fn get(
        &self,
        key: &ObjectKey,
        range: Option<Range<u64>>,
    ) -> Result<(ObjectInfo, ObjectBody), StoreError> {
        self.ensure_bucket().await?;
        let mut request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key.as_str());
        if let Some(range) = range {
            // HTTP ranges are inclusive at both ends.
            request = request.range(format!("bytes={}-{}", range.start, range.end - 1));
        }
        let output = request.send().await.map_err(|e| match e {
            SdkError::ServiceError(ref inner) if inner.err().is_no_such_key() => {
                StoreError::NotFound(format!("no object {key}"))
            }
            // A range starting past the end: nothing to read.
            SdkError::ServiceError(ref inner) if inner.raw().status().as_u16() == 416 => {
                StoreError::NotFound(format!("object {key} has no bytes in that range"))
            }
            other => sdk_error("downloading", other),
        })?;
        let size = output
            .content_range()
            .and_then(|r| r.rsplit_once('/'))
            .and_then(|(_, total)| total.parse().ok())
            .or_else(|| output.content_length().and_then(|l| u64::try_from(l).ok()))
            .unwrap_or(0);
        let content_type = output
            .content_type()
            .unwrap_or("application/octet-stream")
            .to_owned();
        let body: ObjectBody = Box::pin(output.body.into_async_read());
        Ok((info(key, size, &content_type), body))
    }

    pub(super) async fn head(&self, key: &ObjectKey) -> Result<Option<ObjectInfo>, StoreError> {
        self.ensure_bucket().await?;
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .send()
            .await
        {
            Ok(output) => Ok(Some(info(
                key,
                output
                    .content_length()
                    .and_then(|l| u64::try_from(l).ok())
                    .unwrap_or(0),
                output.content_type().unwrap_or("application/octet-stream"),
            ))),
            Err(SdkError::ServiceError(e)) if e.err().is_not_found() => Ok(None),
            Err(e) => Err(sdk_error("inspecting", e)),
        }
    }

    pub(super) async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, StoreError> {
        self.ensure_bucket().await?;
        let mut found = Vec::new();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| sdk_error("listing", e))?;
            for object in page.contents() {
                let Some(Ok(key)) = object.key().map(ObjectKey::new) else {
                    continue;
                };
                let size = object
                    .size()
                    .and_then(|s| u64::try_from(s).ok())
                    .unwrap_or(0);
                let content_type = super::content_type_for(&key);
                found.push(info(&key, size, content_type));
            }
        }
        Ok(found)
    }

    pub(super) async fn delete(&self, key: &ObjectKey) -> Result<(), StoreError> {
        self.ensure_bucket().await?;
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .send()
            .await
            .map_err(|e| sdk_error("deleting", e))?;
        Ok(())
    }

    pub(super) async fn presigned_get_url(
        &self,
        key: &ObjectKey,
        ttl: Duration,
    ) -> Result<String, StoreError> {
        let config = PresigningConfig::expires_in(ttl)
            .map_err(|e| StoreError::Invalid(format!("presigned URL lifetime: {e}")))?;
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .presigned(config)
            .await
            .map_err(|e| sdk_error("presigning", e))?;
        Ok(request.uri().to_owned())
    }
}

fn info(key: &ObjectKey, size: u64, content_type: &str) -> ObjectInfo {
    ObjectInfo {
        key: key.clone(),
        size,
        content_type: content_type.to_owned(),
    }
}

/// Reads up to one part from the body; an empty result means the body is finished.
async fn read_part(body: &mut ObjectBody) -> Result<Vec<u8>, StoreError> {
    let mut part = Vec::with_capacity(PART_SIZE.min(1024 * 1024));
    body.take(PART_SIZE as u64)
        .read_to_end(&mut part)
        .await
        .map_err(|e| StoreError::Invalid(format!("reading the upload failed: {e}")))?;
    Ok(part)
}

/// Transport failures and server errors become `Unavailable`, naming what was attempted.
fn sdk_error<E: std::error::Error + Send + Sync + 'static, R: std::fmt::Debug>(
    action: &str,
    error: SdkError<E, R>,
) -> StoreError {
    let detail = match &error {
        SdkError::ServiceError(inner) => format!("{action}: {}", inner.err()),
        other => format!(
            "{action}: {}",
            aws_sdk_s3::error::DisplayErrorContext(other)
        ),
    };
    StoreError::unavailable("objects", detail)
}
