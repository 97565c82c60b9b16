//! Who is calling: a listener, by the bearer token issued with their user id, or an
//! operator, by one of the API keys in `PODWISE_OPERATOR_KEYS`.
//!
//! Both are actix extractors, so a handler states what it needs in its signature:
//! `Listener` for personal routes (`Result<Listener, ApiError>` where anonymous callers
//! are served too, keeping the reason a token failed) and `Operator` for ingestion,
//! training and admin. A missing or unknown credential
//! is 401 with `WWW-Authenticate`; a listener acting on someone else's data is 403.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use podwise_common::ServiceError;
use secrecy::{ExposeSecret as _, SecretString};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use crate::AppState;
use crate::api_error::ApiError;

/// Operators may also send their key in this header, so a listener token and an operator
/// key can travel in one request without ambiguity.
pub const OPERATOR_KEY_HEADER: &str = "x-podwise-operator-key";

/// A caller proven to be the listener `user_id`.
#[derive(Debug, Clone)]
pub struct Listener {
    pub user_id: String,
}

impl Listener {
    /// Refuses unless the route's `user_id` is this listener's own.
    pub fn require_self(&self, user_id: &str) -> Result<(), ApiError> {
        if self.user_id == user_id {
            Ok(())
        } else {
            Err(
                ServiceError::PermissionDenied("this token belongs to another listener".into())
                    .into(),
            )
        }
    }
}

impl FromRequest for Listener {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(request: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let token = bearer_token(request);
        let state = request.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let token = token
                .ok_or_else(|| unauthenticated("this route needs the listener's bearer token"))?;
            let state = state.ok_or_else(|| internal("the gateway state is missing"))?;
            match state.catalog.authenticate(token.expose_secret()).await {
                Ok(Some(user_id)) => Ok(Self { user_id }),
                Ok(None) => Err(unauthenticated("the bearer token is unknown or revoked")),
                Err(error) => Err(ServiceError::from(error).into()),
            }
        })
    }
}

/// A caller holding one of the operator API keys.
#[derive(Debug, Clone, Copy)]
pub struct Operator;

impl FromRequest for Operator {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(request: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        std::future::ready(operator(request))
    }
}

fn operator(request: &HttpRequest) -> Result<Operator, ApiError> {
    let state = request
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| internal("the gateway state is missing"))?;
    let keys = &state.settings.api.operator_keys;
    if keys.is_empty() {
        return Err(ServiceError::PermissionDenied(
            "operator routes are closed: no PODWISE_OPERATOR_KEYS are configured".into(),
        )
        .into());
    }
    let presented = request
        .headers()
        .get(OPERATOR_KEY_HEADER)
        .and_then(|value| value.to_str().ok())
        .map(|key| SecretString::from(key.trim().to_owned()))
        .or_else(|| bearer_token(request))
        .ok_or_else(|| unauthenticated("this route needs an operator API key"))?;
    if is_operator_key(keys, &presented) {
        Ok(Operator)
    } else {
        Err(unauthenticated("the operator API key is not valid"))
    }
}

/// Compares digests in constant time and checks every key, so neither the time taken
/// nor the number of keys tried tells a caller how close a guess was.
fn is_operator_key(keys: &[SecretString], presented: &SecretString) -> bool {
    let presented = Sha256::digest(presented.expose_secret().as_bytes());
    keys.iter().fold(false, |found, key| {
        let key = Sha256::digest(key.expose_secret().as_bytes());
        found | bool::from(key.ct_eq(&presented))
    })
}

/// The token of an `Authorization: Bearer <token>` header, if there is one.
fn bearer_token(request: &HttpRequest) -> Option<SecretString> {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty())
        .then(|| SecretString::from(token.to_owned()))
}

fn unauthenticated(message: &str) -> ApiError {
    ServiceError::Unauthenticated(message.to_owned()).into()
}

fn internal(message: &'static str) -> ApiError {
    ServiceError::Internal(anyhow::anyhow!(message)).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(values: &[&str]) -> Vec<SecretString> {
        values
            .iter()
            .map(|value| SecretString::from((*value).to_owned()))
            .collect()
    }

    #[test]
    fn any_configured_key_opens_and_nothing_else_does() {
        let configured = keys(&["first-operator-key", "second-operator-key"]);
        for good in ["first-operator-key", "second-operator-key"] {
            assert!(is_operator_key(&configured, &SecretString::from(good)));
        }
        for bad in [
            "",
            "first-operator-ke",
            "first-operator-key ",
            "FIRST-OPERATOR-KEY",
        ] {
            assert!(
                !is_operator_key(&configured, &SecretString::from(bad)),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn only_a_bearer_scheme_with_a_token_counts() {
        let token = |value: &str| {
            let request = actix_web::test::TestRequest::default()
                .insert_header((header::AUTHORIZATION, value))
                .to_http_request();
            bearer_token(&request).map(|t| t.expose_secret().to_owned())
        };
        assert_eq!(token("Bearer abc").as_deref(), Some("abc"));
        assert_eq!(token("bearer  abc ").as_deref(), Some("abc"));
        assert_eq!(token("Basic abc"), None);
        assert_eq!(token("Bearer "), None);
        assert_eq!(token("Bearer"), None);
    }
}
