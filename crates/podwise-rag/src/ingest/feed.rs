//! Ingesting a podcast's RSS (or Atom) feed: the feed is fetched (or given), parsed, its
//! show put in the catalog and one job queued per episode that has audio. Each job
//! ([`download`]) fetches the episode's audio into the object store, then goes on as an
//! uploaded file would: preview, transcript, index.

use std::time::Duration;

use bytes::Bytes;
use feed_rs::model::{Entry, Feed};
use futures_util::StreamExt as _;
use podwise_common::ServiceError;
use podwise_common::stores::catalog::{JobKind, NewEpisode, Podcast};
use podwise_common::stores::objects::ObjectKey;
use podwise_proto::rag::v1::{IngestFeedRequest, IngestionJob, ingest_feed_request};
use sha2::{Digest as _, Sha256};

use super::{queue, require_category, unchanged};
use crate::library::Library;

/// The largest feed document read.
const MAX_FEED_BYTES: usize = 16 * 1024 * 1024;
/// The largest episode file downloaded (about four hours of 128 kbit/s MP3).
const MAX_AUDIO_BYTES: usize = 256 * 1024 * 1024;
/// How long one download may take before the attempt fails (and is retried).
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(600);

/// Reads the feed of `request` and queues a job for each episode with audio.
///
/// # Errors
/// `InvalidArgument` for a missing source, an unknown category, a URL that is not
/// http(s), or a document that is not a feed; `BadUpstream` or `Unavailable` when the
/// feed cannot be fetched.
pub async fn ingest(
    library: &Library,
    request: IngestFeedRequest,
) -> Result<Vec<IngestionJob>, ServiceError> {
    require_category(library, &request.category).await?;
    let (document, url) = match request.source {
        Some(ingest_feed_request::Source::Url(url)) => {
            (fetch(&url, MAX_FEED_BYTES).await?, Some(url))
        }
        Some(ingest_feed_request::Source::FeedXml(xml)) => (Bytes::from(xml), None),
        None => {
            return Err(ServiceError::InvalidArgument(
                "send the feed's url or its XML".into(),
            ));
        }
    };
    let feed = feed_rs::parser::parse(document.as_ref()).map_err(|error| {
        ServiceError::InvalidArgument(format!("this is not an RSS or Atom feed: {error}"))
    })?;
    let podcast = podcast(&feed, url.as_deref(), &request.category, &request.language);
    library.catalog.upsert_podcast(&podcast).await?;

    let limit = match request.max_episodes {
        0 => usize::MAX,
        n => n as usize,
    };
    let mut jobs = Vec::new();
    let mut without_audio = 0;
    for entry in feed.entries.iter().take(limit) {
        let Some(audio_url) = audio_url(entry) else {
            without_audio += 1;
            continue;
        };
        let episode_id = library
            .catalog
            .upsert_episode(&episode(entry, &podcast))
            .await?;
        jobs.push(
            queue(
                library,
                JobKind::Episode,
                audio_url,
                &podcast.id,
                episode_id,
            )
            .await?,
        );
    }
    library.job_queued.notify_waiters();
    tracing::info!(
        podcast = %podcast.id,
        episodes = jobs.len(),
        without_audio,
        "feed read and its episodes queued"
    );
    Ok(jobs)
}

/// The downloading stage of a feed episode's job: its audio into the object store, the
/// key recorded on the episode. Returns the key.
///
/// # Errors
/// `BadUpstream` or `Unavailable` when the audio cannot be fetched (a retry may work).
pub async fn download(
    library: &Library,
    episode_id: &str,
    audio_url: &str,
) -> Result<String, ServiceError> {
    let episode = library.catalog.episode(episode_id).await?;
    if let Some(key) = &episode.audio_key
        && library
            .objects
            .head(&ObjectKey::new(key.as_str()).map_err(invalid)?)
            .await?
            .is_some()
    {
        return Ok(key.clone());
    }
    let audio = fetch(audio_url, MAX_AUDIO_BYTES).await?;
    let extension = extension_of(audio_url);
    let key = ObjectKey::new(format!(
        "audio/{}/{}.{extension}",
        episode.podcast_id, episode.id
    ))
    .map_err(invalid)?;
    library
        .objects
        .put_bytes(&key, audio, content_type_of(extension))
        .await?;
    library
        .catalog
        .upsert_episode(&NewEpisode {
            audio_key: Some(key.as_str().to_owned()),
            ..unchanged(&episode)
        })
        .await?;
    Ok(key.as_str().to_owned())
}

