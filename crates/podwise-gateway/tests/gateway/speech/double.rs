//! A stand-in STT service: it answers as the test scripted and records what it was asked.

use std::sync::{Arc, Mutex};

use futures_util::stream::BoxStream;
use podwise_proto::stt::v1::stt_service_server::SttService;
use podwise_proto::stt::v1::{TranscribeEvent, TranscribeRequest, TranscribeResponse};
use tonic::{Request, Response, Status};

#[derive(Debug, Clone)]
pub(crate) struct ScriptedStt {
    pub(crate) reply: Result<TranscribeResponse, Status>,
    pub(crate) seen: Arc<Mutex<Vec<TranscribeRequest>>>,
}

#[tonic::async_trait]
impl SttService for ScriptedStt {
    async fn transcribe(
        &self,
        request: Request<TranscribeRequest>,
    ) -> Result<Response<TranscribeResponse>, Status> {
        self.seen
            .lock()
            .expect("not poisoned")
            .push(request.into_inner());
        self.reply.clone().map(Response::new)
    }

    type TranscribeStreamStream = BoxStream<'static, Result<TranscribeEvent, Status>>;

    async fn transcribe_stream(
        &self,
        _request: Request<TranscribeRequest>,
    ) -> Result<Response<Self::TranscribeStreamStream>, Status> {
        Err(Status::unimplemented("the gateway relays no STT stream"))
    }
}
