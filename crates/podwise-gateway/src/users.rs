//! Listeners in the product API: their creation, preferences and feedback.
//!
//! - `POST /api/v1/users` creates a listener and answers `{"user_id", "token"}` (201). The
//!   token is shown this once; the catalog keeps only its hash.
//! - `GET` and `PUT /api/v1/users/{id}/preferences` read and replace
//!   `{"categories": [...], "tags": [...]}`.
//! - `POST /api/v1/users/{id}/feedback` records `{"episode_id", "kind"}`, where `kind` is
//!   one of the catalog's feedback kinds (`liked`, `preview_played`, ...), answering 201
//!   with the stored event.
//!
//! Every route but the first needs that listener's own bearer token.

use actix_web::{HttpRequest, HttpResponse, web};
use podwise_common::ServiceError;
use podwise_common::stores::catalog::{FeedbackKind, Preferences};
use secrecy::ExposeSecret as _;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::AppState;
use crate::api_error::ApiError;
use crate::auth::Listener;
use crate::json_body;

/// Preferences and feedback bodies are small; this bounds what a client can make us read.
const BODY_LIMIT: usize = 64 * 1024;

pub(crate) async fn create(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let issued = state
        .catalog
        .create_user()
        .await
        .map_err(ServiceError::from)?;
    tracing::info!(user_id = %issued.user_id, "listener created");
    Ok(HttpResponse::Created().json(json!({
        "user_id": issued.user_id,
        "token": issued.token.expose_secret(),
    })))
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PreferencesBody {
    #[serde(default)]
    categories: Vec<String>,
    #[serde(default)]
    tags: Vec<String>,
}

impl From<Preferences> for PreferencesBody {
    fn from(stored: Preferences) -> Self {
        Self {
            categories: stored.categories,
            tags: stored.tags,
        }
    }
}

pub(crate) async fn preferences(
    state: web::Data<AppState>,
    listener: Listener,
    user_id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    listener.require_self(&user_id)?;
    let stored = state
        .catalog
        .preferences(&user_id)
        .await
        .map_err(ServiceError::from)?;
    Ok(HttpResponse::Ok().json(PreferencesBody::from(stored)))
}

pub(crate) async fn set_preferences(
    state: web::Data<AppState>,
    listener: Listener,
    user_id: web::Path<String>,
    http: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    listener.require_self(&user_id)?;
    let body: PreferencesBody = json_body::read(&http, payload, BODY_LIMIT).await?;
    let preferences = Preferences {
        categories: cleaned(body.categories, "categories")?,
        tags: cleaned(body.tags, "tags")?,
    };
    state
        .catalog
        .set_preferences(&user_id, &preferences)
        .await
        .map_err(ServiceError::from)?;
    let stored = state
        .catalog
        .preferences(&user_id)
        .await
        .map_err(ServiceError::from)?;
    Ok(HttpResponse::Ok().json(PreferencesBody::from(stored)))
}

/// Trimmed, non-empty names, a bounded number of them.
fn cleaned(names: Vec<String>, field: &str) -> Result<Vec<String>, ServiceError> {
    const MAX_NAMES: usize = 50;
    if names.len() > MAX_NAMES {
        return Err(ServiceError::InvalidArgument(format!(
            "at most {MAX_NAMES} {field} are accepted"
        )));
    }
    names
        .into_iter()
        .map(|name| {
            let name = name.trim().to_owned();
            if name.is_empty() || name.len() > 100 {
                Err(ServiceError::InvalidArgument(format!(
                    "each of {field} must be 1 to 100 bytes long"
                )))
            } else {
                Ok(name)
            }
        })
        .collect()
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct FeedbackBody {
    episode_id: String,
    kind: String,
}

pub(crate) async fn feedback(
    state: web::Data<AppState>,
    listener: Listener,
    user_id: web::Path<String>,
    http: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    listener.require_self(&user_id)?;
    let body: FeedbackBody = json_body::read(&http, payload, BODY_LIMIT).await?;
    let kind: FeedbackKind = body.kind.parse().map_err(|_| {
        let known: Vec<&str> = FeedbackKind::ALL.iter().map(|kind| kind.as_str()).collect();
        ServiceError::InvalidArgument(format!(
            "kind {:?} is not one of {}",
            body.kind,
            known.join(", ")
        ))
    })?;
    let event = state
        .catalog
        .record_feedback(&user_id, &body.episode_id, kind)
        .await
        .map_err(ServiceError::from)?;
    Ok(HttpResponse::Created().json(json!({
        "user_id": event.user_id,
        "episode_id": event.episode_id,
        "kind": event.kind.as_str(),
        "at_unix_ms": event.at,
    })))
}
