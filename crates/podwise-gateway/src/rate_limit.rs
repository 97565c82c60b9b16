//! Request rate limits per client IP and per bearer token or operator key: a token bucket
//! each, refilled at the steady rate of the settings and holding at most the burst. A
//! request over either limit gets 429 with `Retry-After`, the seconds until it would pass.
//!
//! Only the API (`/api/...`, `/v1/...`) is limited: probes, metrics and the web UI's
//! files are not, nor CORS preflights, which carry no credentials. Buckets live in this
//! replica's memory, so with N replicas a client gets up to N times the rate: the limit
//! guards each replica from being flooded, it is not a billing quota.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, header};
use actix_web::middleware::Next;
use actix_web::{Error, ResponseError as _, web};
use podwise_common::ServiceError;
use podwise_common::metrics::metric_name;
use podwise_common::settings::RateLimits;
use sha2::{Digest as _, Sha256};

use crate::AppState;
use crate::api_error::ApiError;

/// Past this many tracked clients, idle buckets are dropped; a bucket that has refilled
/// to the burst holds nothing a fresh one would not.
const MAX_TRACKED_CLIENTS: usize = 50_000;

/// Who a bucket belongs to. Tokens are kept as a digest, never as the secret itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Client {
    Ip(IpAddr),
    Token([u8; 16]),
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// Every bucket of this replica, behind one lock: a check is a hash lookup and a few
/// arithmetic operations, far shorter than any request it guards.
#[derive(Debug)]
pub struct RateLimiter {
    limits: RateLimits,
    buckets: Mutex<HashMap<Client, Bucket>>,
}

impl RateLimiter {
    pub fn new(limits: RateLimits) -> Self {
        Self {
            limits,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request from the client's bucket, or says how long until one is there.
    fn take(&self, client: Client, per_minute: u32, now: Instant) -> Result<(), Duration> {
        if per_minute == 0 {
            return Ok(());
        }
        let per_second = f64::from(per_minute) / 60.0;
        let burst = f64::from(self.limits.burst.max(1));
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() >= MAX_TRACKED_CLIENTS && !buckets.contains_key(&client) {
            buckets.retain(|_, bucket| refilled(*bucket, now, per_second, burst) < burst);
        }
        let bucket = buckets.entry(client).or_insert(Bucket {
            tokens: burst,
            updated: now,
        });
        let tokens = refilled(*bucket, now, per_second, burst);
        if tokens >= 1.0 {
            *bucket = Bucket {
                tokens: tokens - 1.0,
                updated: now,
            };
            Ok(())
        } else {
            *bucket = Bucket {
                tokens,
                updated: now,
            };
            Err(Duration::from_secs_f64((1.0 - tokens) / per_second))
        }
    }
}

fn refilled(bucket: Bucket, now: Instant, per_second: f64, burst: f64) -> f64 {
    let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
    (bucket.tokens + elapsed * per_second).min(burst)
}

pub(crate) async fn limit(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let limited_path = request.path().starts_with("/api/") || request.path().starts_with("/v1/");
    if !limited_path || request.method() == Method::OPTIONS {
        return next
            .call(request)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    }
    let Some(state) = request.app_data::<web::Data<AppState>>().cloned() else {
        return next
            .call(request)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    };
    let limiter = &state.rate_limiter;
    let now = Instant::now();
    let ip = client_ip(&request, limiter.limits.trust_forwarded_for);
    let mut verdict = match ip {
        Some(ip) => limiter
            .take(Client::Ip(ip), limiter.limits.per_ip_per_minute, now)
            .map_err(|wait| ("ip", wait)),
        None => Ok(()),
    };
    if verdict.is_ok()
        && let Some(token) = credential(&request)
    {
        verdict = limiter
            .take(
                Client::Token(token),
                limiter.limits.per_token_per_minute,
                now,
            )
            .map_err(|wait| ("token", wait));
    }
    let Err((which, wait)) = verdict else {
        return next
            .call(request)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    };
    metrics::counter!(metric_name("gateway", "rate_limited_total"), "limit" => which).increment(1);
    // Whole seconds, rounded up, and at least one: what `Retry-After` can say.
    let retry_after = Duration::from_secs(wait.as_secs() + u64::from(wait.subsec_nanos() > 0));
    let retry_after = retry_after.max(Duration::from_secs(1));
    let whose = if which == "ip" {
        "this address"
    } else {
        "this token"
    };
    let error = ApiError::new(ServiceError::RateLimited {
        message: format!(
            "too many requests from {whose}; try again in {} s",
            retry_after.as_secs()
        ),
        retry_after,
    });
    let response = error.error_response();
    Ok(request.into_response(response))
}

/// The address the request came from: the last `X-Forwarded-For` entry when a trusted
/// ingress adds it (earlier entries are whatever the client claimed), else the peer.
fn client_ip(request: &ServiceRequest, trust_forwarded_for: bool) -> Option<IpAddr> {
    if trust_forwarded_for {
        let forwarded = request
            .headers()
            .get("x-forwarded-for")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.rsplit(',').next())
            .and_then(|last| last.trim().parse().ok());
        if forwarded.is_some() {
            return forwarded;
        }
    }
    request.peer_addr().map(|addr| addr.ip())
}

/// A digest of the bearer token or operator key the request carries, if any. Whether it
/// is valid does not matter here: guessing tokens is limited like using them.
fn credential(request: &ServiceRequest) -> Option<[u8; 16]> {
    let headers = request.headers();
    let secret = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .or_else(|| {
            headers
                .get("x-podwise-operator-key")
                .and_then(|value| value.to_str().ok())
        })?
        .trim();
    if secret.is_empty() {
        return None;
    }
    let digest = Sha256::digest(secret.as_bytes());
    let mut short = [0_u8; 16];
    short.copy_from_slice(&digest[..16]);
    Some(short)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(per_minute: u32, burst: u32) -> RateLimiter {
        RateLimiter::new(RateLimits {
            per_ip_per_minute: per_minute,
            per_token_per_minute: per_minute,
            burst,
            trust_forwarded_for: false,
        })
    }

    const CLIENT: Client = Client::Ip(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));

