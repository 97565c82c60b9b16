//! Cross-origin access for browser pages served elsewhere than the gateway.
//!
//! With `PODWISE_CORS_ORIGINS` empty (the default) the gateway sends no CORS headers, so
//! browsers keep other sites' pages from reading its answers; its own web UI is the same
//! origin and needs none. Listed origins (or `*`) may call every route with the listener's
//! bearer token; preflights are answered for an hour.

use actix_cors::Cors;
use actix_web::http::{Method, header};

/// The CORS middleware for the configured origins, or `None` when none are configured.
pub(crate) fn middleware(origins: &[String]) -> Option<Cors> {
    if origins.is_empty() {
        return None;
    }
    let cors = Cors::default()
        .allowed_methods([
            Method::GET,
            Method::HEAD,
            Method::POST,
            Method::PUT,
            Method::DELETE,
        ])
        .allowed_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            header::RANGE,
            header::HeaderName::from_static("x-request-id"),
        ])
        .expose_headers([
            header::HeaderName::from_static("x-request-id"),
            header::RETRY_AFTER,
            header::CONTENT_RANGE,
        ])
        .max_age(3600);
    if origins.iter().any(|origin| origin == "*") {
        return Some(cors.allow_any_origin().send_wildcard());
    }
    let allowed = origins.to_vec();
    // The gateway's own pages stay allowed too: a browser sends `Origin` on their POSTs.
    Some(cors.allowed_origin_fn(move |origin, request| {
        let Ok(origin) = origin.to_str() else {
            return false;
        };
        let own = request
            .headers()
            .get(header::HOST)
            .and_then(|host| host.to_str().ok())
            .is_some_and(|host| {
                origin
                    .split_once("://")
                    .is_some_and(|(_, rest)| rest == host)
            });
        own || allowed.iter().any(|allowed| allowed == origin)
    }))
}
