//! Ingesting an episode's audio: the request is checked, the audio stored in the object
//! store (or found there), the podcast and episode put in the catalog, and one job
//! queued. The job ([`transcribe`]) cuts the preview, has the STT service transcribe the
//! stored audio with timestamps, and keeps the transcript; indexing then proceeds as for
//! a ready transcript.

use podwise_common::ServiceError;
use podwise_common::stores::catalog::{JobKind, NewEpisode, Podcast};
use podwise_common::stores::documents::{Transcript, TranscriptSegment};
use podwise_common::stores::objects::ObjectKey;
use podwise_proto::common::v1::AudioInput;
use podwise_proto::common::v1::audio_input::Source;
use podwise_proto::rag::v1::{IngestAudioRequest, IngestionJob};
use podwise_proto::stt::v1::TranscribeRequest;

use super::preview::{PREVIEW_SECONDS, cut};
use super::transcripts::{check_id, check_title, published_ms, seconds_to_ms};
use super::{queue, require_category, unchanged};
use crate::library::Library;

/// The most audio one request may carry inline; larger files go through the object
/// store first and are named by key.
pub const MAX_INLINE_AUDIO_BYTES: usize = 48 * 1024 * 1024;

/// Checks and stores the audio of one episode and queues its job.
///
/// # Errors
/// `InvalidArgument` for missing or malformed metadata or no audio; `NotFound` for an
/// object key that names nothing; `UnsupportedMediaType` for bytes that are no audio
/// container the STT service reads; the stores' unavailability.
pub async fn ingest(
    library: &Library,
    request: IngestAudioRequest,
) -> Result<IngestionJob, ServiceError> {
    check_id("podcast id", &request.podcast_id)?;
    check_id("episode id", &request.episode_id)?;
    let at = format!("episode {:?}", request.episode_id);
    check_title(
        &format!("podcast {:?}", request.podcast_id),
        &request.podcast_title,
    )?;
    check_title(&at, &request.episode_title)?;
    require_category(library, &request.category).await?;
    let published_at = match request.published.as_str() {
        "" => None,
        text => Some(
            published_ms(text).map_err(|e| ServiceError::InvalidArgument(format!("{at}: {e}")))?,
        ),
    };
    let audio_key = store_audio(library, &request).await?;

    // An upload that does not describe the show keeps the description it already has.
    let known = library.catalog.podcast(&request.podcast_id).await.ok();
    let or_known = |given: &str, known: Option<&str>| match given.trim() {
        "" => known.unwrap_or_default().to_owned(),
        given => given.to_owned(),
    };
    library
        .catalog
        .upsert_podcast(&Podcast {
            id: request.podcast_id.clone(),
            title: request.podcast_title.trim().to_owned(),
            author: or_known(
                &request.podcast_author,
                known.as_ref().map(|p| p.author.as_str()),
            ),
            description: or_known(
                &request.podcast_description,
                known.as_ref().map(|p| p.description.as_str()),
            ),
            category_id: request.category.clone(),
            language: request.language.clone(),
            image_url: None,
            rss_url: None,
            rating: None,
        })
        .await?;
    let episode_id = library
        .catalog
        .upsert_episode(&NewEpisode {
            podcast_id: request.podcast_id.clone(),
            guid: request.episode_id.clone(),
            title: request.episode_title.trim().to_owned(),
            description: request.description.clone(),
            published_at,
            duration_ms: None,
            language: request.language.clone(),
            audio_key: Some(audio_key.as_str().to_owned()),
            preview_key: None,
            tags: request.tags.clone(),
        })
        .await?;
    let source = audio_key.as_str().to_owned();
    let job = queue(
        library,
        JobKind::Audio,
        source,
        &request.podcast_id,
        episode_id,
    )
    .await?;
    library.job_queued.notify_waiters();
    tracing::info!(job = %job.id, audio = %audio_key, "audio accepted and queued");
    Ok(job)
}

/// The key of the episode's audio in the object store, storing inline bytes first.
async fn store_audio(
    library: &Library,
    request: &IngestAudioRequest,
) -> Result<ObjectKey, ServiceError> {
    let missing = || ServiceError::InvalidArgument("the request carries no audio".into());
    let AudioInput {
        source,
        format_hint,
    } = request.audio.clone().ok_or_else(missing)?;
    match source.ok_or_else(missing)? {
        Source::ObjectKey(key) => {
            let key = ObjectKey::new(&key)
                .map_err(|e| ServiceError::InvalidArgument(format!("object key {key:?}: {e}")))?;
            if library.objects.head(&key).await?.is_none() {
                return Err(ServiceError::NotFound(format!("no object {key}")));
            }
            Ok(key)
        }
        Source::Data(bytes) => {
            if bytes.is_empty() {
                return Err(missing());
            }
            if bytes.len() > MAX_INLINE_AUDIO_BYTES {
                return Err(ServiceError::PayloadTooLarge(format!(
                    "{} bytes of audio inline; at most {MAX_INLINE_AUDIO_BYTES} are taken, \
                     store larger files first and send their object key",
                    bytes.len()
                )));
            }
            let (extension, content_type) = container(&bytes, &format_hint)?;
            let key = ObjectKey::new(format!(
                "audio/{}/{}.{extension}",
                request.podcast_id, request.episode_id
            ))
            .map_err(|e| ServiceError::InvalidArgument(e.to_string()))?;
            library
                .objects
                .put_bytes(&key, bytes.into(), content_type)
                .await?;
            Ok(key)
        }
    }
}

