//! The router's metrics, per backend: attempts by outcome, tokens read and written, time
//! to the first token and generation speed.
//!
//! | metric | kind | labels |
//! |---|---|---|
//! | `podwise_llm_backend_requests_total` | counter | `backend`, `outcome` |
//! | `podwise_llm_backend_interrupted_total` | counter | `backend` |
//! | `podwise_llm_backend_prompt_tokens_total` | counter | `backend` |
//! | `podwise_llm_backend_completion_tokens_total` | counter | `backend` |
//! | `podwise_llm_backend_first_token_seconds` | histogram | `backend` |
//! | `podwise_llm_backend_tokens_per_second` | histogram | `backend` |
//!
//! `outcome` is one of [`Outcome::as_str`]. An attempt counts once, when its first event
//! arrives or it fails; a stream that fails after that also counts as interrupted. Speed
//! is measured from the first event to the last, and only when the backend reported
//! its completion tokens. Buckets come from `podwise_common::metrics`.

use std::time::Instant;

use futures_util::StreamExt as _;
use futures_util::stream;
use podwise_common::metrics::metric_name;

use crate::chat::{ChatEvent, ChatStream};

/// How one attempt on a backend ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The first event arrived; the reply was relayed.
    Ok,
    Rejected,
    Busy,
    Failed,
    /// Not asked: its circuit breaker was open.
    BreakerOpen,
}

impl Outcome {
    /// The value of the `outcome` label.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Rejected => "rejected",
            Self::Busy => "busy",
            Self::Failed => "failed",
            Self::BreakerOpen => "breaker_open",
        }
    }
}

pub(crate) fn attempt(backend: &str, outcome: Outcome) {
    metrics::counter!(
        metric_name("llm", "backend_requests_total"),
        "backend" => backend.to_owned(),
        "outcome" => outcome.as_str(),
    )
    .increment(1);
}

/// Counts the attempt as successful and relays its events, measuring them on the way.
pub(crate) fn relay(
    backend: &str,
    started: Instant,
    first: ChatEvent,
    rest: ChatStream,
) -> ChatStream {
    attempt(backend, Outcome::Ok);
    let first_at = Instant::now();
    metrics::histogram!(
        metric_name("llm", "backend_first_token_seconds"),
        "backend" => backend.to_owned(),
    )
    .record(first_at - started);

    let backend = backend.to_owned();
    stream::once(async { Ok(first) })
        .chain(rest)
        .inspect(move |item| match item {
            Ok(ChatEvent::Done { usage, .. }) => {
                let labels = [("backend", backend.clone())];
                metrics::counter!(metric_name("llm", "backend_prompt_tokens_total"), &labels)
                    .increment(u64::from(usage.prompt_tokens));
                metrics::counter!(
                    metric_name("llm", "backend_completion_tokens_total"),
                    &labels
                )
                .increment(u64::from(usage.completion_tokens));
                let seconds = first_at.elapsed().as_secs_f64();
                if usage.completion_tokens > 0 && seconds > 0.0 {
                    metrics::histogram!(metric_name("llm", "backend_tokens_per_second"), &labels)
                        .record(f64::from(usage.completion_tokens) / seconds);
                }
            }
            Ok(ChatEvent::Delta(_)) => {}
            Err(_) => {
                metrics::counter!(
                    metric_name("llm", "backend_interrupted_total"),
                    "backend" => backend.clone(),
                )
                .increment(1);
            }
        })
        .boxed()
}
