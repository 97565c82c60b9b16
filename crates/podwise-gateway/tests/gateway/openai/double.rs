//! A stand-in LLM service: it answers each RPC as the test scripted and records what it
//! was asked, including whether a reply stream was dropped before it ran out.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::stream::BoxStream;
use podwise_proto::llm::v1::llm_service_server::LlmService;
use podwise_proto::llm::v1::{
    ChatChunk, ChatRequest, ChatResponse, EmbedRequest, EmbedResponse, ListModelsRequest,
    ListModelsResponse, ModelInfo,
};
use tokio::sync::Notify;
use tonic::{Request, Response, Status};

/// What the stand-in answers; an RPC left unscripted answers `UNIMPLEMENTED`.
#[derive(Debug, Default, Clone)]
pub(crate) struct Script {
    pub(crate) chat: Option<Result<ChatResponse, Status>>,
    /// How long `Chat` takes before it answers, to make a slow generation.
    pub(crate) chat_delay: Duration,
    /// Refuses `ChatStream` itself, before any chunk.
    pub(crate) stream_refusal: Option<Status>,
    /// Sent in order on `ChatStream`; an error ends the stream.
    pub(crate) stream: Vec<Result<ChatChunk, Status>>,
    /// The wait before each streamed item, to make a slow generation.
    pub(crate) pace: Duration,
    pub(crate) embed: Option<Result<EmbedResponse, Status>>,
    pub(crate) models: Vec<ModelInfo>,
}

/// What the stand-in received and how its reply streams ended.
#[derive(Debug, Default)]
pub(crate) struct Seen {
    pub(crate) chats: Mutex<Vec<ChatRequest>>,
    pub(crate) streams: Mutex<Vec<ChatRequest>>,
    pub(crate) embeds: Mutex<Vec<EmbedRequest>>,
    /// Items of the reply stream handed to gRPC so far.
    pub(crate) sent: AtomicUsize,
    /// The reply stream ran out of scripted items.
    pub(crate) exhausted: AtomicBool,
    /// Notified when a reply stream, or a `Chat` call in progress, is dropped, however it
    /// ended.
    pub(crate) dropped: Notify,
}

impl Seen {
    pub(crate) fn chats(&self) -> Vec<ChatRequest> {
        self.chats.lock().expect("not poisoned").clone()
    }

    pub(crate) fn streams(&self) -> Vec<ChatRequest> {
        self.streams.lock().expect("not poisoned").clone()
    }

    pub(crate) fn embeds(&self) -> Vec<EmbedRequest> {
        self.embeds.lock().expect("not poisoned").clone()
    }
}

#[derive(Debug, Clone)]
pub(crate) struct ScriptedLlm {
    pub(crate) script: Arc<Script>,
    pub(crate) seen: Arc<Seen>,
}

/// Tells [`Seen`] when the stream that owns it is dropped.
struct DropAlarm(Arc<Seen>);

impl Drop for DropAlarm {
    fn drop(&mut self) {
        self.0.dropped.notify_one();
    }
}

fn unscripted(rpc: &str) -> Status {
    Status::unimplemented(format!("the test did not script {rpc}"))
}

#[tonic::async_trait]
impl LlmService for ScriptedLlm {
    async fn chat(&self, request: Request<ChatRequest>) -> Result<Response<ChatResponse>, Status> {
        let request = request.into_inner();
        self.seen.chats.lock().expect("not poisoned").push(request);
        let _alarm = DropAlarm(self.seen.clone());
        tokio::time::sleep(self.script.chat_delay).await;
        let reply = self.script.chat.clone().unwrap_or(Err(unscripted("Chat")));
        reply.map(Response::new)
    }

    type ChatStreamStream = BoxStream<'static, Result<ChatChunk, Status>>;

    async fn chat_stream(
        &self,
        request: Request<ChatRequest>,
    ) -> Result<Response<Self::ChatStreamStream>, Status> {
        let request = request.into_inner();
        self.seen
            .streams
            .lock()
            .expect("not poisoned")
            .push(request);
        if let Some(refusal) = &self.script.stream_refusal {
            return Err(refusal.clone());
        }
        let items = self.script.stream.clone().into_iter();
        let state = (items, DropAlarm(self.seen.clone()), self.script.pace);
        let stream = futures_util::stream::unfold(state, |(mut items, alarm, pace)| async move {
            tokio::time::sleep(pace).await;
            let Some(item) = items.next() else {
                alarm.0.exhausted.store(true, Ordering::SeqCst);
                return None;
            };
            alarm.0.sent.fetch_add(1, Ordering::SeqCst);
            Some((item, (items, alarm, pace)))
        });
        Ok(Response::new(Box::pin(stream)))
    }

    async fn embed(
        &self,
        request: Request<EmbedRequest>,
    ) -> Result<Response<EmbedResponse>, Status> {
        let request = request.into_inner();
        self.seen.embeds.lock().expect("not poisoned").push(request);
        let reply = self
            .script
            .embed
            .clone()
            .unwrap_or(Err(unscripted("Embed")));
        reply.map(Response::new)
    }

    async fn list_models(
        &self,
        _request: Request<ListModelsRequest>,
    ) -> Result<Response<ListModelsResponse>, Status> {
        Ok(Response::new(ListModelsResponse {
            models: self.script.models.clone(),
        }))
    }
}
