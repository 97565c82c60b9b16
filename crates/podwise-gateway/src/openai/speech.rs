//! `POST /v1/audio/speech`: OpenAI's speech request (`model`, `input`, `voice`,
//! `response_format`, `speed`) spoken by the TTS service, the audio streamed back as it
//! is made.
//!
//! What Podwise does with OpenAI's names:
//! - `model`: `tts-1`, `tts-1-hd` and `gpt-4o-mini-tts` (and `podwise-tts`) all mean the
//!   service's voices; any other model is refused, naming these.
//! - `voice`: Podwise's own (`podrina`, `podrino`, `joe`), or one of OpenAI's
//!   (`alloy`, `echo`, `nova`, ...), which pick the voice for the text's language, as
//!   OpenAI's voices speak any language; any other name is refused with the list.
//! - `response_format`: `wav`, `pcm` or `flac`; left out, `wav` (OpenAI's default, MP3,
//!   has no encoder here). `mp3`, `opus` and `aac` are refused with a 400 saying so.
//! - `speed`: 0.5 to 2 (OpenAI allows 0.25 to 4; beyond Podwise's range is a 400).
//! - `instructions` (a speaking style) cannot be followed by these voices: a non-empty one
//!   is refused; `stream_format` may only be `audio`.

use actix_web::{HttpRequest, HttpResponse, web};
use podwise_common::ServiceError;
use podwise_proto::tts::v1::SynthesizeRequest;
use serde::Deserialize;

use crate::AppState;
use crate::api_error::ApiError;
use crate::{json_body, tts};

/// The model names accepted, all meaning the TTS service's voices.
const MODELS: &[&str] = &["tts-1", "tts-1-hd", "gpt-4o-mini-tts", "podwise-tts"];

/// OpenAI's voice names, each standing for the default voice of the text's language.
const OPENAI_VOICES: &[&str] = &[
    "alloy", "ash", "ballad", "coral", "echo", "fable", "nova", "onyx", "sage", "shimmer", "verse",
];

/// A speech request as an OpenAI client sends it.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SpeechBody {
    model: Option<String>,
    input: String,
    voice: Option<String>,
    response_format: Option<String>,
    speed: Option<f32>,
    instructions: Option<String>,
    stream_format: Option<String>,
}

pub(crate) async fn speech(
    state: web::Data<AppState>,
    http: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body: SpeechBody =
        json_body::read(&http, payload, state.settings.api.max_body_bytes).await?;
    if let Some(model) = body.model.as_deref()
        && !MODELS.contains(&model)
    {
        return Err(invalid(format!(
            "model {model:?} is not available; use one of {}",
            MODELS.join(", ")
        ))
        .into());
    }
    if body
        .instructions
        .as_deref()
        .is_some_and(|i| !i.trim().is_empty())
    {
        return Err(invalid(
            "instructions are not supported: Podwise's voices have no speaking styles".to_owned(),
        )
        .into());
    }
    if let Some(format) = body.stream_format.as_deref()
        && format != "audio"
    {
        return Err(invalid(format!(
            "stream_format {format:?} is not supported; the audio itself is streamed"
        ))
        .into());
    }
    let voice = match body.voice {
        Some(voice) if OPENAI_VOICES.contains(&voice.to_ascii_lowercase().as_str()) => {
            String::new()
        }
        Some(voice) => voice,
        None => String::new(),
    };
    let format = tts::format(body.response_format.as_deref()).map_err(|e| match e {
        ServiceError::InvalidArgument(message) => invalid(format!("response_format: {message}")),
        other => other,
    })?;
    let request = SynthesizeRequest {
        text: body.input.into_bytes(),
        voice,
        speed: body.speed.unwrap_or(1.0),
        format: format.into(),
        ..SynthesizeRequest::default()
    };
    tts::relay(&state, &http, request).await
}

fn invalid(message: String) -> ServiceError {
    ServiceError::InvalidArgument(message)
}
