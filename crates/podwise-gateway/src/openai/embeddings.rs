//! `POST /v1/embeddings`: texts embedded by the LLM service, answered as OpenAI's `list`
//! of `embedding` objects.
//!
//! Vectors come back as JSON numbers (`"encoding_format": "float"`, the default) or as
//! base64 of their little-endian `f32` bytes (`"base64"`, which the official Python
//! client asks for unless told otherwise). A Podwise extension, `input_type`, says
//! whether the texts are search queries (the default) or passages to be searched, which
//! e5-family models embed differently.

use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use podwise_common::ServiceError;
use podwise_proto::llm::v1::{EmbedRequest, EmbedResponse, EmbeddingKind};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::AppState;
use crate::api_error::ApiError;
use crate::openai::{grpc_request, llm_client};

/// An embeddings request as an OpenAI client sends it.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct EmbeddingsBody {
    /// A string or an array of strings; read as a value so token arrays get a clear 400.
    input: Value,
    /// Absent or empty selects the LLM service's default embedding model.
    model: Option<String>,
    encoding_format: Option<String>,
    dimensions: Option<u32>,
    input_type: Option<String>,
}

#[derive(Debug, Clone, Copy)]
enum Encoding {
    Float,
    Base64,
}

pub(crate) async fn embeddings(
    state: web::Data<AppState>,
    http: HttpRequest,
    body: web::Json<EmbeddingsBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let inputs = texts(body.input)?;
    let encoding = encoding(body.encoding_format.as_deref())?;
    let kind = kind(body.input_type.as_deref())?;
    if body.dimensions == Some(0) {
        return Err(invalid("dimensions must be at least 1").into());
    }
    let count = inputs.len();
    let request = EmbedRequest {
        model: body.model.unwrap_or_default(),
        inputs,
        kind: kind.into(),
    };

    let reply = llm_client(&state)
        .embed(grpc_request(&http, request))
        .await?
        .into_inner();
    // The model's dimension is known only once it has answered; vectors cannot be
    // shortened without renormalising them, so any other length is refused.
    if let Some(dimensions) = body.dimensions
        && dimensions != reply.dimensions
    {
        return Err(invalid(format!(
            "model {} makes {}-dimensional vectors; dimensions must be {} or left out",
            reply.model, reply.dimensions, reply.dimensions
        ))
        .into());
    }
    if reply.embeddings.len() != count {
        return Err(ServiceError::BadUpstream(format!(
            "the LLM service returned {} embeddings for {count} inputs",
            reply.embeddings.len()
        ))
        .into());
    }
    Ok(HttpResponse::Ok().json(EmbeddingList::new(reply, encoding)))
}

/// The texts of `input`: one string, or a non-empty array of strings.
fn texts(input: Value) -> Result<Vec<String>, ServiceError> {
    let token_ids = "input holds token ids; only text is accepted, as a string or an array \
                     of strings";
    let texts = match input {
        Value::String(text) => vec![text],
        Value::Array(items) if items.is_empty() => {
            return Err(invalid("input must hold at least one text"));
        }
        Value::Array(items) => items
            .into_iter()
            .map(|item| match item {
                Value::String(text) => Ok(text),
                Value::Number(_) | Value::Array(_) => Err(invalid(token_ids)),
                _ => Err(invalid("input must be a string or an array of strings")),
            })
            .collect::<Result<_, _>>()?,
        _ => return Err(invalid("input must be a string or an array of strings")),
    };
    match texts.iter().position(String::is_empty) {
        Some(index) => Err(invalid(format!("input[{index}] is empty"))),
        None => Ok(texts),
    }
}

fn encoding(format: Option<&str>) -> Result<Encoding, ServiceError> {
    match format {
        None | Some("float") => Ok(Encoding::Float),
        Some("base64") => Ok(Encoding::Base64),
        Some(other) => Err(invalid(format!(
            "encoding_format '{other}' is not one of float, base64"
        ))),
    }
}

fn kind(input_type: Option<&str>) -> Result<EmbeddingKind, ServiceError> {
    match input_type {
        None | Some("query") => Ok(EmbeddingKind::Query),
        Some("passage") => Ok(EmbeddingKind::Passage),
        Some(other) => Err(invalid(format!(
            "input_type '{other}' is not one of query, passage"
        ))),
    }
}

fn invalid(message: impl Into<String>) -> ServiceError {
    ServiceError::InvalidArgument(message.into())
}

/// OpenAI's answer: a `list` of `embedding` objects in input order.
#[derive(Debug, Serialize)]
struct EmbeddingList {
    object: &'static str,
    data: Vec<EmbeddingObject>,
    model: String,
    usage: EmbeddingUsage,
}

#[derive(Debug, Serialize)]
struct EmbeddingObject {
    object: &'static str,
    index: usize,
    embedding: Vector,
}

/// A vector as numbers or as one base64 string, as the request asked.
#[derive(Debug, Serialize)]
#[serde(untagged)]
enum Vector {
    Float(Vec<f32>),
    Base64(String),
}

#[derive(Debug, Serialize)]
struct EmbeddingUsage {
    prompt_tokens: u32,
    total_tokens: u32,
}

impl EmbeddingList {
    fn new(reply: EmbedResponse, encoding: Encoding) -> Self {
        let prompt_tokens = reply.usage.unwrap_or_default().prompt_tokens;
        let data = reply
            .embeddings
            .into_iter()
            .enumerate()
            .map(|(index, embedding)| EmbeddingObject {
                object: "embedding",
                index,
                embedding: match encoding {
                    Encoding::Float => Vector::Float(embedding.values),
                    Encoding::Base64 => Vector::Base64(base64_of(&embedding.values)),
                },
            })
            .collect();
        Self {
            object: "list",
            data,
            model: reply.model,
            usage: EmbeddingUsage {
                prompt_tokens,
                total_tokens: prompt_tokens,
            },
        }
    }
}

/// The little-endian bytes of `values`, base64-encoded, which is how OpenAI packs them.
fn base64_of(values: &[f32]) -> String {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    STANDARD.encode(bytes)
}
