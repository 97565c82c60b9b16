//! The OpenAPI 3 document of the gateway, made from the route table (`routes.rs`) with
//! the request schemas derived from the handlers' own body and query types, served at
//! `GET /api/openapi.json`; and `GET /api/docs`, a page that lists the operations and
//! sends requests to them from the browser.
//!
//! Answers are described in words rather than schemas: their JSON is assembled by the
//! handlers. Every error has the one shape of `ApiError`, the `Error` component.

use std::sync::OnceLock;

use actix_web::HttpResponse;
use actix_web::http::header;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder};
use utoipa::openapi::security::{SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, InfoBuilder, ObjectBuilder, OpenApi, OpenApiBuilder,
    PathItem, PathsBuilder, Ref, RefOr, Required, ResponseBuilder, ResponsesBuilder, Schema, Type,
};

use crate::endpoint::{Access, Body, Endpoint};
use crate::routes::endpoints;

const EXPLORER_HTML: &str = include_str!("../web/api-explorer.html");
const EXPLORER_SCRIPT: &str = include_str!("../web/api-explorer.js");

pub(crate) async fn document() -> HttpResponse {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    let json = DOCUMENT.get_or_init(|| {
        build(&endpoints())
            .to_pretty_json()
            .unwrap_or_else(|error| format!("{{\"error\": \"{error}\"}}"))
    });
    HttpResponse::Ok()
        .content_type("application/json")
        .body(json.as_str())
}

pub(crate) async fn explorer() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'",
        ))
        .body(EXPLORER_HTML)
}

pub(crate) async fn explorer_script() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .body(EXPLORER_SCRIPT)
}

/// The document for `endpoints`.
pub(crate) fn build(endpoints: &[Endpoint]) -> OpenApi {
    let mut schemas: Vec<(String, RefOr<Schema>)> = Vec::new();
    let mut paths = PathsBuilder::new();
    for endpoint in endpoints {
        let operation = operation(endpoint, &mut schemas);
        paths = paths.path(
            endpoint.openapi_path(),
            PathItem::new(http_method(&endpoint.method), operation),
        );
    }
    schemas.push(("Error".to_owned(), error_schema()));
    schemas.sort_by(|a, b| a.0.cmp(&b.0));
    schemas.dedup_by(|a, b| a.0 == b.0);
    let components = ComponentsBuilder::new()
        .schemas_from_iter(schemas)
        .security_scheme(
            "listener",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("the token `POST /api/v1/users` issued"))
                    .build(),
            ),
        )
        .security_scheme(
            "operator",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("one of PODWISE_OPERATOR_KEYS"))
                    .build(),
            ),
        )
        .security_scheme(
            "operator_header",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-Podwise-Operator-Key"))),
        )
        .build();
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("Podwise")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "Podcast intelligence for listeners in Taiwan: browse, ask with cited \
                     episodes and moments, recommendations, speech in and out, ingestion.",
                ))
                .build(),
        )
        .paths(paths.build())
        .components(Some(components))
        .build()
}

fn operation(
    endpoint: &Endpoint,
    schemas: &mut Vec<(String, RefOr<Schema>)>,
) -> utoipa::openapi::path::Operation {
    let doc = &endpoint.doc;
    let mut operation = OperationBuilder::new()
        .tag(doc.tag)
        .summary(Some(doc.summary))
        .operation_id(Some(operation_id(endpoint)));
    for name in endpoint.path_parameters() {
        operation = operation.parameter(
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .schema(Some(ObjectBuilder::new().schema_type(Type::String))),
        );
    }
    if let Some(query) = doc.query {
        for mut parameter in query() {
            parameter.parameter_in = ParameterIn::Query;
            operation = operation.parameter(parameter);
        }
    }
    match doc.body {
        Some(Body::Json(schema_of)) => {
            let (name, schema) = schema_of(schemas);
            schemas.push((name.clone(), schema));
            operation = operation.request_body(Some(
                RequestBodyBuilder::new()
                    .required(Some(Required::True))
                    .content(
                        "application/json",
                        ContentBuilder::new()
                            .schema(Some(Ref::from_schema_name(name)))
                            .build(),
                    )
                    .build(),
            ));
        }
        Some(Body::Multipart(fields)) => {
            operation = operation.request_body(Some(
                RequestBodyBuilder::new()
                    .required(Some(Required::True))
                    .description(Some(fields))
                    .content(
                        "multipart/form-data",
                        ContentBuilder::new()
                            .schema(Some(ObjectBuilder::new().schema_type(Type::Object)))
                            .build(),
                    )
                    .build(),
            ));
        }
        None => {}
    }
    let security = match doc.access {
        Access::Public => None,
        Access::Listener => Some(vec![SecurityRequirement::new("listener", [""; 0])]),
        Access::OptionalListener => Some(vec![
            SecurityRequirement::default(),
            SecurityRequirement::new("listener", [""; 0]),
        ]),
        Access::Operator => Some(vec![
            SecurityRequirement::new("operator", [""; 0]),
            SecurityRequirement::new("operator_header", [""; 0]),
        ]),
    };
    if let Some(security) = security {
        operation = operation.securities(Some(security));
    }
    operation.responses(responses(endpoint)).build()
}