    #[test]
    fn a_burst_passes_then_the_steady_rate_holds() {
        let limiter = limiter(60, 3);
        let start = Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.take(CLIENT, 60, start), Ok(()));
        }
        let wait = limiter.take(CLIENT, 60, start).expect_err("over the burst");
        assert!(
            (wait.as_secs_f64() - 1.0).abs() < 1e-6,
            "one a second: {wait:?}"
        );
        let later = start + Duration::from_millis(1_000);
        assert_eq!(limiter.take(CLIENT, 60, later), Ok(()), "refilled by one");
        assert!(limiter.take(CLIENT, 60, later).is_err());
        // A long quiet spell refills to the burst, never beyond it.
        let much_later = later + Duration::from_secs(3600);
        for _ in 0..3 {
            assert_eq!(limiter.take(CLIENT, 60, much_later), Ok(()));
        }
        assert!(limiter.take(CLIENT, 60, much_later).is_err());
    }

    #[test]
    fn clients_have_buckets_of_their_own_and_zero_means_no_limit() {
        let limiter = limiter(60, 1);
        let now = Instant::now();
        let other = Client::Token([7; 16]);
        assert_eq!(limiter.take(CLIENT, 60, now), Ok(()));
        assert!(limiter.take(CLIENT, 60, now).is_err());
        assert_eq!(limiter.take(other, 60, now), Ok(()));
        for _ in 0..1000 {
            assert_eq!(limiter.take(CLIENT, 0, now), Ok(()));
        }
    }

    #[test]
    fn idle_clients_are_forgotten_when_too_many_are_tracked() {
        let limiter = limiter(60, 2);
        let start = Instant::now();
        for n in 0..MAX_TRACKED_CLIENTS {
            let client = Client::Token((n as u128).to_le_bytes());
            assert_eq!(limiter.take(client, 60, start), Ok(()));
        }
        let later = start + Duration::from_secs(10);
        assert_eq!(limiter.take(CLIENT, 60, later), Ok(()));
        let tracked = limiter.buckets.lock().expect("lock").len();
        assert_eq!(tracked, 1, "every refilled bucket was dropped");
    }
}
