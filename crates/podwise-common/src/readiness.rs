//! Readiness: whether this process should receive traffic right now.
//!
//! A service is ready when every registered dependency check passes and it is not
//! shutting down. The latch flips once, on the stop signal, before the listener closes,
//! so load balancers stop sending work while in-flight requests drain.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::future::BoxFuture;
use serde::Serialize;

/// A named dependency check: `Ok` when usable, `Err(reason)` otherwise.
pub type Check = Arc<dyn Fn() -> BoxFuture<'static, Result<(), String>> + Send + Sync>;

/// How long one check may take before it counts as failed.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Clone, Default)]
pub struct Readiness {
    draining: Arc<AtomicBool>,
    checks: Arc<Vec<(String, Check)>>,
    /// `podwise_<service>_dependency_up`, set to 1 or 0 per check at every report, so a
    /// dashboard shows which store a service cannot reach without scraping `/ready`.
    gauge: Option<String>,
}

impl std::fmt::Debug for Readiness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Readiness")
            .field("draining", &self.is_draining())
            .field(
                "checks",
                &self.checks.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// What `/ready` answers.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ReadinessReport {
    pub ready: bool,
    pub draining: bool,
    /// Each dependency: `"ok"` or the reason it is not usable.
    pub checks: BTreeMap<String, String>,
}

impl Readiness {
    pub fn new(checks: Vec<(String, Check)>) -> Self {
        Self {
            draining: Arc::default(),
            checks: Arc::new(checks),
            gauge: None,
        }
    }

    /// Also reports each check as the gauge `podwise_<service>_dependency_up`.
    pub fn reporting_as(mut self, service: &str) -> Self {
        self.gauge = Some(crate::metrics::metric_name(service, "dependency_up"));
        self
    }

    /// Stops reporting ready for good; called first on shutdown.
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }

    /// Runs every check concurrently, each bounded by a timeout.
    pub async fn report(&self) -> ReadinessReport {
        let results = futures_util::future::join_all(self.checks.iter().map(|(name, check)| {
            let check = check();
            async move {
                let outcome = match tokio::time::timeout(CHECK_TIMEOUT, check).await {
                    Ok(Ok(())) => "ok".to_owned(),
                    Ok(Err(reason)) => reason,
                    Err(_) => format!("no answer within {CHECK_TIMEOUT:?}"),
                };
                (name.clone(), outcome)
            }
        }))
        .await;
        let checks: BTreeMap<_, _> = results.into_iter().collect();
        if let Some(gauge) = &self.gauge {
            for (name, outcome) in &checks {
                let up = if outcome == "ok" { 1.0 } else { 0.0 };
                metrics::gauge!(gauge.clone(), "dependency" => name.clone()).set(up);
            }
        }
        let draining = self.is_draining();
        ReadinessReport {
            ready: !draining && checks.values().all(|v| v == "ok"),
            draining,
            checks,
        }
    }
}
