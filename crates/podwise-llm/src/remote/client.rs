//! One remote OpenAI-compatible server as a [`ChatBackend`]: a streamed
//! `POST {url}/chat/completions`, its events relayed as they arrive.
//!
//! Every request asks for a stream with the usage in its last chunk. A server that
//! ignores `stream_options` still works: its reply then ends with a usage of 0 tokens,
//! which means "not reported", not "nothing generated". A server that ignores `stream`
//! and answers with one JSON completion is read as a reply of one delta.

use std::collections::VecDeque;
use std::error::Error as _;
use std::time::Duration;

use futures_util::future::BoxFuture;
use futures_util::stream::{self, StreamExt as _};
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::{Response, StatusCode, Url};
use secrecy::ExposeSecret as _;

use super::settings::BackendSettings;
use super::sse::SseDecoder;
use super::wire::{self, Completion, CompletionRequest};
use crate::chat::{
    BackendError, ChatBackend, ChatEvent, ChatRequest, ChatStream, FinishReason, Usage,
};
use crate::models::{ModelInfo, ModelKind};

/// How much of an error body is read: enough for any error message, bounded so a
/// misbehaving server cannot make the service buffer a large page.
const MAX_ERROR_BODY: usize = 16 * 1024;
/// How much of a server's error message is shown to the caller.
const MAX_CALLER_MESSAGE: usize = 300;

/// A remote OpenAI-compatible chat server.
#[derive(Debug)]
pub struct OpenAiBackend {
    settings: BackendSettings,
    endpoint: Url,
    http: reqwest::Client,
}

impl OpenAiBackend {
    /// A client for the backend; no connection is made until the first request.
    ///
    /// # Errors
    /// When the HTTP client cannot be built (the TLS roots cannot be loaded).
    pub fn new(settings: BackendSettings) -> anyhow::Result<Self> {
        let mut endpoint = settings.url.clone();
        endpoint
            .path_segments_mut()
            .map_err(|()| anyhow::anyhow!("backend '{}': the URL has no path", settings.name))?
            .extend(["chat", "completions"]);
        let mut http = reqwest::Client::builder()
            .user_agent(concat!("podwise-llm/", env!("CARGO_PKG_VERSION")));
        if let Some(timeout) = settings.policy.timeout {
            http = http.connect_timeout(timeout);
        }
        let http = http.build()?;
        Ok(Self {
            settings,
            endpoint,
            http,
        })
    }

    fn failed(&self, what: impl std::fmt::Display) -> BackendError {
        BackendError::Failed(format!("{}: {what}", self.settings.name))
    }

    async fn send(&self, request: ChatRequest) -> Result<ChatStream, BackendError> {
        let model = request
            .model
            .clone()
            .unwrap_or_else(|| self.settings.models[0].clone());
        let body = serde_json::to_vec(&CompletionRequest::streamed(&model, &request))
            .map_err(|e| self.failed(format_args!("cannot encode the request: {e}")))?;
        let mut http = self
            .http
            .post(self.endpoint.clone())
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, "text/event-stream")
            .body(body);
        if let Some(key) = &self.settings.api_key {
            http = http.bearer_auth(key.expose_secret());
        }

        let response = within(self.settings.policy.timeout, http.send())
            .await
            .ok_or_else(|| self.failed("no response headers in time"))?
            .map_err(|e| self.failed(describe(&e)))?;
        let status = response.status();
        if !status.is_success() {
            let body = read_bounded(response, self.settings.policy.timeout).await;
            return Err(self.status_error(status, &body));
        }

