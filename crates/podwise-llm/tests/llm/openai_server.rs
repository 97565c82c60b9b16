//! A small OpenAI-compatible server for the tests, on a loopback port of its own.
//!
//! It speaks the protocol as real servers do (`GET /v1/models`, `POST
//! /v1/chat/completions` streamed as server-sent events or answered whole, errors as
//! `{"error": {"message": …}}`, 404 for a model it does not serve) and follows a script
//! the test can change at any time: the reply to send, an error status, a hang, a broken
//! stream. It counts the requests it receives, keeps the last one, and notices when a
//! client goes away in the middle of a stream.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures_util::stream::{self, BoxStream, StreamExt as _};
use serde_json::{Value, json};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// Tokens the server claims the prompt had, so tests can tell its usage from a default.
pub const PROMPT_TOKENS: u32 = 11;

/// Where the server puts the usage of a streamed reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsageIn {
    /// A chunk of its own with no choices, as OpenAI does when asked.
    OwnChunk,
    /// The chunk that carries the finish reason, as some compatible servers do.
    LastChunk,
    /// Nowhere: the server ignores `stream_options`.
    Nowhere,
}

/// What the server does with the next chat requests.
#[derive(Debug, Clone)]
pub enum Script {
    /// Streams each piece as one chunk, then the finish reason and usage, then `[DONE]`;
    /// answered whole when the request does not ask for a stream.
    Reply { pieces: Vec<String>, usage: UsageIn },
    /// Answers with one JSON completion even when a stream was asked for.
    IgnoreStream { text: String },
    /// Streams the first piece, then waits for `gate` before streaming the rest.
    Gated {
        first: String,
        rest: Vec<String>,
        gate: Arc<Notify>,
    },
    /// Streams a piece every `interval`, `pieces` times: long enough to be interrupted.
    Slow { interval: Duration, pieces: usize },
    /// Answers this status with an error body carrying `message`.
    Status { code: u16, message: String },
    /// Sends the headers and a role-only chunk, then nothing more: no token ever comes.
    Hang,
    /// Streams a first piece, then nothing more.
    StallAfterFirst { first: String },
    /// Streams a piece and closes the stream without `[DONE]`, after the chunk with the
    /// finish reason when `finished`, as if cut off otherwise.
    EndWithoutDone { piece: String, finished: bool },
    /// Streams a first piece (when given), then a chunk that is not JSON.
    Malformed { first: Option<String> },
}

impl Script {
    /// A streamed reply of these pieces with the usage in its own chunk.
    pub fn reply(pieces: &[&str]) -> Self {
        Self::Reply {
            pieces: pieces.iter().map(|p| (*p).to_owned()).collect(),
            usage: UsageIn::OwnChunk,
        }
    }

    /// An error status with an OpenAI error body.
    pub fn status(code: u16, message: &str) -> Self {
        Self::Status {
            code,
            message: message.to_owned(),
        }
    }
}

struct Shared {
    model: String,
    script: Mutex<Script>,
    requests: AtomicUsize,
    last_request: Mutex<Option<(HeaderMap, Value)>>,
    client_gone: AtomicBool,
    gone: Notify,
}

/// A running server; it stops when dropped.
pub struct OpenAiServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl OpenAiServer {
    /// Starts a server that serves `model` and follows `script`.
    pub async fn start(model: &str, script: Script) -> Self {
        let shared = Arc::new(Shared {
            model: model.to_owned(),
            script: Mutex::new(script),
            requests: AtomicUsize::new(0),
            last_request: Mutex::new(None),
            client_gone: AtomicBool::new(false),
            gone: Notify::new(),
        });
        let app = axum::Router::new()
            .route("/v1/models", get(models))
            .route("/v1/chat/completions", post(chat))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port is free");
        let addr = listener
            .local_addr()
            .expect("a bound socket has an address");
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .await
                .expect("the test server runs");
        });
        Self { addr, shared, task }
    }

    /// The API base to configure a backend with.
    pub fn url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Chat requests received so far.
    pub fn requests(&self) -> usize {
        self.shared.requests.load(Ordering::SeqCst)
    }

    /// Follows `script` from the next request on.
    pub fn script(&self, script: Script) {
        *self.shared.script.lock().expect("not poisoned") = script;
    }

    /// The headers and JSON body of the last chat request.
    pub fn last_request(&self) -> (HeaderMap, Value) {
        self.shared
            .last_request
            .lock()
            .expect("not poisoned")
            .clone()
            .expect("a chat request was received")
    }

    /// Whether a client went away in the middle of a stream, waiting up to `limit`.
    pub async fn client_went_away_within(&self, limit: Duration) -> bool {
        let notified = self.shared.gone.notified();
        if self.shared.client_gone.load(Ordering::SeqCst) {
            return true;
        }
        tokio::time::timeout(limit, notified).await.is_ok()
    }
}

impl Drop for OpenAiServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn models(State(shared): State<Arc<Shared>>) -> Json<Value> {
    Json(json!({
        "object": "list",
        "data": [{"id": shared.model, "object": "model", "owned_by": "test"}],
    }))
}

