//! The gRPC face of the service: checks each request, fetches its audio (inline bytes or
//! an object-store key), and relays the transcriber's updates as the contract's messages.

use futures_util::StreamExt as _;
use futures_util::stream::BoxStream;
use podwise_common::ServiceError;
use podwise_common::stores::objects::{ObjectKey, ObjectStore};
use podwise_proto::common::v1::audio_input::Source;
use podwise_proto::stt::v1 as pb;
use podwise_proto::stt::v1::stt_service_server::SttService;
use tokio::io::AsyncReadExt as _;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::pipeline::{self, TimedSegment};
use crate::transcriber::{Job, Transcriber, Update};

/// The largest stored recording read for transcription: four hours of uncompressed CD
/// audio is about 2.5 GB, and nobody stores episodes that way; compressed ones are far
/// smaller. Past this, the object is refused before it is read.
const MAX_OBJECT_BYTES: u64 = 1024 * 1024 * 1024;

/// Implements `podwise.stt.v1.SttService`.
#[derive(Debug, Clone)]
pub(crate) struct SttApi {
    pub(crate) transcriber: Transcriber,
    /// The loaded model's name, reported with every transcript.
    pub(crate) model: String,
    /// Names a request may use for the loaded model.
    pub(crate) aliases: Vec<String>,
    pub(crate) objects: ObjectStore,
}

impl SttApi {
    /// Checks `request`, reads its audio and queues it.
    async fn start(
        &self,
        request: pb::TranscribeRequest,
    ) -> Result<tokio::sync::mpsc::Receiver<Result<Update, ServiceError>>, ServiceError> {
        if !request.model.is_empty() && !self.aliases.contains(&request.model) {
            return Err(ServiceError::NotFound(format!(
                "no speech model {:?}; this service runs {}",
                request.model, self.model
            )));
        }
        if !(0.0..=1.0).contains(&request.temperature) {
            return Err(ServiceError::InvalidArgument(
                "temperature must be from 0 to 1".to_owned(),
            ));
        }
        let audio = request
            .audio
            .ok_or_else(|| ServiceError::InvalidArgument("audio is required".to_owned()))?;
        let hint = Some(audio.format_hint).filter(|hint| !hint.is_empty());
        let (bytes, hint) = match audio.source {
            Some(Source::Data(bytes)) => (bytes, hint),
            Some(Source::ObjectKey(key)) => {
                let hint = hint.or_else(|| Some(key.clone()));
                (self.read_object(&key).await?, hint)
            }
            None => {
                return Err(ServiceError::InvalidArgument(
                    "audio needs its bytes or an object key".to_owned(),
                ));
            }
        };
        let job = Job {
            bytes,
            format_hint: hint,
            request: pipeline::Request {
                language: Some(request.language.trim().to_ascii_lowercase())
                    .filter(|code| !code.is_empty()),
                prompt: Some(request.prompt).filter(|prompt| !prompt.trim().is_empty()),
                word_timestamps: request.word_timestamps,
                temperature: request.temperature,
            },
        };
        self.transcriber.submit(job).await
    }

    async fn read_object(&self, key: &str) -> Result<Vec<u8>, ServiceError> {
        let key = ObjectKey::new(key)?;
        let (info, mut body) = self.objects.get(&key).await?;
        if info.size > MAX_OBJECT_BYTES {
            return Err(ServiceError::PayloadTooLarge(format!(
                "the stored audio {key} is {} bytes; at most {MAX_OBJECT_BYTES} are read",
                info.size
            )));
        }
        let mut bytes = Vec::with_capacity(usize::try_from(info.size).unwrap_or_default());
        body.read_to_end(&mut bytes).await.map_err(|e| {
            ServiceError::unavailable(format!("reading the stored audio {key} failed: {e}"))
        })?;
        Ok(bytes)
    }
}

#[tonic::async_trait]
impl SttService for SttApi {
    async fn transcribe(
        &self,
        request: Request<pb::TranscribeRequest>,
    ) -> Result<Response<pb::TranscribeResponse>, Status> {
        let mut updates = self.start(request.into_inner()).await?;
        let mut reply = pb::TranscribeResponse {
            model: self.model.clone(),
            ..pb::TranscribeResponse::default()
        };
        while let Some(update) = updates.recv().await {
            match update? {
                Update::Started {
                    duration_seconds,
                    language,
                    language_probability,
                } => {
                    reply.duration_seconds = duration_seconds;
                    reply.language = language;
                    reply.language_probability = language_probability;
                }
                Update::Segment(segment) => reply.segments.push(segment_of(segment)),
            }
        }
        reply.text = pipeline::join_text(
            &reply.language,
            reply.segments.iter().map(|s| s.text.as_str()),
        );
        Ok(Response::new(reply))
    }

    type TranscribeStreamStream = BoxStream<'static, Result<pb::TranscribeEvent, Status>>;

    async fn transcribe_stream(
        &self,
        request: Request<pb::TranscribeRequest>,
    ) -> Result<Response<Self::TranscribeStreamStream>, Status> {
        let updates = self.start(request.into_inner()).await?;
        let model = self.model.clone();
        // Dropping this stream (the client went away) drops the receiver, which stops the
        // model before its next window.
        let events = ReceiverStream::new(updates).map(move |update| {
            let event = match update.map_err(Status::from)? {
                Update::Started {
                    duration_seconds,
                    language,
                    language_probability,
                } => pb::transcribe_event::Event::Info(pb::TranscriptionInfo {
                    language,
                    language_probability,
                    duration_seconds,
                    model: model.clone(),
                }),
                Update::Segment(segment) => {
                    pb::transcribe_event::Event::Segment(segment_of(segment))
                }
            };
            Ok(pb::TranscribeEvent { event: Some(event) })
        });
        Ok(Response::new(Box::pin(events)))
    }
}

fn segment_of(segment: TimedSegment) -> pb::Segment {
    pb::Segment {
        id: segment.id,
        start_seconds: segment.start,
        end_seconds: segment.end,
        text: segment.text,
        avg_logprob: segment.avg_logprob,
        no_speech_prob: segment.no_speech_prob,
        words: segment
            .words
            .into_iter()
            .map(|word| pb::Word {
                text: word.text,
                start_seconds: word.start,
                end_seconds: word.end,
                probability: word.probability,
            })
            .collect(),
        tokens: segment.tokens,
        temperature: segment.temperature,
        compression_ratio: segment.compression_ratio,
        window_start_seconds: segment.window_start,
    }
}
