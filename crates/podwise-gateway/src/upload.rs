//! Reading a `multipart/form-data` upload: one file and a few short text fields, as the
//! audio routes take them.
//!
//! The whole body is bounded while it streams in, so an oversize upload is refused with
//! 413 after at most the limit has been read, never buffered whole. Text fields are
//! small, must be UTF-8, and may repeat (`timestamp_granularities[]`).

use std::collections::BTreeMap;

use actix_multipart::{Field, Multipart, MultipartError};
use actix_web::http::header;
use actix_web::{HttpRequest, web};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt as _;
use podwise_common::ServiceError;

/// The most a text field may hold; prompts are the longest ones.
const MAX_FIELD_BYTES: usize = 16 * 1024;
/// The most text fields one upload may carry.
const MAX_FIELDS: usize = 32;

/// The uploaded file.
#[derive(Debug)]
pub(crate) struct UploadedFile {
    /// The client's file name, a hint for the container format.
    pub(crate) file_name: Option<String>,
    pub(crate) content_type: Option<String>,
    pub(crate) bytes: Bytes,
}

/// A parsed upload: the file, if sent, and every text field.
#[derive(Debug, Default)]
pub(crate) struct Upload {
    pub(crate) file: Option<UploadedFile>,
    fields: BTreeMap<String, Vec<String>>,
}

impl Upload {
    /// Takes the one value of a text field; sending it twice is an error.
    pub(crate) fn take(&mut self, name: &str) -> Result<Option<String>, ServiceError> {
        match self.fields.remove(name) {
            None => Ok(None),
            Some(mut values) if values.len() == 1 => Ok(values.pop()),
            Some(_) => Err(invalid(format!("the field {name} is sent more than once"))),
        }
    }

    /// Takes every value of a repeatable text field.
    pub(crate) fn take_all(&mut self, name: &str) -> Vec<String> {
        self.fields.remove(name).unwrap_or_default()
    }

    /// Refuses fields nobody took, so a misspelt or unsupported option is not ignored.
    pub(crate) fn finish(self) -> Result<(), ServiceError> {
        if self.fields.is_empty() {
            return Ok(());
        }
        let names: Vec<&str> = self.fields.keys().map(String::as_str).collect();
        Err(invalid(format!("unsupported fields: {}", names.join(", "))))
    }
}

/// Reads the upload of `request`, the file from `file_field`, at most `limit` bytes in all.
///
/// # Errors
/// 415 when the body is not multipart, 413 past the limit, 400 for a malformed body,
/// a second file or a field that is not UTF-8.
pub(crate) async fn read(
    request: &HttpRequest,
    payload: web::Payload,
    file_field: &str,
    limit: usize,
) -> Result<Upload, ServiceError> {
    if let Some(length) = declared_length(request)
        && length > limit
    {
        return Err(too_large(limit));
    }
    let mut multipart = Multipart::new(request.headers(), payload);
    let mut upload = Upload::default();
    let mut total = 0usize;
    while let Some(field) = multipart.next().await {
        let field = field.map_err(|e| multipart_error(&e, limit))?;
        let name = field
            .name()
            .ok_or_else(|| invalid("a part has no field name".to_owned()))?
            .to_owned();
        if name == file_field {
            if upload.file.is_some() {
                return Err(invalid(format!("send one {file_field}, not several")));
            }
            let file_name = field
                .content_disposition()
                .and_then(|disposition| disposition.get_filename())
                .map(str::to_owned);
            let content_type = field.content_type().map(ToString::to_string);
            let bytes = collect(field, &mut total, limit).await?;
            upload.file = Some(UploadedFile {
                file_name,
                content_type,
                bytes,
            });
        } else {
            let count: usize = upload.fields.values().map(Vec::len).sum();
            if count >= MAX_FIELDS {
                return Err(invalid(format!("more than {MAX_FIELDS} fields")));
            }
            let mut field_total = 0;
            let bytes = collect(field, &mut field_total, MAX_FIELD_BYTES)
                .await
                .map_err(|e| match e {
                    ServiceError::PayloadTooLarge(_) => {
                        invalid(format!("the field {name} is over {MAX_FIELD_BYTES} bytes"))
                    }
                    other => other,
                })?;
            total += bytes.len();
            let text = String::from_utf8(bytes.to_vec())
                .map_err(|_| invalid(format!("the field {name} is not valid UTF-8")))?;
            upload.fields.entry(name).or_default().push(text);
        }
    }
    Ok(upload)
}

/// Reads one part, counting its bytes into `total` and stopping past `limit`.
async fn collect(mut field: Field, total: &mut usize, limit: usize) -> Result<Bytes, ServiceError> {
    let mut bytes = BytesMut::new();
    while let Some(chunk) = field.next().await {
        let chunk = chunk.map_err(|e| multipart_error(&e, limit))?;
        *total += chunk.len();
        if *total > limit {
            return Err(too_large(limit));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes.freeze())
}

/// The `Content-Length` the client declared, when it sent a valid one.
pub(crate) fn declared_length(request: &HttpRequest) -> Option<usize> {
    request
        .headers()
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

fn multipart_error(error: &MultipartError, limit: usize) -> ServiceError {
    match error {
        MultipartError::ContentTypeMissing
        | MultipartError::ContentTypeParse
        | MultipartError::ContentTypeIncompatible => ServiceError::UnsupportedMediaType(
            "send the body as multipart/form-data with the audio in a file field".to_owned(),
        ),
        MultipartError::Payload(actix_web::error::PayloadError::Overflow) => too_large(limit),
        other => invalid(format!("the multipart body could not be read: {other}")),
    }
}

fn too_large(limit: usize) -> ServiceError {
    ServiceError::PayloadTooLarge(format!("the upload is over the limit of {limit} bytes"))
}

fn invalid(message: String) -> ServiceError {
    ServiceError::InvalidArgument(message)
}
