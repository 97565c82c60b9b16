//! Chooses the backend that answers a chat request: the configured backends in order,
//! each retried per its [`Policy`] and left out while its circuit breaker is open, the
//! next one asked when one is busy or fails.
//!
//! A backend has answered once its first event has arrived, which the router awaits
//! before handing the stream over. From then on the reply is that backend's: an error
//! later in the stream reaches the caller, because a second backend would start a
//! different reply. A request the backend rejects is not sent elsewhere either: another
//! backend would reject it too, or worse, accept what the caller must fix.

mod breaker;
mod observe;
mod policy;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use podwise_common::ServiceError;
use podwise_common::settings::{LlmSettings, LocalPosition, OpenAiSettings};
use tracing::{debug, info, warn};

use self::breaker::{Breaker, Change};
use self::observe::Outcome;
pub use self::policy::Policy;
use crate::chat::{BackendError, ChatBackend, ChatEvent, ChatRequest, ChatStream};
use crate::models::ModelInfo;
use crate::remote::{self, OpenAiBackend};

/// How long a caller is told to wait when every backend failed but no breaker says for
/// how long.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);

/// Why no backend produced a reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    /// The request names a model no backend serves (404, with the list).
    #[error("no backend serves the model '{model}'")]
    NoSuchModel {
        /// The model the request named.
        model: String,
        /// Every model that can be asked for.
        available: Vec<String>,
    },
    /// Every backend that could serve the request was busy, failed or left out by its
    /// breaker. Which ones and why is in the log, not here.
    #[error("no model backend could answer")]
    Unavailable {
        /// No backend failed: each was busy or resting behind its open breaker, so
        /// trying again later can work (503). Otherwise at least one failed (502).
        busy: bool,
        /// When trying again has a chance.
        retry_after: Duration,
    },
    /// A backend refused the request itself (400); the message is for the caller.
    #[error("{0}")]
    Rejected(String),
}

impl From<RouteError> for ServiceError {
    fn from(error: RouteError) -> Self {
        match error {
            RouteError::NoSuchModel { model, available } => Self::NotFound(format!(
                "no backend serves the model '{model}'; available: {}",
                available.join(", ")
            )),
            RouteError::Unavailable {
                busy: true,
                retry_after,
            } => Self::Unavailable {
                message: "every model backend is busy".to_owned(),
                retry_after,
            },
            RouteError::Unavailable { busy: false, .. } => {
                Self::BadUpstream("no model backend could answer".to_owned())
            }
            RouteError::Rejected(message) => Self::InvalidArgument(message),
        }
    }
}

/// One backend with what the router keeps about it.
#[derive(Debug)]
struct Route {
    backend: Arc<dyn ChatBackend>,
    policy: Policy,
    breaker: Breaker,
}

/// How asking one backend ended, when it did not produce a reply.
enum Miss {
    Rejected(String),
    Busy,
    Failed,
    /// Its breaker is open for this long.
    BreakerOpen(Duration),
}

/// The ordered backends and their breakers; shared by every request.
#[derive(Debug)]
pub struct Router {
    routes: Vec<Route>,
}

impl Router {
    /// A router over `backends`, tried in the given order.
    pub fn new(backends: Vec<(Arc<dyn ChatBackend>, Policy)>) -> Self {
        let routes = backends
            .into_iter()
            .map(|(backend, policy)| Route {
                breaker: Breaker::new(policy.breaker_threshold, policy.breaker_cooldown),
                backend,
                policy,
            })
            .collect();
        Self { routes }
    }

    /// The router the settings describe: the remote backends of `PODWISE_LLM_BACKENDS`
    /// in order, with `local` before them, after them or left out per
    /// `PODWISE_LLM_LOCAL`. Without a `local` backend (none loaded), only the remote
    /// ones are used.
    ///
    /// # Errors
    /// A [`podwise_common::settings::SettingsError`] with every problem of
    /// `PODWISE_LLM_BACKENDS`, or the failure to build an HTTP client.
    pub fn from_settings(
        llm: &LlmSettings,
        openai: &OpenAiSettings,
        local: Option<Arc<dyn ChatBackend>>,
    ) -> anyhow::Result<Self> {
        let mut remotes = Vec::new();
        for settings in remote::settings::parse(&llm.backends, openai.api_key.as_ref())? {
            let policy = settings.policy;
            let backend: Arc<dyn ChatBackend> = Arc::new(OpenAiBackend::new(settings)?);
            remotes.push((backend, policy));
        }
        let local = local.map(|backend| (backend, Policy::local()));
        let backends = match (llm.local, local) {
            (LocalPosition::First, Some(local)) => std::iter::once(local).chain(remotes).collect(),
            (LocalPosition::Last, Some(local)) => remotes.into_iter().chain([local]).collect(),
            (LocalPosition::Off, _) | (_, None) => remotes,
        };
        Ok(Self::new(backends))
    }

    /// The names of the backends in the order they are tried.
    pub fn backend_names(&self) -> Vec<&str> {
        self.routes.iter().map(|r| r.backend.name()).collect()
    }