/// The file extension and content type of an audio container, told by its first bytes
/// (the hint decides only between containers that cannot be told apart that way).
fn container(bytes: &[u8], hint: &str) -> Result<(&'static str, &'static str), ServiceError> {
    let starts = |magic: &[u8]| bytes.starts_with(magic);
    if starts(b"RIFF") && bytes.get(8..12) == Some(b"WAVE") {
        return Ok(("wav", "audio/wav"));
    }
    if starts(b"ID3") || (bytes.len() > 1 && bytes[0] == 0xFF && bytes[1] & 0xE0 == 0xE0) {
        let aac = hint.contains("aac");
        return Ok(if aac {
            ("aac", "audio/aac")
        } else {
            ("mp3", "audio/mpeg")
        });
    }
    if starts(b"fLaC") {
        return Ok(("flac", "audio/flac"));
    }
    if starts(b"OggS") {
        return Ok(("ogg", "audio/ogg"));
    }
    if bytes.get(4..8) == Some(b"ftyp") {
        return Ok(("m4a", "audio/mp4"));
    }
    Err(ServiceError::UnsupportedMediaType(
        "the upload is not audio this service reads (WAV, MP3, FLAC, Ogg Vorbis, M4A/AAC)".into(),
    ))
}

/// The transcribing stage of an audio job: the preview, then the transcript.
///
/// # Errors
/// The object store's or the STT service's failure; the STT service's refusal of the
/// audio (an unsupported codec, too long) as it gives it.
pub async fn transcribe(
    library: &Library,
    episode_id: &str,
    audio_key: &str,
) -> Result<(), ServiceError> {
    let key =
        ObjectKey::new(audio_key).map_err(|e| ServiceError::InvalidArgument(e.to_string()))?;
    let episode = library.catalog.episode(episode_id).await?;
    if episode.preview_key.is_none() {
        store_preview(library, &episode, &key).await?;
    }
    let language = episode
        .language
        .split(['-', '_'])
        .next()
        .unwrap_or_default()
        .to_owned();
    let reply = library
        .stt
        .clone()
        .transcribe(TranscribeRequest {
            audio: Some(AudioInput {
                source: Some(Source::ObjectKey(key.as_str().to_owned())),
                format_hint: key.as_str().to_owned(),
            }),
            language,
            ..TranscribeRequest::default()
        })
        .await
        .map_err(|status| ServiceError::from_status(&status))?
        .into_inner();
    let segments: Vec<TranscriptSegment> = reply
        .segments
        .iter()
        .filter(|s| !s.text.trim().is_empty())
        .map(|s| TranscriptSegment {
            start_ms: seconds_to_ms(s.start_seconds),
            end_ms: seconds_to_ms(s.end_seconds),
            text: s.text.trim().to_owned(),
            // The mean log-probability of the segment's tokens, as a 0-1 confidence.
            confidence: Some(f64::from(s.avg_logprob).exp().clamp(0.0, 1.0)),
        })
        .collect();
    if segments.is_empty() {
        return Err(ServiceError::Unprocessable(format!(
            "the STT service heard no speech in {key}"
        )));
    }
    let raw_text = segments
        .iter()
        .map(|s| s.text.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    let language = if reply.language.starts_with("zh") {
        "zh-TW".to_owned()
    } else {
        reply.language.clone()
    };
    library
        .documents
        .put_transcript(&Transcript {
            episode_id: episode_id.to_owned(),
            language,
            model: reply.model,
            segments,
            raw_text,
            cleaned_text: String::new(),
            updated_at: 0,
        })
        .await?;
    // The decoded length is the episode's duration: an upload carries none, and a feed's
    // figure is the publisher's estimate. Read again, since the preview was just recorded.
    let episode = library.catalog.episode(episode_id).await?;
    library
        .catalog
        .upsert_episode(&NewEpisode {
            duration_ms: Some(seconds_to_ms(reply.duration_seconds)),
            ..unchanged(&episode)
        })
        .await?;
    Ok(())
}

/// Cuts and stores the preview, and records it on the episode. Audio that cannot be
/// cut without decoding gets none; the episode is ingested all the same.
async fn store_preview(
    library: &Library,
    episode: &podwise_common::stores::catalog::Episode,
    audio: &ObjectKey,
) -> Result<(), ServiceError> {
    let bytes = library.objects.get_bytes(audio).await?;
    let Some(preview) = cut(&bytes, PREVIEW_SECONDS) else {
        tracing::info!(audio = %audio, "no preview: the container cannot be cut without decoding");
        return Ok(());
    };
    let key = ObjectKey::new(format!("previews/{}.{}", episode.id, preview.extension))
        .map_err(|e| ServiceError::InvalidArgument(e.to_string()))?;
    library
        .objects
        .put_bytes(&key, preview.bytes, preview.content_type)
        .await?;
    library
        .catalog
        .upsert_episode(&NewEpisode {
            preview_key: Some(key.as_str().to_owned()),
            ..unchanged(episode)
        })
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containers_are_told_by_their_first_bytes() {
        assert_eq!(
            container(b"RIFF\0\0\0\0WAVEfmt ", "").expect("audio").0,
            "wav"
        );
        assert_eq!(container(b"ID3\x04rest", "").expect("audio").0, "mp3");
        assert_eq!(container(b"fLaC\0", "").expect("audio").0, "flac");
        assert_eq!(container(b"OggS\0", "").expect("audio").0, "ogg");
        assert_eq!(
            container(b"\0\0\0\x20ftypM4A ", "").expect("audio").0,
            "m4a"
        );
        assert_eq!(
            container(&[0xFF, 0xF1, 0x50], "episode.aac")
                .expect("audio")
                .0,
            "aac"
        );
        let refused = container(b"<html>not audio</html>", "").expect_err("not audio");
        assert!(matches!(refused, ServiceError::UnsupportedMediaType(_)));
    }
}