        let is_json = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        let reply = Reply {
            backend: self.settings.name.clone(),
            model,
            finish_reason: None,
            usage: Usage::default(),
        };
        if is_json {
            self.whole_completion(response, reply).await
        } else {
            Ok(events(response, reply, self.settings.policy.timeout))
        }
    }

    /// Reads a reply the server sent as one JSON completion instead of a stream.
    async fn whole_completion(
        &self,
        response: Response,
        mut reply: Reply,
    ) -> Result<ChatStream, BackendError> {
        let bytes = within(self.settings.policy.timeout, response.bytes())
            .await
            .ok_or_else(|| self.failed("the completion did not arrive in time"))?
            .map_err(|e| self.failed(describe(&e)))?;
        let completion: Completion = serde_json::from_slice(&bytes)
            .map_err(|e| self.failed(format_args!("the completion is not valid JSON: {e}")))?;
        if let Some(error) = &completion.error {
            return Err(self.failed(wire::error_message(error).unwrap_or("an error")));
        }
        let mut text = String::new();
        reply.absorb(completion, |choice| {
            if let Some(content) = choice.message.and_then(|m| m.content) {
                text.push_str(&content);
            }
        });
        let done = reply.done();
        let events = (!text.is_empty()).then_some(ChatEvent::Delta(text));
        Ok(stream::iter(events.into_iter().chain([done]).map(Ok)).boxed())
    }

    fn status_error(&self, status: StatusCode, body: &[u8]) -> BackendError {
        let message = serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|v| {
                v.get("error")
                    .and_then(wire::error_message)
                    .map(str::to_owned)
            });
        match status.as_u16() {
            // A 404 without an API error body is a wrong URL, not an unknown model: a
            // setting to fix, and another backend may still answer.
            404 if message.is_none() => self.failed("HTTP 404: check the backend's URL"),
            400 | 404 | 422 => BackendError::Rejected(match message {
                Some(message) => format!(
                    "the model backend refused the request: {}",
                    for_caller(&message)
                ),
                None => format!("the model backend refused the request (HTTP {status})"),
            }),
            429 | 503 => {
                BackendError::Busy(format!("{}: busy (HTTP {status})", self.settings.name))
            }
            _ => self.failed(format_args!(
                "HTTP {status}: {}",
                message.as_deref().unwrap_or("no error message")
            )),
        }
    }
}

impl ChatBackend for OpenAiBackend {
    fn name(&self) -> &str {
        &self.settings.name
    }

    fn models(&self) -> Vec<ModelInfo> {
        self.settings
            .models
            .iter()
            .map(|id| ModelInfo {
                id: id.clone(),
                kind: ModelKind::Chat,
                owned_by: self.settings.name.clone(),
                context_length: self.settings.context_length,
                dimensions: 0,
            })
            .collect()
    }

    fn start(&self, request: ChatRequest) -> BoxFuture<'_, Result<ChatStream, BackendError>> {
        Box::pin(self.send(request))
    }
}

/// What is known of the reply so far, for its final [`ChatEvent::Done`].
#[derive(Debug)]
struct Reply {
    backend: String,
    model: String,
    finish_reason: Option<FinishReason>,
    usage: Usage,
}

impl Reply {
    /// Takes the model, finish reason and usage of a chunk, handing its first choice to
    /// `text` (servers stream one choice unless asked for more).
    fn absorb(&mut self, completion: Completion, text: impl FnOnce(wire::Choice)) {
        if let Some(model) = completion.model.filter(|m| !m.is_empty()) {
            self.model = model;
        }
        if let Some(usage) = completion.usage {
            self.usage = usage.into();
        }
        if let Some(choice) = completion.choices.into_iter().next() {
            if let Some(reason) = &choice.finish_reason {
                self.finish_reason = Some(wire::finish_reason(reason));
            }
            text(choice);
        }
    }

    fn done(&self) -> ChatEvent {
        ChatEvent::Done {
            model: self.model.clone(),
            finish_reason: self.finish_reason.unwrap_or(FinishReason::Stop),
            usage: self.usage,
        }
    }

    fn failed(&self, what: impl std::fmt::Display) -> BackendError {
        BackendError::Failed(format!("{}: {what}", self.backend))
    }
}

/// The state of a stream being read: the response (dropping it closes the connection,
/// which is how a dropped [`ChatStream`] cancels generation on the server).
struct Reading {
    response: Response,
    decoder: SseDecoder,
    reply: Reply,
    ready: VecDeque<Result<ChatEvent, BackendError>>,
    idle: Option<Duration>,
    ended: bool,
}

/// Relays the server-sent events of `response` as chat events, each as soon as its bytes
/// arrive.
fn events(response: Response, reply: Reply, idle: Option<Duration>) -> ChatStream {
    let reading = Reading {
        response,
        decoder: SseDecoder::default(),
        reply,
        ready: VecDeque::new(),
        idle,
        ended: false,
    };
    stream::unfold(reading, |mut r| async move {
        loop {
            if let Some(event) = r.ready.pop_front() {
                return Some((event, r));
            }
            if r.ended {
                return None;
            }
            r.read().await;
        }
    })
    .boxed()
}

