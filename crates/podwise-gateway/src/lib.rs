//! `podwise-gateway`: the only public entry point of Podwise (port 8000).
//!
//! It speaks HTTP to the world (actix-web) and gRPC to the five services behind it. This
//! module wires the pieces: [`routes`] lists every route, [`upstreams`] holds the gRPC
//! clients, [`probes`] answers `/health`, `/ready` and `/metrics`, [`observe`] gives each
//! request an id, a span and metrics, [`objects`] serves the embedded object store's
//! signed URLs, [`openai`] relays the OpenAI-compatible routes to the LLM, STT and TTS
//! services, [`ask`] the questions, summaries and chat history answered by the RAG
//! service, [`ingest`] the operators' ingestion, [`recommend`] the recommendations,
//! similar episodes and the operators' training and evaluation by the ml service,
//! [`speech`] serves the product API's transcription from an [`upload`],
//! [`tts`] its speech synthesis from a [`json_body`], [`users`] the listeners and their
//! preferences, [`auth`] tells listeners and operators apart, [`web_ui`] serves the
//! listener's web UI at `/`, and [`api_error`] turns every failure into one JSON shape.

mod api_doc;
pub mod api_error;
mod ask;
pub mod auth;
mod browse;
mod cors;
mod endpoint;
mod ingest;
mod json_body;
mod objects;
pub mod observe;
mod openai;
mod probes;
pub mod rate_limit;
mod recommend;
mod routes;
mod speech;
mod tts;
mod upload;
pub mod upstreams;
mod users;
mod web_ui;

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use actix_web::{App, HttpServer, middleware, web};
use anyhow::Context as _;
use futures_util::future::BoxFuture;
use podwise_common::CancellationToken;
use podwise_common::readiness::Readiness;
use podwise_common::settings::Settings;
use podwise_common::stores::catalog::Catalog;
use podwise_common::stores::objects::ObjectStore;
use tracing::info;

use crate::rate_limit::RateLimiter;
use crate::upstreams::Upstreams;

/// Shared by every request handler.
#[derive(Debug, Clone)]
pub struct AppState {
    pub settings: Settings,
    pub upstreams: Upstreams,
    pub readiness: Readiness,
    /// Listeners, their tokens, preferences and feedback; shared with the services.
    pub catalog: Catalog,
    /// The object store, for signing the audio links of citations; in the embedded
    /// profile the gateway also serves those signed URLs itself.
    pub objects: ObjectStore,
    /// This replica's request budgets per client IP and per token.
    pub rate_limiter: Arc<RateLimiter>,
}

/// A gateway with its port bound, ready to run.
pub struct Gateway {
    server: actix_web::dev::Server,
    addr: SocketAddr,
    readiness: Readiness,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// Binds the gateway's port, builds the clients of the five services and, in the
/// embedded profile, opens the local object store.
///
/// # Errors
/// When the address is taken, a service URL is malformed or the object directory cannot
/// be used.
pub async fn build(settings: &Settings) -> anyhow::Result<Gateway> {
    podwise_common::metrics::handle();
    let upstreams = Upstreams::connect(&settings.services)?;
    let readiness = Readiness::default();
    let catalog = Catalog::open(settings)
        .await
        .context("cannot open the catalog")?;
    let objects = ObjectStore::open(settings)
        .await
        .context("cannot open the object store")?;
    let state = web::Data::new(AppState {
        settings: settings.clone(),
        upstreams,
        readiness: readiness.clone(),
        catalog,
        objects,
        rate_limiter: Arc::new(RateLimiter::new(settings.api.rate_limits)),
    });
    let cors_origins = settings.api.cors_origins.clone();

    let address = settings.api.bind_address();
    let listener =
        TcpListener::bind(&address).with_context(|| format!("cannot listen on {address}"))?;
    let addr = listener.local_addr()?;
    let server = HttpServer::new(move || {
        let cors = cors::middleware(&cors_origins);
        // Inner to outer: the rate limit answers before any handler runs, CORS headers go
        // on every answer including a 429, and the request log sees all of it.
        App::new()
            .app_data(state.clone())
            .configure(|config| routes::configure(config, &state))
            .wrap(middleware::from_fn(rate_limit::limit))
            .wrap(middleware::Condition::new(
                cors.is_some(),
                cors.unwrap_or_default(),
            ))
            .wrap(middleware::from_fn(observe::observe))
    })
    .workers(settings.server.worker_threads)
    // A client that closes its side has given up on the answer: dropping the handler then
    // cancels the upstream call, so a long generation stops instead of running unread.
    .h1_allow_half_closed(false)
    .shutdown_timeout(settings.server.shutdown_grace.as_secs())
    // Signals are handled once for the whole process by the bootstrap.
    .disable_signals()
    .listen(listener)?
    .run();

    Ok(Gateway {
        server,
        addr,
        readiness,
    })
}

impl Gateway {
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until `shutdown` is cancelled, then stops reporting ready, stops accepting
    /// and lets in-flight requests finish within the grace period.
    ///
    /// # Errors
    /// When the HTTP server fails.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let handle = self.server.handle();
        // The server future runs the stop command itself, so it must keep being polled
        // while `stop` waits: it runs as its own task.
        let mut server = tokio::spawn(self.server);
        info!(addr = %self.addr, "gateway serving HTTP");
        tokio::select! {
            outcome = &mut server => {
                outcome??;
                anyhow::bail!("the HTTP server stopped without a stop signal");
            }
            () = shutdown.cancelled() => {}
        }
        info!("gateway draining in-flight requests");
        self.readiness.start_draining();
        handle.stop(true).await;
        server.await??;
        info!("gateway drained");
        Ok(())
    }
}

/// Serves until `shutdown` is cancelled: the binary's entry point.
pub fn serve(
    settings: Settings,
    shutdown: CancellationToken,
) -> BoxFuture<'static, anyhow::Result<()>> {
    Box::pin(async move { build(&settings).await?.run_until_stopped(shutdown).await })
}
