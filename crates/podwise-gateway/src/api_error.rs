//! Every error the gateway answers, in one JSON shape:
//! `{"code": "not_found", "message": "...", "details": ...}` with the matching HTTP
//! status and `Retry-After` on 429 and 503. Messages come from [`ServiceError`], which
//! never carries internals.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use podwise_common::ServiceError;
use serde::Serialize;

/// A failure on its way to an HTTP client.
#[derive(Debug)]
pub struct ApiError {
    pub error: ServiceError,
    pub details: Option<serde_json::Value>,
}

#[derive(Serialize)]
struct Body<'a> {
    code: &'a str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<&'a serde_json::Value>,
}

impl ApiError {
    pub fn new(error: ServiceError) -> Self {
        Self {
            error,
            details: None,
        }
    }

    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(details);
        self
    }

    /// The JSON body this error answers with, for places that report an error inside a
    /// response already under way (a server-sent event stream).
    pub fn body(&self) -> serde_json::Value {
        serde_json::to_value(Body {
            code: self.error.code(),
            message: self.error.to_string(),
            details: self.details.as_ref(),
        })
        .unwrap_or_default()
    }
}

impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> Self {
        Self::new(error)
    }
}

impl From<tonic::Status> for ApiError {
    fn from(status: tonic::Status) -> Self {
        Self::new(ServiceError::from_status(&status))
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.error.http_status().as_u16())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        if let ServiceError::Internal(source) = &self.error {
            tracing::error!(error = format!("{source:#}"), "internal error");
        }
        let mut response = HttpResponse::build(self.status_code());
        if let Some(retry_after) = self.error.retry_after() {
            response.insert_header(("Retry-After", retry_after.as_secs().max(1).to_string()));
        }
        if matches!(self.error, ServiceError::Unauthenticated(_)) {
            response.insert_header(("WWW-Authenticate", "Bearer"));
        }
        response.json(self.body())
    }
}
