//! Speech to text in the product API, `POST /api/v1/stt/transcribe`, and what it shares
//! with OpenAI's transcription route: the upload read into a request to the STT service.
//!
//! The upload is `multipart/form-data` with the audio in `file` and optional `language`
//! (ISO 639-1, empty to detect it), `prompt` and `word_timestamps` (`true`/`false`).
//! The answer is the transcript with its segments, times in seconds.

use actix_web::{HttpRequest, HttpResponse, web};
use podwise_common::ServiceError;
use podwise_common::grpc_client::TracedChannel;
use podwise_common::settings::ServiceName;
use podwise_proto::common::v1::AudioInput;
use podwise_proto::common::v1::audio_input::Source;
use podwise_proto::stt::v1::stt_service_client::SttServiceClient;
use podwise_proto::stt::v1::{TranscribeRequest, TranscribeResponse};
use serde_json::{Value, json};

use crate::AppState;
use crate::api_error::ApiError;
use crate::upload::{self, Upload};
use crate::upstreams::grpc_request;

/// The field that carries the audio, named as OpenAI names it.
pub(crate) const FILE_FIELD: &str = "file";

/// Room for the request's other fields beside the audio in one gRPC message.
const ENVELOPE_BYTES: usize = 64 * 1024;

/// A client of the STT service that may send the largest upload accepted.
pub(crate) fn stt_client(state: &AppState) -> SttServiceClient<TracedChannel> {
    SttServiceClient::new(state.upstreams.channel(ServiceName::Stt))
        .max_encoding_message_size(state.settings.stt.max_upload_bytes + ENVELOPE_BYTES)
}

/// Reads an audio upload at most as large as the STT service takes.
pub(crate) async fn read_upload(
    state: &AppState,
    http: &HttpRequest,
    payload: web::Payload,
) -> Result<Upload, ServiceError> {
    upload::read(
        http,
        payload,
        FILE_FIELD,
        state.settings.stt.max_upload_bytes,
    )
    .await
}

/// The request for the uploaded file, with the client's file name or content type as
/// the format hint.
pub(crate) fn audio_request(upload: &mut Upload) -> Result<TranscribeRequest, ServiceError> {
    let file = upload.file.take().ok_or_else(|| {
        ServiceError::InvalidArgument(format!("send the audio in the field {FILE_FIELD}"))
    })?;
    if file.bytes.is_empty() {
        return Err(ServiceError::InvalidArgument(
            "the audio file is empty".to_owned(),
        ));
    }
    let hint = file.file_name.or(file.content_type).unwrap_or_default();
    Ok(TranscribeRequest {
        audio: Some(AudioInput {
            source: Some(Source::Data(file.bytes.to_vec())),
            format_hint: hint,
        }),
        language: upload.take("language")?.unwrap_or_default(),
        prompt: upload.take("prompt")?.unwrap_or_default(),
        ..TranscribeRequest::default()
    })
}

pub(crate) async fn transcribe(
    state: web::Data<AppState>,
    http: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let mut upload = read_upload(&state, &http, payload).await?;
    let mut request = audio_request(&mut upload)?;
    request.word_timestamps = match upload.take("word_timestamps")?.as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(ServiceError::InvalidArgument(format!(
                "word_timestamps must be true or false, not {other:?}"
            ))
            .into());
        }
    };
    upload.finish()?;

    let reply = stt_client(&state)
        .transcribe(grpc_request(&http, request))
        .await?
        .into_inner();
    Ok(HttpResponse::Ok().json(transcript_body(&reply)))
}

/// The product API's transcript: every field the service returns, times in seconds.
fn transcript_body(reply: &TranscribeResponse) -> Value {
    let segments: Vec<Value> = reply
        .segments
        .iter()
        .map(|segment| {
            let words: Vec<Value> = segment
                .words
                .iter()
                .map(|word| {
                    json!({
                        "text": word.text,
                        "start": word.start_seconds,
                        "end": word.end_seconds,
                        "probability": word.probability,
                    })
                })
                .collect();
            json!({
                "id": segment.id,
                "start": segment.start_seconds,
                "end": segment.end_seconds,
                "text": segment.text,
                "avg_logprob": segment.avg_logprob,
                "no_speech_prob": segment.no_speech_prob,
                "words": words,
            })
        })
        .collect();
    json!({
        "text": reply.text,
        "language": reply.language,
        "language_probability": reply.language_probability,
        "duration_seconds": reply.duration_seconds,
        "model": reply.model,
        "segments": segments,
    })
}
