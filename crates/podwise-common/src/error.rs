//! The one error type a service layer returns, and its two mappings: to `tonic::Status`
//! for gRPC callers and to an HTTP status for the gateway.
//!
//! Both mappings are `match`es without a catch-all arm, so a new variant cannot compile
//! unmapped. A status crossing gRPC carries the variant's stable code in the
//! `podwise-error` metadata entry (and `retry-after` where one applies), so the gateway
//! restores the exact HTTP status a service meant.

use std::time::Duration;

use http::StatusCode;
use tonic::{Code, Status};

/// Metadata key that carries [`ServiceError::code`] across gRPC.
pub const ERROR_CODE_METADATA: &str = "podwise-error";
/// Metadata key that carries a retry delay in whole seconds across gRPC.
pub const RETRY_AFTER_METADATA: &str = "retry-after";

/// What went wrong, in terms a caller can act on. Messages are shown to callers, so they
/// never hold SQL, host names, file paths or secrets; `Internal` hides its detail.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The request is malformed (400).
    #[error("{0}")]
    InvalidArgument(String),
    /// The request is well formed but its content cannot be processed (422).
    #[error("{0}")]
    Unprocessable(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    AlreadyExists(String),
    /// The system is not in a state where this request can run (409).
    #[error("{0}")]
    FailedPrecondition(String),
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    PermissionDenied(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// The caller sent too many requests (429).
    #[error("{message}")]
    RateLimited {
        message: String,
        retry_after: Duration,
    },
    /// This service is busy or a dependency is down; trying again later can work (503).
    #[error("{message}")]
    Unavailable {
        message: String,
        retry_after: Duration,
    },
    /// A backend answered with an error of its own (502).
    #[error("{0}")]
    BadUpstream(String),
    /// The work did not finish in time (504).
    #[error("{0}")]
    Timeout(String),
    /// The feature is not built in this version (501).
    #[error("{0}")]
    Unimplemented(String),
    /// A bug or an unexpected failure; the detail goes to the log, never to the caller.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ServiceError {
    /// A stable, machine-readable code for this kind of error, part of the public API.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidArgument(_) => "invalid_argument",
            Self::Unprocessable(_) => "unprocessable",
            Self::NotFound(_) => "not_found",
            Self::AlreadyExists(_) => "already_exists",
            Self::FailedPrecondition(_) => "failed_precondition",
            Self::Unauthenticated(_) => "unauthenticated",
            Self::PermissionDenied(_) => "permission_denied",
            Self::PayloadTooLarge(_) => "payload_too_large",
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
            Self::RateLimited { .. } => "rate_limited",
            Self::Unavailable { .. } => "unavailable",
            Self::BadUpstream(_) => "bad_upstream",
            Self::Timeout(_) => "timeout",
            Self::Unimplemented(_) => "unimplemented",
            Self::Internal(_) => "internal",
        }
    }

    pub fn http_status(&self) -> StatusCode {
        match self {
            Self::InvalidArgument(_) => StatusCode::BAD_REQUEST,
            Self::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::AlreadyExists(_) | Self::FailedPrecondition(_) => StatusCode::CONFLICT,
            Self::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            Self::PermissionDenied(_) => StatusCode::FORBIDDEN,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::BadUpstream(_) => StatusCode::BAD_GATEWAY,
            Self::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
            Self::Unimplemented(_) => StatusCode::NOT_IMPLEMENTED,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn grpc_code(&self) -> Code {
        match self {
            Self::InvalidArgument(_)
            | Self::Unprocessable(_)
            | Self::PayloadTooLarge(_)
            | Self::UnsupportedMediaType(_) => Code::InvalidArgument,
            Self::NotFound(_) => Code::NotFound,
            Self::AlreadyExists(_) => Code::AlreadyExists,
            Self::FailedPrecondition(_) => Code::FailedPrecondition,
            Self::Unauthenticated(_) => Code::Unauthenticated,
            Self::PermissionDenied(_) => Code::PermissionDenied,
            Self::RateLimited { .. } => Code::ResourceExhausted,
            Self::Unavailable { .. } | Self::BadUpstream(_) => Code::Unavailable,
            Self::Timeout(_) => Code::DeadlineExceeded,
            Self::Unimplemented(_) => Code::Unimplemented,
            Self::Internal(_) => Code::Internal,
        }
    }

    /// How long a caller should wait before retrying, for the variants where that helps.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after, .. } | Self::Unavailable { retry_after, .. } => {
                Some(*retry_after)
            }
            _ => None,
        }
    }

    /// A dependency is down: answer 503 and suggest a short retry.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::Unavailable {
            message: message.into(),
            retry_after: Duration::from_secs(5),
        }
    }

    /// Rebuilds the error a service sent, from the status a gRPC call returned.
    ///
    /// Statuses that carry no `podwise-error` code (a transport failure, a foreign
    /// server) are mapped by their gRPC code. The message of an internal error is not
    /// passed on.
    pub fn from_status(status: &Status) -> Self {
        let message = status.message().to_owned();
        let retry_after = status
            .metadata()
            .get(RETRY_AFTER_METADATA)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .map(Duration::from_secs)
            .unwrap_or(Duration::from_secs(5));
        let code = status
            .metadata()
            .get(ERROR_CODE_METADATA)
            .and_then(|v| v.to_str().ok());
        match code {
            Some("invalid_argument") => Self::InvalidArgument(message),
            Some("unprocessable") => Self::Unprocessable(message),
            Some("not_found") => Self::NotFound(message),
            Some("already_exists") => Self::AlreadyExists(message),
            Some("failed_precondition") => Self::FailedPrecondition(message),
            Some("unauthenticated") => Self::Unauthenticated(message),
            Some("permission_denied") => Self::PermissionDenied(message),
            Some("payload_too_large") => Self::PayloadTooLarge(message),
            Some("unsupported_media_type") => Self::UnsupportedMediaType(message),
            Some("rate_limited") => Self::RateLimited {
                message,
                retry_after,
            },
            Some("unavailable") => Self::Unavailable {
                message,
                retry_after,
            },
            Some("bad_upstream") => Self::BadUpstream(message),
            Some("timeout") => Self::Timeout(message),
            Some("unimplemented") => Self::Unimplemented(message),
            Some(_) | None => Self::from_grpc_code(status.code(), message, retry_after),
        }
    }

    fn from_grpc_code(code: Code, message: String, retry_after: Duration) -> Self {
        match code {
            Code::InvalidArgument | Code::OutOfRange => Self::InvalidArgument(message),
            Code::NotFound => Self::NotFound(message),
            Code::AlreadyExists | Code::Aborted => Self::AlreadyExists(message),
            Code::FailedPrecondition => Self::FailedPrecondition(message),
            Code::Unauthenticated => Self::Unauthenticated(message),
            Code::PermissionDenied => Self::PermissionDenied(message),
            Code::ResourceExhausted => Self::RateLimited {
                message,
                retry_after,
            },
            // The service could not be reached or went away mid-call.
            Code::Unavailable | Code::Cancelled => Self::Unavailable {
                message,
                retry_after,
            },
            Code::DeadlineExceeded => Self::Timeout(message),
            Code::Unimplemented => Self::Unimplemented(message),
            Code::Ok | Code::Unknown | Code::Internal | Code::DataLoss => {
                Self::Internal(anyhow::anyhow!("upstream status {code:?}: {message}"))
            }
        }
    }
}

