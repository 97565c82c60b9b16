//! `POST /v1/audio/transcriptions`: OpenAI's multipart upload (`file`, `model`,
//! `language`, `prompt`, `response_format`, `temperature`, `timestamp_granularities[]`)
//! transcribed by the STT service and written in the format asked for.
//!
//! `model` may be OpenAI's `whisper-1`, which means the service's configured model, or
//! the name of a model the service has (`base`, `tiny.en`).

mod render;

use actix_web::{HttpRequest, HttpResponse, web};
use podwise_common::ServiceError;

use crate::AppState;
use crate::api_error::ApiError;
use crate::speech::{audio_request, read_upload, stt_client};
use crate::upload::Upload;
use crate::upstreams::grpc_request;

use self::render::{Format, Granularity, render};

/// OpenAI's model name for its hosted Whisper, which clients send by default.
const OPENAI_WHISPER: &str = "whisper-1";

pub(crate) async fn transcriptions(
    state: web::Data<AppState>,
    http: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let mut upload = read_upload(&state, &http, payload).await?;
    let mut request = audio_request(&mut upload)?;
    request.model = match upload.take("model")? {
        Some(model) if model != OPENAI_WHISPER => model,
        _ => String::new(),
    };
    request.temperature = temperature(upload.take("temperature")?.as_deref())?;
    let format = Format::parse(upload.take("response_format")?.as_deref()).map_err(invalid)?;
    let granularity = granularity(&mut upload, format)?;
    request.word_timestamps = granularity.words;
    upload.finish()?;

    let reply = stt_client(&state)
        .transcribe(grpc_request(&http, request))
        .await?
        .into_inner();
    Ok(HttpResponse::Ok()
        .content_type(format.content_type())
        .body(render(&reply, format, granularity)))
}

/// OpenAI's `temperature`: 0 (the default) lets the model raise it where decoding
/// fails; up to 1 starts every window there.
fn temperature(raw: Option<&str>) -> Result<f32, ServiceError> {
    let Some(raw) = raw else {
        return Ok(0.0);
    };
    match raw.trim().parse::<f32>() {
        Ok(value) if (0.0..=1.0).contains(&value) => Ok(value),
        _ => Err(invalid(format!(
            "temperature must be a number from 0 to 1, not {raw:?}"
        ))),
    }
}

/// `timestamp_granularities[]` (`segment`, `word`), which OpenAI allows only with
/// `verbose_json`; without it, segments and no words.
fn granularity(upload: &mut Upload, format: Format) -> Result<Granularity, ServiceError> {
    let mut asked = upload.take_all("timestamp_granularities[]");
    asked.extend(upload.take_all("timestamp_granularities"));
    if asked.is_empty() {
        return Ok(Granularity {
            segments: true,
            words: false,
        });
    }
    if format != Format::VerboseJson {
        return Err(invalid(
            "timestamp_granularities needs response_format verbose_json".to_owned(),
        ));
    }
    if let Some(unknown) = asked
        .iter()
        .find(|g| !matches!(g.as_str(), "segment" | "word"))
    {
        return Err(invalid(format!(
            "timestamp_granularities takes segment and word, not {unknown:?}"
        )));
    }
    Ok(Granularity {
        segments: asked.iter().any(|g| g == "segment"),
        words: asked.iter().any(|g| g == "word"),
    })
}

fn invalid(message: String) -> ServiceError {
    ServiceError::InvalidArgument(message)
}