/// The success answer, then every error this operation can give, by its kind.
fn responses(endpoint: &Endpoint) -> utoipa::openapi::Responses {
    let doc = &endpoint.doc;
    let (status, media_type, description) = doc.answer;
    let mut responses = ResponsesBuilder::new().response(
        status.to_string(),
        ResponseBuilder::new()
            .description(description)
            .content(media_type, ContentBuilder::new().build()),
    );
    let api = endpoint.path.starts_with("/api/v1/") || endpoint.path.starts_with("/v1/");
    let mut errors: Vec<(u16, &str)> = Vec::new();
    if doc.body.is_some() || doc.query.is_some() {
        errors.push((400, "the request is malformed; the message says how"));
    }
    match doc.access {
        Access::Listener | Access::OptionalListener => {
            errors.push((401, "no valid bearer token"));
            errors.push((403, "the token is another listener's"));
        }
        Access::Operator => errors.push((401, "no valid operator key")),
        Access::Public => {}
    }
    if !endpoint.path_parameters().is_empty() {
        errors.push((404, "no such record"));
    }
    if let Some(body) = doc.body {
        errors.push((413, "the body is larger than this route takes"));
        if matches!(body, Body::Json(_)) {
            errors.push((415, "the body is not JSON"));
            errors.push((422, "the JSON does not fit this route"));
        } else {
            errors.push((415, "the upload is not audio of a known format"));
        }
    }
    if api {
        errors.push((429, "too many requests; see Retry-After"));
        errors.push((503, "a service or store is down or busy; see Retry-After"));
    }
    for (status, description) in errors {
        responses = responses.response(
            status.to_string(),
            ResponseBuilder::new().description(description).content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("Error")))
                    .build(),
            ),
        );
    }
    responses.build()
}

fn error_schema() -> RefOr<Schema> {
    let text = || ObjectBuilder::new().schema_type(Type::String);
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .property(
            "code",
            text().description(Some("stable, for programs: `not_found`, ...")),
        )
        .property(
            "message",
            text().description(Some("for people: what went wrong")),
        )
        .property(
            "details",
            ObjectBuilder::new().description(Some("more about it, on some errors")),
        )
        .required("code")
        .required("message")
        .into()
}

/// `get_api_v1_podcasts_id_episodes` and the like: unique, and stable across versions.
fn operation_id(endpoint: &Endpoint) -> String {
    let path: String = endpoint
        .openapi_path()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let path: Vec<&str> = path.split('_').filter(|part| !part.is_empty()).collect();
    format!(
        "{}_{}",
        endpoint.method.as_str().to_lowercase(),
        path.join("_")
    )
}

fn http_method(method: &actix_web::http::Method) -> HttpMethod {
    match method.as_str() {
        "POST" => HttpMethod::Post,
        "PUT" => HttpMethod::Put,
        "DELETE" => HttpMethod::Delete,
        "PATCH" => HttpMethod::Patch,
        "HEAD" => HttpMethod::Head,
        _ => HttpMethod::Get,
    }
}