    /// Every model some backend serves, each id once: the first backend to serve it
    /// (the one asked first) owns it in the list.
    pub fn models(&self) -> Vec<ModelInfo> {
        let mut seen = HashSet::new();
        self.routes
            .iter()
            .flat_map(|r| r.backend.models())
            .filter(|m| seen.insert(m.id.clone()))
            .collect()
    }

    /// Starts a reply from the first backend that produces one.
    ///
    /// # Errors
    /// [`RouteError::NoSuchModel`] when the request names a model no backend serves,
    /// [`RouteError::Rejected`] when a backend refused the request itself, and
    /// [`RouteError::Unavailable`] when no backend answered.
    pub async fn start(&self, request: ChatRequest) -> Result<ChatStream, RouteError> {
        let candidates: Vec<&Route> = match &request.model {
            None => self.routes.iter().collect(),
            Some(model) => self
                .routes
                .iter()
                .filter(|r| r.backend.models().iter().any(|m| &m.id == model))
                .collect(),
        };
        if let (Some(model), true) = (&request.model, candidates.is_empty()) {
            return Err(RouteError::NoSuchModel {
                model: model.clone(),
                available: self.models().into_iter().map(|m| m.id).collect(),
            });
        }

        let mut busy = !candidates.is_empty();
        let mut retry_after: Option<Duration> = None;
        for route in candidates {
            match ask(route, &request).await {
                Ok(stream) => return Ok(stream),
                Err(Miss::Rejected(message)) => return Err(RouteError::Rejected(message)),
                Err(Miss::Busy) => {}
                Err(Miss::Failed) => busy = false,
                Err(Miss::BreakerOpen(wait)) => {
                    retry_after = Some(retry_after.map_or(wait, |w| w.min(wait)));
                }
            }
        }
        Err(RouteError::Unavailable {
            busy,
            retry_after: retry_after.unwrap_or(DEFAULT_RETRY_AFTER),
        })
    }
}

/// Asks one backend, retrying per its policy, until it answers, refuses, or has used its
/// attempts. Every failed attempt is logged here, where it is handled.
async fn ask(route: &Route, request: &ChatRequest) -> Result<ChatStream, Miss> {
    let name = route.backend.name();
    let mut miss = Miss::Failed;
    for attempt in 0..=route.policy.retries {
        if attempt > 0 {
            tokio::time::sleep(route.policy.backoff_before(attempt)).await;
        }
        let permit = match route.breaker.acquire() {
            Ok(permit) => permit,
            Err(wait) => {
                observe::attempt(name, Outcome::BreakerOpen);
                debug!(backend = %name, "circuit breaker open; backend skipped");
                return Err(Miss::BreakerOpen(wait));
            }
        };

        let started = Instant::now();
        let result = first_event(route, request.clone()).await;
        let (outcome, change) = match &result {
            Ok(_) => (Outcome::Ok, permit.succeeded()),
            // The backend is working; the request is at fault.
            Err(BackendError::Rejected(_)) => (Outcome::Rejected, permit.succeeded()),
            Err(BackendError::Busy(_)) => (Outcome::Busy, permit.failed()),
            Err(BackendError::Failed(_)) => (Outcome::Failed, permit.failed()),
        };
        match change {
            Change::Opened => warn!(backend = %name, "circuit breaker opened"),
            Change::Closed => info!(backend = %name, "circuit breaker closed"),
            Change::None => {}
        }
        match result {
            Ok((first, rest)) => return Ok(observe::relay(name, started, first, rest)),
            Err(BackendError::Rejected(message)) => {
                observe::attempt(name, outcome);
                debug!(backend = %name, error = %message, "backend rejected the request");
                return Err(Miss::Rejected(message));
            }
            Err(e) => {
                observe::attempt(name, outcome);
                let attempt = attempt + 1;
                warn!(backend = %name, attempt, error = %e, "chat backend attempt failed");
                miss = if matches!(e, BackendError::Busy(_)) {
                    Miss::Busy
                } else {
                    Miss::Failed
                };
            }
        }
    }
    Err(miss)
}

/// Starts a reply and awaits its first event, within the backend's timeout.
async fn first_event(
    route: &Route,
    request: ChatRequest,
) -> Result<(ChatEvent, ChatStream), BackendError> {
    let name = route.backend.name();
    let attempt = async {
        let mut stream = route.backend.start(request).await?;
        match stream.next().await {
            Some(Ok(event)) => Ok((event, stream)),
            Some(Err(e)) => Err(e),
            None => Err(BackendError::Failed(format!(
                "{name}: the reply ended before its first event"
            ))),
        }
    };
    match route.policy.timeout {
        None => attempt.await,
        Some(limit) => tokio::time::timeout(limit, attempt)
            .await
            .unwrap_or_else(|_| {
                Err(BackendError::Failed(format!(
                    "{name}: no first token within {}ms",
                    limit.as_millis()
                )))
            }),
    }
}
