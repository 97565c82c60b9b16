//! `GET /api/v1/objects/<key>?expires=…&signature=…`: the embedded object store's
//! answer to S3 presigned URLs. A listener's browser fetches a preview or an answer's
//! audio with no token, only while the signature holds and the URL has not expired.
//!
//! In the cluster profile, presigned URLs point at S3 itself and this route answers 404.
//! A `Range: bytes=…` header gets a 206 with that part, so audio players can seek.

use std::ops::Range;
use std::time::Duration;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use podwise_common::ServiceError;
use podwise_common::stores::objects::{ObjectKey, ObjectStore};
use serde::Deserialize;
use serde_json::Value;
use tokio_util::io::ReaderStream;

use crate::AppState;
use crate::api_error::ApiError;

/// How long the audio links the API hands out (citations, previews) stay valid.
const LINK_TTL: Duration = Duration::from_secs(3600);

#[derive(Debug, Deserialize)]
pub(crate) struct Signature {
    expires: u64,
    signature: String,
}

pub(crate) async fn signed_object(
    state: web::Data<AppState>,
    request: HttpRequest,
    key: web::Path<String>,
    query: Result<web::Query<Signature>, actix_web::Error>,
) -> Result<HttpResponse, ApiError> {
    let ObjectStore::Local(local) = &state.objects else {
        return Err(ServiceError::NotFound(
            "objects are served by the object store itself in the cluster profile".to_owned(),
        )
        .into());
    };
    let query = query.map_err(|_| {
        ServiceError::PermissionDenied("the URL needs its expires and signature".to_owned())
    })?;
    let key = local
        .signer()
        .verify(&key, query.expires, &query.signature)
        .map_err(|e| ServiceError::PermissionDenied(e.to_string()))?;
    let store = ObjectStore::Local(local.clone());

    let requested = request
        .headers()
        .get(header::RANGE)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    if let Some(requested) = requested {
        let info = store
            .head(&key)
            .await
            .map_err(ServiceError::from)?
            .ok_or_else(|| ServiceError::NotFound(format!("no object {key}")))?;
        let Some(range) = byte_range(&requested, info.size) else {
            return Ok(HttpResponse::RangeNotSatisfiable()
                .insert_header((header::CONTENT_RANGE, format!("bytes */{}", info.size)))
                .finish());
        };
        let part = store
            .get_range(&key, range.clone())
            .await
            .map_err(ServiceError::from)?;
        let last = range.start + part.len() as u64 - 1;
        return Ok(HttpResponse::PartialContent()
            .content_type(info.content_type)
            .insert_header((header::ACCEPT_RANGES, "bytes"))
            .insert_header((
                header::CONTENT_RANGE,
                format!("bytes {}-{last}/{}", range.start, info.size),
            ))
            .body(part));
    }

    let (info, body) = store.get(&key).await.map_err(ServiceError::from)?;
    Ok(HttpResponse::Ok()
        .content_type(info.content_type)
        .insert_header((header::ACCEPT_RANGES, "bytes"))
        .no_chunking(info.size)
        .streaming(ReaderStream::new(body)))
}

/// The one range of a `bytes=start-end`, `bytes=start-` or `bytes=-suffix` header, as
/// `start..end` (end exclusive) within `size`; `None` when it cannot be served. Several
/// ranges at once are not served: players ask for one.
fn byte_range(header: &str, size: u64) -> Option<Range<u64>> {
    let spec = header.trim().strip_prefix("bytes=")?;
    if spec.contains(',') || size == 0 {
        return None;
    }
    let (start, end) = spec.split_once('-')?;
    let (start, end) = match (start.trim(), end.trim()) {
        ("", suffix) => {
            let suffix: u64 = suffix.parse().ok()?;
            (size.saturating_sub(suffix), size)
        }
        (start, "") => (start.parse().ok()?, size),
        (start, end) => {
            let end: u64 = end.parse().ok()?;
            (start.parse().ok()?, end.saturating_add(1).min(size))
        }
    };
    (start < end).then_some(start..end)
}

/// A time-limited URL for an object, or null when there is no object (or it cannot be
/// signed now, which a listener sees as an episode without audio rather than an error).
pub(crate) async fn signed_url(state: &AppState, key: &str) -> Value {
    if key.is_empty() {
        return Value::Null;
    }
    let Ok(key) = ObjectKey::new(key) else {
        tracing::warn!(key, "a record names an object key that is not valid");
        return Value::Null;
    };
    match state.objects.presigned_get_url(&key, LINK_TTL).await {
        Ok(url) => Value::String(url),
        Err(error) => {
            tracing::warn!(%error, "cannot sign an audio link");
            Value::Null
        }
    }
}

#[cfg(test)]
mod tests {
    use super::byte_range;

    #[test]
    fn byte_ranges_are_read_as_players_send_them() {
        assert_eq!(byte_range("bytes=0-99", 1_000), Some(0..100));
        assert_eq!(byte_range("bytes=900-", 1_000), Some(900..1_000));
        assert_eq!(byte_range("bytes=-100", 1_000), Some(900..1_000));
        assert_eq!(byte_range("bytes=990-2000", 1_000), Some(990..1_000));
        assert_eq!(byte_range("bytes=-5000", 1_000), Some(0..1_000));
    }

    #[test]
    fn ranges_that_cannot_be_served_are_refused() {
        for header in [
            "bytes=1000-",
            "bytes=5-2",
            "bytes=0-1,5-9",
            "items=0-5",
            "bytes=x-",
        ] {
            assert_eq!(byte_range(header, 1_000), None, "{header}");
        }
        assert_eq!(byte_range("bytes=0-", 0), None);
    }
}