impl Reading {
    /// Reads the next piece of the body and queues the events it completes.
    async fn read(&mut self) {
        let piece = match within(self.idle, self.response.chunk()).await {
            None => Err(self.reply.failed("the stream stalled")),
            Some(Err(e)) => Err(self.reply.failed(describe(&e))),
            Some(Ok(piece)) => Ok(piece),
        };
        let at_end = matches!(piece, Ok(None));
        let datas = match piece {
            Ok(Some(bytes)) => self.decoder.feed(&bytes),
            Ok(None) => self.decoder.finish().map(|last| last.into_iter().collect()),
            Err(e) => return self.fail(e),
        };
        let datas = match datas {
            Ok(datas) => datas,
            Err(e) => return self.fail(self.reply.failed(format_args!("malformed stream: {e}"))),
        };
        for data in datas {
            if let Err(e) = self.accept(&data) {
                return self.fail(e);
            }
            if self.ended {
                return;
            }
        }
        if at_end {
            // Some servers close the stream after the last chunk without `[DONE]`; a
            // stream that ends before saying why the reply finished was cut off.
            if self.reply.finish_reason.is_some() {
                self.finish();
            } else {
                self.fail(
                    self.reply
                        .failed("the stream ended before the reply finished"),
                );
            }
        }
    }

    /// Takes the data of one event: `[DONE]` or a JSON chunk.
    fn accept(&mut self, data: &str) -> Result<(), BackendError> {
        if data == "[DONE]" {
            self.finish();
            return Ok(());
        }
        let chunk: Completion = serde_json::from_str(data)
            .map_err(|e| self.reply.failed(format_args!("malformed chunk: {e}")))?;
        if let Some(error) = &chunk.error {
            let message = wire::error_message(error).unwrap_or("an error without a message");
            return Err(self
                .reply
                .failed(format_args!("error in the stream: {message}")));
        }
        let ready = &mut self.ready;
        self.reply.absorb(chunk, |choice| {
            if let Some(content) = choice.delta.and_then(|d| d.content) {
                // Role-only and empty deltas carry no text; relaying them would count as
                // a first token that is not one.
                if !content.is_empty() {
                    ready.push_back(Ok(ChatEvent::Delta(content)));
                }
            }
        });
        Ok(())
    }

    fn finish(&mut self) {
        self.ready.push_back(Ok(self.reply.done()));
        self.ended = true;
    }

    fn fail(&mut self, error: BackendError) {
        self.ready.push_back(Err(error));
        self.ended = true;
    }
}

/// Awaits `future` for at most `limit`; `None` when it took longer.
async fn within<T>(limit: Option<Duration>, future: impl Future<Output = T>) -> Option<T> {
    match limit {
        Some(limit) => tokio::time::timeout(limit, future).await.ok(),
        None => Some(future.await),
    }
}

/// Reads at most [`MAX_ERROR_BODY`] bytes of an error response, giving up quietly: the
/// status alone is enough to act on.
async fn read_bounded(mut response: Response, limit: Option<Duration>) -> Vec<u8> {
    let mut body = Vec::new();
    while body.len() < MAX_ERROR_BODY {
        match within(limit, response.chunk()).await {
            Some(Ok(Some(piece))) => body.extend_from_slice(&piece),
            _ => break,
        }
    }
    body.truncate(MAX_ERROR_BODY);
    body
}

/// A transport error with its causes ("connection refused" is in a source) and without
/// the URL, which the backend's name already identifies.
fn describe(error: &reqwest::Error) -> String {
    let mut text = if error.is_timeout() {
        "timed out".to_owned()
    } else if error.is_connect() {
        "cannot connect".to_owned()
    } else {
        "request failed".to_owned()
    };
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A server's error message made fit for the caller: bounded, and without words that
/// look like addresses (a URL, or `host:port`), which would tell the caller about the
/// deployment.
fn for_caller(message: &str) -> String {
    // `host:port` needs a host with a letter or a dot, so "3:2" and "10:30" survive.
    let looks_like_address = |word: &str| {
        let host_port = word.rsplit_once(':').is_some_and(|(host, port)| {
            host.contains(|c: char| c.is_ascii_alphabetic() || c == '.')
                && port.len() >= 2
                && port.parse::<u16>().is_ok()
        });
        word.contains("://") || host_port
    };
    let mut text = message
        .split_whitespace()
        .map(|word| {
            if looks_like_address(word) {
                "[address]"
            } else {
                word
            }
        })
        .collect::<Vec<_>>()
        .join(" ");
    if let Some((cut, _)) = text.char_indices().nth(MAX_CALLER_MESSAGE) {
        text.truncate(cut);
        text.push('…');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caller_messages_hide_addresses_and_stay_short() {
        assert_eq!(
            for_caller("model 'x' not found at http://ollama:11434/v1 or ollama:11434"),
            "model 'x' not found at [address] or [address]"
        );
        assert_eq!(for_caller("ratio 3:2 at 10:30"), "ratio 3:2 at 10:30");
        assert_eq!(for_caller("see 10.0.0.5:8080"), "see [address]");
        let long = "é".repeat(MAX_CALLER_MESSAGE + 10);
        assert_eq!(for_caller(&long).chars().count(), MAX_CALLER_MESSAGE + 1);
    }
}
