//! How patiently the router treats one backend: how long an attempt may take, how often
//! it is retried and how soon, and when its circuit breaker opens.

use std::hash::{BuildHasher as _, RandomState};
use std::time::Duration;

/// The longest wait between two attempts on one backend, however many retries.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// Timeout, retries and circuit breaker settings for one backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// How long one attempt may take to produce its first event, and a remote stream to
    /// produce each next piece; `None` waits as long as the backend takes.
    pub timeout: Option<Duration>,
    /// Further attempts after a busy or failed one, before the next backend is tried.
    pub retries: u32,
    /// The delay before the first retry; each later retry waits twice as long.
    pub backoff: Duration,
    /// Consecutive failures that open the circuit breaker.
    pub breaker_threshold: u32,
    /// How long an open breaker keeps the backend out before letting one trial through.
    pub breaker_cooldown: Duration,
}

impl Policy {
    /// The defaults for a remote backend, which `PODWISE_LLM_BACKENDS` options override.
    pub const fn remote() -> Self {
        Self {
            timeout: Some(Duration::from_secs(60)),
            retries: 1,
            backoff: Duration::from_millis(250),
            breaker_threshold: 3,
            breaker_cooldown: Duration::from_secs(30),
        }
    }

    /// The policy of the in-process model: no timeout, because its own queue already
    /// answers busy when full and a queued request is worth its wait; no retries, because
    /// a full queue is not emptier a moment later.
    pub const fn local() -> Self {
        Self {
            timeout: None,
            retries: 0,
            ..Self::remote()
        }
    }

    /// How long to wait before retry number `retry` (1 for the first): the base doubled
    /// per earlier retry, then a random part of up to half of it taken away, so clients
    /// that failed together do not retry together.
    pub(crate) fn backoff_before(&self, retry: u32) -> Duration {
        let doubled = self
            .backoff
            .saturating_mul(1 << retry.saturating_sub(1).min(16))
            .min(MAX_BACKOFF);
        doubled.mul_f64(1.0 - 0.5 * random_fraction())
    }
}

/// A number in [0, 1) that differs from call to call. Each `RandomState` is seeded
/// afresh by the standard library, which is random enough for jitter and needs no crate.
fn random_fraction() -> f64 {
    let bits = RandomState::new().hash_one(0u8) >> 11;
    bits as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_per_retry_with_up_to_half_taken_off_and_a_ceiling() {
        let policy = Policy {
            backoff: Duration::from_millis(100),
            ..Policy::remote()
        };

        for (retry, full) in [(1, 100), (2, 200), (3, 400), (30, 10_000)] {
            let full = Duration::from_millis(full);
            for _ in 0..50 {
                let wait = policy.backoff_before(retry);
                assert!(wait <= full && wait >= full / 2, "retry {retry}: {wait:?}");
            }
        }
    }

    #[test]
    fn backoff_is_jittered() {
        let policy = Policy::remote();
        let waits: std::collections::HashSet<Duration> =
            (0..20).map(|_| policy.backoff_before(1)).collect();

        assert!(waits.len() > 1, "{waits:?}");
    }
}
