//! The catalog in the product API: what a listener browses before asking anything. All of
//! it is public (no personal data), straight from the catalog.
//!
//! - `GET /api/v1/categories`: `{"categories": [{"id", "name_zh", "name_en"}]}`.
//! - `GET /api/v1/categories/{id}/tags?limit=`: the tags its episodes carry, most used
//!   first, `{"category", "tags": [{"tag", "episodes"}]}`; what onboarding offers.
//! - `GET /api/v1/previews?tag=&count=`: up to `count` (3) episodes with that tag and a
//!   preview, each from a different podcast: `{"tag", "previews": [episode]}`.
//! - `GET /api/v1/podcasts?category=&limit=&offset=`: `{"podcasts": [podcast]}`, best rated
//!   first; `GET /api/v1/podcasts/{id}` one of them.
//! - `GET /api/v1/podcasts/{id}/episodes?limit=&offset=`: its episodes, newest first.
//! - `GET /api/v1/episodes?q=&category=&limit=&offset=`: episodes whose title, description
//!   or show title contains `q`; `GET /api/v1/episodes/{id}` one of them.
//!
//! An episode is `{"id", "podcast_id", "podcast_title", "title", "description", "published"
//! (RFC 3339), "duration_seconds", "language", "tags", "transcript_status", "audio_url",
//! "preview_url"}`, the URLs signed for an hour so a browser can play them without a token.

use std::collections::HashMap;

use actix_web::{HttpResponse, web};
use podwise_common::ServiceError;
use podwise_common::stores::catalog::{Episode, Page, Podcast};
use serde::Deserialize;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::AppState;
use crate::api_error::ApiError;
use crate::objects::signed_url;

/// Onboarding offers three previews, from three podcasts.
const DEFAULT_PREVIEWS: u32 = 3;
const MAX_PREVIEWS: u32 = 10;
const DEFAULT_TAGS: u32 = 20;
const DEFAULT_PAGE: u32 = 20;
/// A search text longer than this is not a title anyone typed.
const MAX_QUERY_CHARS: usize = 200;

pub(crate) async fn categories(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let categories = state
        .catalog
        .categories()
        .await
        .map_err(ServiceError::from)?;
    let categories: Vec<Value> = categories
        .into_iter()
        .map(|category| {
            json!({ "id": category.id, "name_zh": category.name_zh, "name_en": category.name_en })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "categories": categories })))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct TagsQuery {
    limit: Option<u32>,
}

pub(crate) async fn tags(
    state: web::Data<AppState>,
    category: web::Path<String>,
    query: web::Query<TagsQuery>,
) -> Result<HttpResponse, ApiError> {
    let category = category.into_inner();
    require_category(&state, &category).await?;
    let limit = positive(query.limit, DEFAULT_TAGS, "limit")?;
    let tags = state
        .catalog
        .tags_in_category(&category, limit)
        .await
        .map_err(ServiceError::from)?;
    let tags: Vec<Value> = tags
        .into_iter()
        .map(|tag| json!({ "tag": tag.tag, "episodes": tag.episodes }))
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "category": category, "tags": tags })))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct PreviewsQuery {
    tag: Option<String>,
    count: Option<u32>,
}

