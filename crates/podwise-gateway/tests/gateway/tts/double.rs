//! A stand-in TTS service: it streams the chunks the test scripted (or refuses) and
//! records every request it was sent.

use std::sync::{Arc, Mutex};

use futures_util::stream::BoxStream;
use podwise_proto::tts::v1::tts_service_server::TtsService;
use podwise_proto::tts::v1::{
    AudioChunk, ListVoicesRequest, ListVoicesResponse, SynthesizeRequest, SynthesizeResponse, Voice,
};
use tonic::{Request, Response, Status};

#[derive(Debug, Clone)]
pub(crate) struct ScriptedTts {
    /// Sent in order on `SynthesizeStream`; an error ends the stream there.
    pub(crate) chunks: Vec<Result<AudioChunk, Status>>,
    /// Refuses the stream before any chunk.
    pub(crate) refusal: Option<Status>,
    pub(crate) seen: Arc<Mutex<Vec<SynthesizeRequest>>>,
}

#[tonic::async_trait]
impl TtsService for ScriptedTts {
    async fn synthesize(
        &self,
        _request: Request<SynthesizeRequest>,
    ) -> Result<Response<SynthesizeResponse>, Status> {
        Err(Status::unimplemented(
            "the gateway streams; it should not call Synthesize",
        ))
    }

    type SynthesizeStreamStream = BoxStream<'static, Result<AudioChunk, Status>>;

    async fn synthesize_stream(
        &self,
        request: Request<SynthesizeRequest>,
    ) -> Result<Response<Self::SynthesizeStreamStream>, Status> {
        self.seen
            .lock()
            .expect("not poisoned")
            .push(request.into_inner());
        if let Some(refusal) = &self.refusal {
            return Err(refusal.clone());
        }
        Ok(Response::new(Box::pin(futures_util::stream::iter(
            self.chunks.clone(),
        ))))
    }

    async fn list_voices(
        &self,
        _request: Request<ListVoicesRequest>,
    ) -> Result<Response<ListVoicesResponse>, Status> {
        Ok(Response::new(ListVoicesResponse {
            voices: vec![Voice {
                id: "podrina".to_owned(),
                language: "zh-TW".to_owned(),
                gender: "female".to_owned(),
                engine: "espeak-ng".to_owned(),
                description: "Mandarin".to_owned(),
                native_sample_rate_hz: 22_050,
                license: "GPL-3.0-or-later".to_owned(),
            }],
        }))
    }
}
