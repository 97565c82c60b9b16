//! Text to speech in the product API, and what it shares with OpenAI's speech route.
//!
//! - `POST /api/v1/tts/synthesize` takes `{"text", "voice", "speed", "pitch",
//!   "sample_rate", "format"}` and answers the audio itself, streamed as the TTS service
//!   makes it, sentence by sentence. `speed` is a number (1 is normal) or a change such
//!   as `"+20%"` or `"-25%"`; `pitch` is in semitones (the espeak-ng voices only); `format`
//!   is `wav` (the default), `pcm` or `flac`. The headers `X-Podwise-Voice`,
//!   `X-Podwise-Cached` and `X-Podwise-Sample-Rate` say who spoke, whether the audio came
//!   from the cache, and at what rate.
//! - `GET /api/v1/tts/voices` lists the voices with language, gender, engine, native rate
//!   and licence.
//!
//! Errors before the first audio keep their status (400 for a bad request, 503 when the
//! service is busy); a failure after the audio has started can no longer change the
//! status, so the body is cut off, which players and clients notice as a broken download.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use bytes::Bytes;
use futures_util::{StreamExt as _, stream};
use podwise_common::ServiceError;
use podwise_common::grpc_client::TracedChannel;
use podwise_common::settings::ServiceName;
use podwise_proto::tts::v1::tts_service_client::TtsServiceClient;
use podwise_proto::tts::v1::{AudioFormat, ListVoicesRequest, SynthesizeRequest};
use serde::Deserialize;
use serde_json::json;

use crate::AppState;
use crate::api_error::ApiError;
use crate::json_body;
use crate::upstreams::grpc_request;

/// A client of the TTS service on the gateway's shared, traced channel.
fn tts_client(state: &AppState) -> TtsServiceClient<TracedChannel> {
    TtsServiceClient::new(state.upstreams.channel(ServiceName::Tts))
        .max_decoding_message_size(64 * 1024 * 1024)
}

/// The formats the service writes, by the names requests use.
pub(crate) fn format(name: Option<&str>) -> Result<AudioFormat, ServiceError> {
    match name.map(str::to_ascii_lowercase).as_deref() {
        None | Some("wav") => Ok(AudioFormat::Wav),
        Some("pcm") => Ok(AudioFormat::Pcm),
        Some("flac") => Ok(AudioFormat::Flac),
        Some(other @ ("mp3" | "opus" | "aac")) => Err(invalid(format!(
            "{other} is not available: this build has no pure-Rust encoder for it; \
             use wav, pcm or flac"
        ))),
        Some(other) => Err(invalid(format!(
            "format {other:?} is not one of wav, pcm, flac"
        ))),
    }
}

/// Asks the TTS service to stream `request` and relays the audio as the response body.
pub(crate) async fn relay(
    state: &AppState,
    http: &HttpRequest,
    request: SynthesizeRequest,
) -> Result<HttpResponse, ApiError> {
    let mut upstream = tts_client(state)
        .synthesize_stream(grpc_request(http, request))
        .await?
        .into_inner();
    // The first chunk (or the refusal) decides the status: wait for it.
    let first = upstream
        .message()
        .await?
        .ok_or_else(|| ServiceError::BadUpstream("the TTS service answered no audio".to_owned()))?;
    let mut response = HttpResponse::Ok();
    response
        .content_type(first.content_type.as_str())
        .insert_header(("X-Podwise-Voice", first.voice.as_str()))
        .insert_header(("X-Podwise-Cached", first.cached.to_string()))
        .insert_header(("X-Podwise-Sample-Rate", first.sample_rate_hz.to_string()))
        .insert_header((header::CACHE_CONTROL, "no-store"));
    // Read to the stream's own end (not just its `last` chunk), so the service sees a
    // finished call rather than a cancelled one.
    let rest = stream::unfold(Some(upstream), |upstream| async move {
        let mut upstream = upstream?;
        match upstream.message().await {
            Ok(Some(chunk)) => Some((Ok(Bytes::from(chunk.data)), Some(upstream))),
            Ok(None) => None,
            Err(status) => {
                tracing::warn!(error = %status, "speech stream failed after it started");
                let error = actix_web::error::ErrorBadGateway("the speech stream broke off");
                Some((Err(error), None))
            }
        }
    });
    let body = stream::once(async move { Ok(Bytes::from(first.data)) }).chain(rest);
    Ok(response.streaming(body))
}

/// The product API's request body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SynthesizeBody {
    text: String,
    voice: Option<String>,
    speed: Option<Speed>,
    pitch: Option<f32>,
    sample_rate: Option<u32>,
    format: Option<String>,
}

/// A speaking rate as a number or as a relative change, `"+20%"`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
enum Speed {
    Number(f32),
    Text(String),
}

/// The speed `raw` stands for: `"+N%"` and `"-N%"` change the normal rate by N percent,
/// and a number in a string is that number.
pub(crate) fn parse_speed(raw: &str) -> Result<f32, ServiceError> {
    let trimmed = raw.trim();
    let value = match trimmed.strip_suffix('%') {
        Some(percent) => percent
            .trim()
            .parse::<f32>()
            .ok()
            .filter(|_| percent.trim_start().starts_with(['+', '-']))
            .map(|change| 1.0 + change / 100.0),
        None => trimmed.parse::<f32>().ok(),
    };
    value.filter(|v| v.is_finite()).ok_or_else(|| {
        invalid(format!(
            "speed must be a number such as 1.2 or a change such as \"+20%\", not {raw:?}"
        ))
    })
}

pub(crate) async fn synthesize(
    state: web::Data<AppState>,
    http: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body: SynthesizeBody =
        json_body::read(&http, payload, state.settings.api.max_body_bytes).await?;
    let speed = match body.speed {
        None => 0.0,
        Some(Speed::Number(value)) => value,
        Some(Speed::Text(text)) => parse_speed(&text)?,
    };
    let request = SynthesizeRequest {
        text: body.text.into_bytes(),
        voice: body.voice.unwrap_or_default(),
        speed,
        pitch: body.pitch.unwrap_or(0.0),
        sample_rate_hz: body.sample_rate.unwrap_or(0),
        format: format(body.format.as_deref())?.into(),
    };
    relay(&state, &http, request).await
}

pub(crate) async fn voices(
    state: web::Data<AppState>,
    http: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let reply = tts_client(&state)
        .list_voices(grpc_request(&http, ListVoicesRequest {}))
        .await?
        .into_inner();
    let voices: Vec<_> = reply
        .voices
        .into_iter()
        .map(|v| {
            json!({
                "id": v.id,
                "language": v.language,
                "gender": v.gender,
                "engine": v.engine,
                "description": v.description,
                "native_sample_rate_hz": v.native_sample_rate_hz,
                "license": v.license,
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "voices": voices })))
}

fn invalid(message: String) -> ServiceError {
    ServiceError::InvalidArgument(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_speeds_are_percent_changes_of_the_normal_rate() {
        assert_eq!(parse_speed("+20%").ok(), Some(1.2));
        assert_eq!(parse_speed("-50%").ok(), Some(0.5));
        assert_eq!(parse_speed(" 1.5 ").ok(), Some(1.5));
        assert!(parse_speed("20%").is_err(), "a change needs its sign");
        assert!(parse_speed("fast").is_err());
        assert!(parse_speed("NaN").is_err());
    }
}
