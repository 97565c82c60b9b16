//! A circuit breaker per backend: after a run of failures the backend is left out for a
//! cool-down instead of making every request wait for it to fail again.
//!
//! Closed, it lets everything through and counts consecutive failures. At the threshold
//! it opens and lets nothing through. When the cool-down has passed, the next request
//! becomes the one trial (half-open): its success closes the breaker, its failure opens
//! it for another cool-down. A trial abandoned without an outcome (the caller went
//! away) lets the next request try instead.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Closed {
        failures: u32,
    },
    Open {
        until: Instant,
    },
    /// One request is finding out whether the backend has recovered.
    Trial,
}

/// What a recorded outcome changed, for the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Change {
    None,
    Opened,
    Closed,
}

/// The breaker of one backend.
#[derive(Debug)]
pub(crate) struct Breaker {
    threshold: u32,
    cooldown: Duration,
    state: Mutex<State>,
}

/// Leave to ask the backend once; its outcome must be recorded.
#[derive(Debug)]
pub(crate) struct Permit<'a> {
    breaker: &'a Breaker,
    trial: bool,
    recorded: bool,
}

impl Breaker {
    pub(crate) fn new(threshold: u32, cooldown: Duration) -> Self {
        Self {
            threshold: threshold.max(1),
            cooldown,
            state: Mutex::new(State::Closed { failures: 0 }),
        }
    }

    /// Leave to ask the backend now, or how long until it may be asked again.
    pub(crate) fn acquire(&self) -> Result<Permit<'_>, Duration> {
        self.acquire_at(Instant::now())
    }

    fn acquire_at(&self, now: Instant) -> Result<Permit<'_>, Duration> {
        let mut state = self.lock();
        let trial = match *state {
            State::Closed { .. } => false,
            State::Open { until } if now < until => return Err(until - now),
            State::Open { .. } => {
                *state = State::Trial;
                true
            }
            // The trial's outcome is due within one attempt; until then, wait a cool-down.
            State::Trial => return Err(self.cooldown),
        };
        Ok(Permit {
            breaker: self,
            trial,
            recorded: false,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The state is a plain value, valid even if a holder panicked.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn record(&self, succeeded: bool, now: Instant) -> Change {
        let mut state = self.lock();
        let before = *state;
        *state = match (before, succeeded) {
            (_, true) => State::Closed { failures: 0 },
            (State::Closed { failures }, false) if failures + 1 < self.threshold => State::Closed {
                failures: failures + 1,
            },
            (State::Closed { .. } | State::Trial, false) => State::Open {
                until: now + self.cooldown,
            },
            // A request let through before the breaker opened failed too: nothing new.
            (State::Open { until }, false) => State::Open { until },
        };
        match (before, *state) {
            // A failed trial reopens the breaker: worth saying like a first opening.
            (State::Closed { .. } | State::Trial, State::Open { .. }) => Change::Opened,
            (State::Open { .. } | State::Trial, State::Closed { .. }) => Change::Closed,
            _ => Change::None,
        }
    }
}

impl Permit<'_> {
    /// The backend answered (a reply, or a refusal of the request itself).
    pub(crate) fn succeeded(mut self) -> Change {
        self.recorded = true;
        self.breaker.record(true, Instant::now())
    }

    /// The backend was busy or failed.
    pub(crate) fn failed(mut self) -> Change {
        self.recorded = true;
        self.breaker.record(false, Instant::now())
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if self.trial && !self.recorded {
            let mut state = self.breaker.lock();
            if *state == State::Trial {
                *state = State::Open {
                    until: Instant::now(),
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COOLDOWN: Duration = Duration::from_secs(30);

    fn fail_at(breaker: &Breaker, now: Instant) -> Change {
        breaker.record(false, now)
    }

    #[test]
    fn it_opens_after_the_threshold_of_consecutive_failures() {
        let breaker = Breaker::new(3, COOLDOWN);
        let now = Instant::now();

        assert_eq!(breaker.record(false, now), Change::None);
        assert_eq!(breaker.record(false, now), Change::None);
        assert_eq!(breaker.record(false, now), Change::Opened);

        assert_eq!(breaker.acquire_at(now).expect_err("open"), COOLDOWN);
    }

    #[test]
    fn a_success_resets_the_count_of_failures() {
        let breaker = Breaker::new(2, COOLDOWN);
        let now = Instant::now();

        breaker.record(false, now);
        breaker.record(true, now);
        assert_eq!(breaker.record(false, now), Change::None);
        assert!(breaker.acquire_at(now).is_ok());
    }

    #[test]
    fn after_the_cooldown_one_trial_goes_through_and_its_success_closes() {
        let breaker = Breaker::new(1, COOLDOWN);
        let now = Instant::now();
        fail_at(&breaker, now);
        let later = now + COOLDOWN;

        let trial = breaker.acquire_at(later).expect("the cool-down is over");
        assert!(
            breaker.acquire_at(later).is_err(),
            "only one trial at a time"
        );
        assert_eq!(trial.succeeded(), Change::Closed);

        assert!(breaker.acquire_at(later).is_ok());
    }

    #[test]
    fn a_failed_trial_opens_for_another_cooldown() {
        let breaker = Breaker::new(1, COOLDOWN);
        let now = Instant::now();
        fail_at(&breaker, now);

        let trial = breaker
            .acquire_at(now + COOLDOWN)
            .expect("the cool-down is over");
        assert_eq!(trial.failed(), Change::Opened);

        assert!(breaker.acquire_at(now + COOLDOWN).is_err());
    }

    #[test]
    fn an_abandoned_trial_lets_the_next_request_try() {
        let breaker = Breaker::new(1, COOLDOWN);
        let now = Instant::now();
        fail_at(&breaker, now);

        drop(
            breaker
                .acquire_at(now + COOLDOWN)
                .expect("the cool-down is over"),
        );

        assert!(breaker.acquire().is_ok());
    }
}
