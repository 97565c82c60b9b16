//! What the route tests start: the gateway itself in this process on a free port, alone
//! or in front of a scripted stand-in for the one service the routes under test call.

use std::net::SocketAddr;

use podwise_common::CancellationToken;
use podwise_common::server::ServiceServer;
use podwise_common::settings::Settings;
use podwise_common::testing::{RunningService, settings_with, spawn};

/// The gateway under test, serving on a free loopback port until [`Gateway::stop`].
pub(crate) struct Gateway {
    /// `http://127.0.0.1:<port>`, to put a path after.
    pub(crate) base: String,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Gateway {
    pub(crate) async fn start(settings: &Settings) -> Self {
        let gateway = podwise_gateway::build(settings)
            .await
            .expect("build the gateway");
        let base = format!("http://{}", gateway.local_addr());
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(gateway.run_until_stopped(shutdown.clone()));
        Self {
            base,
            shutdown,
            task,
        }
    }

    /// Stops the gateway as SIGTERM would, and checks it stopped cleanly.
    pub(crate) async fn stop(self) {
        self.shutdown.cancel();
        self.task
            .await
            .expect("join the gateway")
            .expect("the gateway stops cleanly");
    }
}

/// The gateway in front of one stand-in service.
pub(crate) struct Fronted {
    pub(crate) gateway: Gateway,
    stand_in: RunningService,
}

impl Fronted {
    /// Runs `stand_in` on a free loopback port, then the gateway with that service's
    /// address in `url_variable` (`STT_URL`, `TTS_URL`) and `extra` settings on top.
    pub(crate) async fn start(
        stand_in: ServiceServer,
        url_variable: &str,
        extra: &[(&str, &str)],
    ) -> Self {
        let stand_in = spawn_stand_in(stand_in).await;
        let url = format!("http://{}", stand_in.addr);
        let mut pairs = vec![(url_variable, url.as_str())];
        pairs.extend_from_slice(extra);
        let gateway = Gateway::start(&settings_with(&pairs)).await;
        Self { gateway, stand_in }
    }

    pub(crate) fn base(&self) -> &str {
        &self.gateway.base
    }

    /// Stops the gateway first, so no request of its own is cut off, then the stand-in.
    pub(crate) async fn stop(self) {
        self.gateway.stop().await;
        self.stand_in.stop().await;
    }
}

/// Binds `server`, a stand-in for one service, on a free loopback port and runs it.
pub(crate) async fn spawn_stand_in(server: ServiceServer) -> RunningService {
    let loopback: SocketAddr = "127.0.0.1:0".parse().expect("loopback address");
    spawn(
        server
            .bind(loopback)
            .await
            .expect("bind the stand-in service"),
    )
}