pub(crate) async fn previews(
    state: web::Data<AppState>,
    query: web::Query<PreviewsQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let tag = query
        .tag
        .map(|tag| tag.trim().to_owned())
        .filter(|tag| !tag.is_empty())
        .ok_or_else(|| ServiceError::InvalidArgument("say which tag: ?tag=…".to_owned()))?;
    let count = positive(query.count, DEFAULT_PREVIEWS, "count")?;
    if count > MAX_PREVIEWS {
        return Err(
            ServiceError::InvalidArgument(format!("count is at most {MAX_PREVIEWS}")).into(),
        );
    }
    let episodes = state
        .catalog
        .previews_for_tag(&tag, count)
        .await
        .map_err(ServiceError::from)?;
    let previews = episodes_json(&state, episodes).await?;
    Ok(HttpResponse::Ok().json(json!({ "tag": tag, "previews": previews })))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct PodcastsQuery {
    category: Option<String>,
    limit: Option<u32>,
    offset: Option<u32>,
}

pub(crate) async fn podcasts(
    state: web::Data<AppState>,
    query: web::Query<PodcastsQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let category = nonblank(query.category);
    if let Some(category) = &category {
        require_category(&state, category).await?;
    }
    let page = page(query.limit, query.offset)?;
    let podcasts = state
        .catalog
        .podcasts(category.as_deref(), page)
        .await
        .map_err(ServiceError::from)?;
    let podcasts: Vec<Value> = podcasts.iter().map(podcast_json).collect();
    Ok(HttpResponse::Ok().json(json!({ "podcasts": podcasts })))
}

pub(crate) async fn podcast(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let podcast = state
        .catalog
        .podcast(&id)
        .await
        .map_err(ServiceError::from)?;
    Ok(HttpResponse::Ok().json(podcast_json(&podcast)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct PageQuery {
    limit: Option<u32>,
    offset: Option<u32>,
}

pub(crate) async fn podcast_episodes(
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    // An unknown podcast is a 404, not an empty list that looks like a quiet show.
    state
        .catalog
        .podcast(&id)
        .await
        .map_err(ServiceError::from)?;
    let page = page(query.limit, query.offset)?;
    let episodes = state
        .catalog
        .episodes_of(&id, page)
        .await
        .map_err(ServiceError::from)?;
    let episodes = episodes_json(&state, episodes).await?;
    Ok(HttpResponse::Ok().json(json!({ "episodes": episodes })))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct EpisodesQuery {
    q: Option<String>,
    category: Option<String>,
    limit: Option<u32>,
    offset: Option<u32>,
}

pub(crate) async fn episodes(
    state: web::Data<AppState>,
    query: web::Query<EpisodesQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let text = query.q.unwrap_or_default();
    let text = text.trim();
    if text.chars().count() > MAX_QUERY_CHARS {
        return Err(ServiceError::InvalidArgument(format!(
            "q is at most {MAX_QUERY_CHARS} characters"
        ))
        .into());
    }
    let category = nonblank(query.category);
    if let Some(category) = &category {
        require_category(&state, category).await?;
    }
    let page = page(query.limit, query.offset)?;
    // An empty text matches every episode: the newest of the whole catalog.
    let found = state
        .catalog
        .search_episodes(text, category.as_deref(), page)
        .await
        .map_err(ServiceError::from)?;
    let episodes = episodes_json(&state, found).await?;
    Ok(HttpResponse::Ok().json(json!({ "episodes": episodes })))
}

pub(crate) async fn episode(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let episode = state
        .catalog
        .episode(&id)
        .await
        .map_err(ServiceError::from)?;
    let mut episodes = episodes_json(&state, vec![episode]).await?;
    Ok(HttpResponse::Ok().json(episodes.pop().unwrap_or_default()))
}

/// `NotFound`, naming the categories there are, for an id the catalog does not have.
async fn require_category(state: &AppState, id: &str) -> Result<(), ApiError> {
    let categories = state
        .catalog
        .categories()
        .await
        .map_err(ServiceError::from)?;
    if categories.iter().any(|category| category.id == id) {
        return Ok(());
    }
    let known: Vec<&str> = categories.iter().map(|c| c.id.as_str()).collect();
    Err(ServiceError::NotFound(format!(
        "no category {id:?}; the catalog has {}",
        known.join(", ")
    ))
    .into())
}

fn positive(value: Option<u32>, default: u32, name: &str) -> Result<u32, ServiceError> {
    match value {
        None => Ok(default),
        Some(0) => Err(ServiceError::InvalidArgument(format!(
            "{name} must be at least 1"
        ))),
        Some(value) => Ok(value),
    }
}

fn page(limit: Option<u32>, offset: Option<u32>) -> Result<Page, ServiceError> {
    let limit = positive(limit, DEFAULT_PAGE, "limit")?;
    if limit > Page::MAX_LIMIT {
        return Err(ServiceError::InvalidArgument(format!(
            "limit is at most {}",
            Page::MAX_LIMIT
        )));
    }
    Ok(Page {
        limit,
        offset: offset.unwrap_or(0),
    })
}

fn nonblank(value: Option<String>) -> Option<String> {
    value
        .map(|value| value.trim().to_owned())
        .filter(|value| !value.is_empty())
}

fn podcast_json(podcast: &Podcast) -> Value {
    json!({
        "id": podcast.id,
        "title": podcast.title,
        "author": podcast.author,
        "description": podcast.description,
        "category": podcast.category_id,
        "language": podcast.language,
        "image_url": podcast.image_url,
        "rss_url": podcast.rss_url,
        "rating": podcast.rating,
    })
}

/// Episodes with their show's title and signed audio links; each show is read once.
pub(crate) async fn episodes_json(
    state: &AppState,
    episodes: Vec<Episode>,
) -> Result<Vec<Value>, ApiError> {
    let mut shows: HashMap<String, String> = HashMap::new();
    let mut listed = Vec::with_capacity(episodes.len());
    for episode in episodes {
        if !shows.contains_key(&episode.podcast_id) {
            let show = state
                .catalog
                .podcast(&episode.podcast_id)
                .await
                .map_err(ServiceError::from)?;
            shows.insert(show.id, show.title);
        }
        let podcast_title = shows.get(&episode.podcast_id).cloned().unwrap_or_default();
        let audio_url = signed_url(state, episode.audio_key.as_deref().unwrap_or("")).await;
        let preview_url = signed_url(state, episode.preview_key.as_deref().unwrap_or("")).await;
        listed.push(json!({
            "id": episode.id,
            "podcast_id": episode.podcast_id,
            "podcast_title": podcast_title,
            "title": episode.title,
            "description": episode.description,
            "published": episode.published_at.and_then(rfc3339),
            "duration_seconds": episode.duration_ms.map(|ms| ms as f64 / 1000.0),
            "language": episode.language,
            "tags": episode.tags,
            "transcript_status": episode.transcript_status.as_str(),
            "audio_url": audio_url,
            "preview_url": preview_url,
        }));
    }
    Ok(listed)
}

/// Unix milliseconds as an RFC 3339 time, or nothing when out of range.
fn rfc3339(unix_ms: i64) -> Option<String> {
    let at = OffsetDateTime::from_unix_timestamp_nanos(i128::from(unix_ms) * 1_000_000).ok()?;
    at.format(&Rfc3339).ok()
}