async fn chat(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    shared.requests.fetch_add(1, Ordering::SeqCst);
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, "the body is not JSON");
    };
    *shared.last_request.lock().expect("not poisoned") = Some((headers, request.clone()));
    let model = request["model"].as_str().unwrap_or_default().to_owned();
    if request["messages"].as_array().is_none_or(Vec::is_empty) {
        return error(StatusCode::BAD_REQUEST, "messages must not be empty");
    }
    if model != shared.model {
        return error(
            StatusCode::NOT_FOUND,
            &format!("The model `{model}` does not exist"),
        );
    }
    let streamed = request["stream"].as_bool().unwrap_or(false);
    let script = shared.script.lock().expect("not poisoned").clone();

    let reply = Reply {
        model,
        shared: shared.clone(),
    };
    match script {
        Script::Status { code, message } => error(
            StatusCode::from_u16(code).expect("a valid status"),
            &message,
        ),
        Script::IgnoreStream { text } => reply.whole(&text),
        Script::Reply { pieces, .. } if !streamed => reply.whole(&pieces.concat()),
        Script::Reply { pieces, usage } => {
            let count = pieces.len();
            let mut events: Vec<String> = pieces.iter().map(|p| reply.delta(p)).collect();
            match usage {
                UsageIn::OwnChunk => {
                    events.push(reply.finish(None));
                    events.push(reply.usage(count));
                }
                UsageIn::LastChunk => events.push(reply.finish(Some(count))),
                UsageIn::Nowhere => events.push(reply.finish(None)),
            }
            events.push(done());
            reply.sse(stream::iter(events).boxed())
        }
        Script::Gated { first, rest, gate } => {
            let head = stream::iter([reply.delta(&first)]);
            let mut tail: Vec<String> = rest.iter().map(|p| reply.delta(p)).collect();
            tail.push(reply.finish(Some(rest.len() + 1)));
            tail.push(done());
            let tail = stream::once(async move { gate.notified().await })
                .flat_map(move |()| stream::iter(tail.clone()));
            reply.sse(head.chain(tail).boxed())
        }
        Script::Slow { interval, pieces } => {
            let chunks: Vec<String> = (0..pieces).map(|i| reply.delta(&format!("{i} "))).collect();
            let paced = stream::iter(chunks).then(move |chunk| async move {
                tokio::time::sleep(interval).await;
                chunk
            });
            reply.sse(paced.chain(stream::iter([done()])).boxed())
        }
        Script::Hang => {
            let role = chunk(&reply.model, json!({"role": "assistant", "content": ""}));
            reply.sse(stream::iter([role]).chain(stream::pending()).boxed())
        }
        Script::StallAfterFirst { first } => {
            let first = reply.delta(&first);
            reply.sse(stream::iter([first]).chain(stream::pending()).boxed())
        }
        Script::EndWithoutDone { piece, finished } => {
            let mut events = vec![reply.delta(&piece)];
            if finished {
                events.push(reply.finish(Some(1)));
            }
            reply.sse(stream::iter(events).boxed())
        }
        Script::Malformed { first } => {
            let mut events: Vec<String> = first.iter().map(|p| reply.delta(p)).collect();
            events.push("data: {\"choices\": [{\"delta\": \n\n".to_owned());
            reply.sse(stream::iter(events).boxed())
        }
    }
}

/// Builds the pieces of one reply.
struct Reply {
    model: String,
    shared: Arc<Shared>,
}

impl Reply {
    fn delta(&self, text: &str) -> String {
        chunk(&self.model, json!({"content": text}))
    }

    /// The chunk with the finish reason, carrying the usage when `usage_of` pieces say so.
    fn finish(&self, usage_of: Option<usize>) -> String {
        let mut value = json!({
            "object": "chat.completion.chunk",
            "model": self.model,
            "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
        });
        if let Some(pieces) = usage_of {
            value["usage"] = usage(pieces);
        }
        format!("data: {value}\n\n")
    }

    fn usage(&self, pieces: usize) -> String {
        let value = json!({
            "object": "chat.completion.chunk",
            "model": self.model,
            "choices": [],
            "usage": usage(pieces),
        });
        format!("data: {value}\n\n")
    }

    fn whole(&self, text: &str) -> Response {
        Json(json!({
            "object": "chat.completion",
            "model": self.model,
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
            }],
            "usage": usage(1),
        }))
        .into_response()
    }

    /// Streams `events`, noting when the client goes away before the last one was sent.
    fn sse(self, events: BoxStream<'static, String>) -> Response {
        let guard = GoneGuard {
            shared: self.shared,
            finished: false,
        };
        let body = stream::unfold((events, guard), |(mut events, mut guard)| async move {
            match events.next().await {
                Some(event) => Some((Ok::<_, Infallible>(Bytes::from(event)), (events, guard))),
                None => {
                    guard.disarm();
                    None
                }
            }
        });
        (
            [(header::CONTENT_TYPE, "text/event-stream")],
            Body::from_stream(body),
        )
            .into_response()
    }
}

/// Dropped with the response body: before the end, the client went away.
struct GoneGuard {
    shared: Arc<Shared>,
    finished: bool,
}

impl GoneGuard {
    /// The whole body was sent: the client staying or going is no longer news.
    fn disarm(&mut self) {
        self.finished = true;
    }
}

impl Drop for GoneGuard {
    fn drop(&mut self) {
        if !self.finished {
            self.shared.client_gone.store(true, Ordering::SeqCst);
            self.shared.gone.notify_waiters();
        }
    }
}

fn chunk(model: &str, delta: Value) -> String {
    let value = json!({
        "object": "chat.completion.chunk",
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": null}],
    });
    format!("data: {value}\n\n")
}

fn usage(pieces: usize) -> Value {
    json!({
        "prompt_tokens": PROMPT_TOKENS,
        "completion_tokens": pieces,
        "total_tokens": PROMPT_TOKENS as usize + pieces,
    })
}

fn done() -> String {
    "data: [DONE]\n\n".to_owned()
}

fn error(status: StatusCode, message: &str) -> Response {
    let body = json!({"error": {"message": message, "type": "invalid_request_error"}});
    (status, Json(body)).into_response()
}