/// The body at `url`, at most `limit` bytes.
async fn fetch(url: &str, limit: usize) -> Result<Bytes, ServiceError> {
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(ServiceError::InvalidArgument(format!(
            "{url:?} is not an http or https URL"
        )));
    }
    let client = reqwest::Client::builder()
        .timeout(DOWNLOAD_TIMEOUT)
        .connect_timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| ServiceError::Internal(e.into()))?;
    let response = client
        .get(url)
        .send()
        .await
        .map_err(|error| ServiceError::unavailable(format!("cannot fetch {url}: {error}")))?;
    if !response.status().is_success() {
        return Err(ServiceError::BadUpstream(format!(
            "{url} answered {}",
            response.status()
        )));
    }
    if response
        .content_length()
        .is_some_and(|length| length > limit as u64)
    {
        return Err(too_large(url, limit));
    }
    let mut body = bytes::BytesMut::new();
    let mut chunks = response.bytes_stream();
    while let Some(chunk) = chunks.next().await {
        let chunk =
            chunk.map_err(|error| ServiceError::unavailable(format!("reading {url}: {error}")))?;
        if body.len() + chunk.len() > limit {
            return Err(too_large(url, limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

fn too_large(url: &str, limit: usize) -> ServiceError {
    ServiceError::PayloadTooLarge(format!("{url} is larger than {limit} bytes"))
}

fn invalid(error: impl std::fmt::Display) -> ServiceError {
    ServiceError::InvalidArgument(error.to_string())
}

/// The show, with an id that stays the same however often the feed is read: from the
/// feed's URL, or from the feed's own id when only its XML was sent.
fn podcast(feed: &Feed, url: Option<&str>, category: &str, language: &str) -> Podcast {
    let identity = url.unwrap_or(&feed.id);
    let digest = Sha256::digest(identity.as_bytes());
    let id = format!("feed-{}", hex_prefix(&digest, 8));
    let title = feed
        .title
        .as_ref()
        .map(|t| t.content.trim().to_owned())
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| id.clone());
    let language = if language.is_empty() {
        // Feeds write the tag in any case (`zh-tw`); the catalog keeps BCP 47's.
        feed.language.as_deref().map(bcp47_case).unwrap_or_default()
    } else {
        language.to_owned()
    };
    Podcast {
        id,
        title,
        author: feed
            .authors
            .first()
            .and_then(|a| a.name.clone())
            .unwrap_or_default(),
        description: feed
            .description
            .as_ref()
            .map(|d| d.content.clone())
            .unwrap_or_default(),
        category_id: category.to_owned(),
        language,
        image_url: feed.logo.as_ref().map(|l| l.uri.clone()),
        rss_url: url.map(str::to_owned),
        rating: None,
    }
}

/// A language tag in BCP 47's usual case: `zh-TW`, `en`, `zh-Hant-TW`.
fn bcp47_case(tag: &str) -> String {
    tag.split(['-', '_'])
        .enumerate()
        .map(|(at, part)| match (at, part.len()) {
            (0, _) => part.to_ascii_lowercase(),
            (_, 2) => part.to_ascii_uppercase(),
            (_, 4) => {
                let (first, rest) = part.split_at(1);
                first.to_ascii_uppercase() + &rest.to_ascii_lowercase()
            }
            _ => part.to_ascii_lowercase(),
        })
        .collect::<Vec<_>>()
        .join("-")
}

fn hex_prefix(digest: &[u8], bytes: usize) -> String {
    digest[..bytes].iter().map(|b| format!("{b:02x}")).collect()
}

fn episode(entry: &Entry, podcast: &Podcast) -> NewEpisode {
    NewEpisode {
        podcast_id: podcast.id.clone(),
        guid: entry.id.clone(),
        title: entry
            .title
            .as_ref()
            .map(|t| t.content.trim().to_owned())
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| entry.id.clone()),
        description: entry
            .summary
            .as_ref()
            .map(|s| s.content.clone())
            .unwrap_or_default(),
        published_at: entry.published.map(|at| at.timestamp_millis()),
        duration_ms: entry
            .media
            .iter()
            .find_map(|m| m.duration)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
        language: podcast.language.clone(),
        audio_key: None,
        preview_key: None,
        tags: entry.categories.iter().map(|c| c.term.clone()).collect(),
    }
}

/// The entry's audio: an enclosure or media item with an audio type, or a link to a file
/// with an audio extension.
fn audio_url(entry: &Entry) -> Option<String> {
    let media = entry
        .media
        .iter()
        .flat_map(|m| &m.content)
        .find_map(|content| {
            let url = content.url.as_ref()?;
            let audio = content
                .content_type
                .as_ref()
                .is_some_and(|t| t.to_string().starts_with("audio/"))
                || is_audio_file(url.as_str());
            audio.then(|| url.to_string())
        });
    media.or_else(|| {
        entry
            .links
            .iter()
            .find(|link| {
                link.media_type
                    .as_deref()
                    .is_some_and(|t| t.starts_with("audio/"))
                    || is_audio_file(&link.href)
            })
            .map(|link| link.href.clone())
    })
}

fn is_audio_file(url: &str) -> bool {
    let path = url
        .split(['?', '#'])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    [".mp3", ".m4a", ".aac", ".wav", ".flac", ".ogg", ".oga"]
        .iter()
        .any(|ext| path.ends_with(ext))
}

fn extension_of(url: &str) -> &'static str {
    let path = url
        .split(['?', '#'])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    for ext in ["m4a", "aac", "wav", "flac", "ogg", "oga"] {
        if path.ends_with(&format!(".{ext}")) {
            return if ext == "oga" { "ogg" } else { ext };
        }
    }
    "mp3"
}

fn content_type_of(extension: &str) -> &'static str {
    match extension {
        "m4a" => "audio/mp4",
        "aac" => "audio/aac",
        "wav" => "audio/wav",
        "flac" => "audio/flac",
        "ogg" => "audio/ogg",
        _ => "audio/mpeg",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FEED: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd">
  <channel>
    <title>讀書方法研究室</title>
    <description>學習的方法</description>
    <language>zh-TW</language>
    <item>
      <guid>ep-1</guid>
      <title>番茄鐘工作法</title>
      <pubDate>Fri, 01 Mar 2024 08:00:00 GMT</pubDate>
      <enclosure url="https://example.org/audio/ep1.mp3?x=1" type="audio/mpeg" length="1"/>
    </item>
    <item>
      <guid>ep-2</guid>
      <title>只有文字的一集</title>
    </item>
  </channel>
</rss>"#;

    #[test]
    fn a_feed_gives_its_show_and_each_episodes_audio() {
        let feed = feed_rs::parser::parse(FEED.as_bytes()).expect("a feed");
        let show = podcast(&feed, Some("https://example.org/feed.xml"), "education", "");
        assert_eq!(show.title, "讀書方法研究室");
        assert_eq!(show.language, "zh-TW");
        assert!(
            show.id.starts_with("feed-") && show.id.len() == 21,
            "{}",
            show.id
        );
        let again = podcast(&feed, Some("https://example.org/feed.xml"), "education", "");
        assert_eq!(show.id, again.id, "the same feed is the same show");

        let first = &feed.entries[0];
        assert_eq!(
            audio_url(first).as_deref(),
            Some("https://example.org/audio/ep1.mp3?x=1")
        );
        let episode = episode(first, &show);
        assert_eq!(episode.guid, "ep-1");
        assert_eq!(episode.title, "番茄鐘工作法");
        assert_eq!(episode.published_at, Some(1_709_280_000_000));
        assert_eq!(audio_url(&feed.entries[1]), None, "no audio, no job");
    }

    #[test]
    fn language_tags_get_their_usual_case() {
        assert_eq!(bcp47_case("zh-tw"), "zh-TW");
        assert_eq!(bcp47_case("EN"), "en");
        assert_eq!(bcp47_case("zh_hant_tw"), "zh-Hant-TW");
    }

    #[test]
    fn audio_files_are_told_by_their_extension() {
        assert!(is_audio_file("https://x.org/a/EP1.MP3?token=1"));
        assert!(!is_audio_file("https://x.org/episode.html"));
        assert_eq!(extension_of("https://x.org/a.m4a#t=1"), "m4a");
        assert_eq!(extension_of("https://x.org/download?id=3"), "mp3");
    }
}
