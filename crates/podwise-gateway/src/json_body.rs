//! A JSON body read strictly, for the speech routes: a body that is not UTF-8 is refused
//! as such (400), before any JSON parsing, and every other fault gets its own status, in
//! the gateway's error shape.
//!
//! | fault | status |
//! |---|---|
//! | `Content-Type` present and not JSON | 415 |
//! | over the body limit (declared or read) | 413 |
//! | not UTF-8, or not JSON at all | 400 |
//! | JSON of the wrong shape (a missing or mistyped field, an unknown one) | 422 |

use actix_web::http::header;
use actix_web::{HttpRequest, web};
use bytes::BytesMut;
use futures_util::StreamExt as _;
use podwise_common::ServiceError;
use serde::de::DeserializeOwned;

use crate::upload::declared_length;

/// Reads `payload` (at most `limit` bytes) as the JSON of a `T`.
///
/// # Errors
/// The [`ServiceError`] of the table above.
pub(crate) async fn read<T: DeserializeOwned>(
    request: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<T, ServiceError> {
    if let Some(value) = request.headers().get(header::CONTENT_TYPE) {
        let json = value
            .to_str()
            .ok()
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| {
                let v = v.trim().to_ascii_lowercase();
                v == "application/json" || v.ends_with("+json")
            });
        if !json {
            return Err(ServiceError::UnsupportedMediaType(
                "send the body as application/json".to_owned(),
            ));
        }
    }
    let too_large =
        || ServiceError::PayloadTooLarge(format!("the body is over the limit of {limit} bytes"));
    if declared_length(request).is_some_and(|length| length > limit) {
        return Err(too_large());
    }
    let mut body = BytesMut::new();
    while let Some(piece) = payload.next().await {
        let piece = piece.map_err(|e| {
            ServiceError::InvalidArgument(format!("the body could not be read: {e}"))
        })?;
        if body.len() + piece.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&piece);
    }
    let text = std::str::from_utf8(&body).map_err(|e| {
        ServiceError::InvalidArgument(format!(
            "the body is not UTF-8 (invalid byte at offset {})",
            e.valid_up_to()
        ))
    })?;
    serde_json::from_str(text).map_err(|e| {
        use serde_json::error::Category;
        match e.classify() {
            Category::Data => {
                ServiceError::Unprocessable(format!("the JSON body does not fit this route: {e}"))
            }
            Category::Syntax | Category::Eof | Category::Io => {
                ServiceError::InvalidArgument(format!("the body is not valid JSON: {e}"))
            }
        }
    })
}
