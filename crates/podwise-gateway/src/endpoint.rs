//! One operation of the gateway's API: the route that serves it and what the OpenAPI
//! document says of it. The table of them in `routes.rs` is the single source of both, so
//! the document cannot drift from what is served.

use actix_web::Route;
use actix_web::http::Method;
use utoipa::openapi::path::Parameter;
use utoipa::openapi::{RefOr, Schema};
use utoipa::{IntoParams, ToSchema};

/// Who may call an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    Public,
    /// The listener's own bearer token.
    Listener,
    /// An operator API key.
    Operator,
    /// Public, but a listener's token makes it personal (a question with a `user_id`).
    OptionalListener,
}

/// A JSON body's schema, and the schemas it refers to (collected into the components).
pub(crate) type SchemaOf = fn(&mut Vec<(String, RefOr<Schema>)>) -> (String, RefOr<Schema>);

/// What the request carries.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Body {
    Json(SchemaOf),
    /// `multipart/form-data`, with its fields described in words.
    Multipart(&'static str),
}

/// How the API document describes one operation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Doc {
    pub tag: &'static str,
    pub summary: &'static str,
    pub access: Access,
    pub body: Option<Body>,
    pub query: Option<fn() -> Vec<Parameter>>,
    /// The status, media type and description of a successful answer.
    pub answer: (u16, &'static str, &'static str),
}

pub(crate) struct Endpoint {
    pub method: Method,
    /// The actix path, which may hold a pattern (`{key:.+}`).
    pub path: &'static str,
    pub route: fn() -> Route,
    pub doc: Doc,
}

impl Endpoint {
    /// A public operation answering JSON with 200.
    pub(crate) fn new(
        method: Method,
        path: &'static str,
        route: fn() -> Route,
        tag: &'static str,
        summary: &'static str,
    ) -> Self {
        Self {
            method,
            path,
            route,
            doc: Doc {
                tag,
                summary,
                access: Access::Public,
                body: None,
                query: None,
                answer: (200, "application/json", "the result"),
            },
        }
    }

    pub(crate) fn access(mut self, access: Access) -> Self {
        self.doc.access = access;
        self
    }

    pub(crate) fn json<T: ToSchema>(mut self) -> Self {
        self.doc.body = Some(Body::Json(schema_of::<T>));
        self
    }

    pub(crate) fn multipart(mut self, fields: &'static str) -> Self {
        self.doc.body = Some(Body::Multipart(fields));
        self
    }

    pub(crate) fn query<Q: IntoParams>(mut self) -> Self {
        self.doc.query = Some(query_of::<Q>);
        self
    }

    pub(crate) fn answers(
        mut self,
        status: u16,
        media_type: &'static str,
        description: &'static str,
    ) -> Self {
        self.doc.answer = (status, media_type, description);
        self
    }

    /// The path as OpenAPI writes it: `{key:.+}` becomes `{key}`.
    pub(crate) fn openapi_path(&self) -> String {
        let mut path = String::with_capacity(self.path.len());
        let (mut in_braces, mut in_pattern) = (false, false);
        for c in self.path.chars() {
            match c {
                '{' => in_braces = true,
                ':' if in_braces => in_pattern = true,
                '}' => (in_braces, in_pattern) = (false, false),
                _ => {}
            }
            if !in_pattern {
                path.push(c);
            }
        }
        path
    }

    /// The names of the path's parameters, in order.
    pub(crate) fn path_parameters(&self) -> Vec<String> {
        let path = self.openapi_path();
        path.split('{')
            .skip(1)
            .filter_map(|part| part.split_once('}').map(|(name, _)| name.to_owned()))
            .collect()
    }
}

fn schema_of<T: ToSchema>(
    components: &mut Vec<(String, RefOr<Schema>)>,
) -> (String, RefOr<Schema>) {
    T::schemas(components);
    (T::name().into_owned(), T::schema())
}

fn query_of<Q: IntoParams>() -> Vec<Parameter> {
    Q::into_params(|| None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(path: &'static str) -> Endpoint {
        Endpoint::new(Method::GET, path, actix_web::web::get, "t", "s")
    }

    #[test]
    fn actix_patterns_become_plain_openapi_parameters() {
        let signed = at("/api/v1/objects/{key:.+}");
        assert_eq!(signed.openapi_path(), "/api/v1/objects/{key}");
        assert_eq!(signed.path_parameters(), ["key"]);
        let two = at("/api/v1/users/{user_id}/things/{id}");
        assert_eq!(two.openapi_path(), "/api/v1/users/{user_id}/things/{id}");
        assert_eq!(two.path_parameters(), ["user_id", "id"]);
        assert!(at("/health").path_parameters().is_empty());
    }
}