impl From<ServiceError> for Status {
    fn from(error: ServiceError) -> Self {
        if let ServiceError::Internal(source) = &error {
            // The detail stops here: log it for the operator, send the caller a generic text.
            tracing::error!(error = format!("{source:#}"), "internal error");
        }
        let mut status = Status::new(error.grpc_code(), error.to_string());
        if let Ok(code) = error.code().parse() {
            status.metadata_mut().insert(ERROR_CODE_METADATA, code);
        }
        if let Some(retry_after) = error.retry_after()
            && let Ok(value) = retry_after.as_secs().max(1).to_string().parse()
        {
            status.metadata_mut().insert(RETRY_AFTER_METADATA, value);
        }
        status
    }
}

/// The answer of an RPC whose feature this build does not have yet: `UNIMPLEMENTED`
/// naming the feature, never a made-up result.
pub fn not_available(feature: &str) -> Status {
    ServiceError::Unimplemented(format!("{feature} is not available in this build yet")).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_variant() -> Vec<ServiceError> {
        let wait = Duration::from_secs(7);
        vec![
            ServiceError::InvalidArgument("a".into()),
            ServiceError::Unprocessable("a".into()),
            ServiceError::NotFound("a".into()),
            ServiceError::AlreadyExists("a".into()),
            ServiceError::FailedPrecondition("a".into()),
            ServiceError::Unauthenticated("a".into()),
            ServiceError::PermissionDenied("a".into()),
            ServiceError::PayloadTooLarge("a".into()),
            ServiceError::UnsupportedMediaType("a".into()),
            ServiceError::RateLimited {
                message: "a".into(),
                retry_after: wait,
            },
            ServiceError::Unavailable {
                message: "a".into(),
                retry_after: wait,
            },
            ServiceError::BadUpstream("a".into()),
            ServiceError::Timeout("a".into()),
            ServiceError::Unimplemented("a".into()),
            ServiceError::Internal(anyhow::anyhow!("secret detail")),
        ]
    }

    #[test]
    fn every_error_survives_a_grpc_round_trip_with_its_http_status() {
        for error in every_variant() {
            let http = error.http_status();
            let retry = error.retry_after();
            let back = ServiceError::from_status(&Status::from(error));
            assert_eq!(back.http_status(), http, "{back:?}");
            assert_eq!(back.retry_after(), retry, "{back:?}");
        }
    }

    #[test]
    fn internal_errors_do_not_leak_their_detail() {
        let status = Status::from(ServiceError::Internal(anyhow::anyhow!("password=hunter2")));
        assert_eq!(status.message(), "internal error");
    }

    #[test]
    fn a_refused_connection_becomes_unavailable() {
        let status = Status::unavailable("tcp connect error");
        let error = ServiceError::from_status(&status);
        assert_eq!(error.http_status(), StatusCode::SERVICE_UNAVAILABLE);
    }
}
