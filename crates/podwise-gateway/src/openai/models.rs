//! `GET /v1/models`: the chat and embedding models the LLM service can serve now, as
//! OpenAI's model list, with Podwise's own `kind`, `context_length` and `dimensions`
//! where the service reports them, and `podwise-rag`, the library's cited answers.

use actix_web::{HttpRequest, HttpResponse, web};
use podwise_proto::llm::v1::{ListModelsRequest, ModelInfo, ModelKind};
use serde::Serialize;

use crate::AppState;
use crate::api_error::ApiError;
use crate::openai::{grpc_request, llm_client};

pub(crate) async fn models(
    state: web::Data<AppState>,
    http: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let reply = llm_client(&state)
        .list_models(grpc_request(&http, ListModelsRequest {}))
        .await?
        .into_inner();
    let mut data: Vec<Model> = reply.models.into_iter().map(Model::from).collect();
    data.push(Model {
        id: super::chat::LIBRARY_MODEL.to_owned(),
        object: "model",
        created: 0,
        owned_by: "podwise".to_owned(),
        kind: Some("chat"),
        context_length: None,
        dimensions: None,
    });
    Ok(HttpResponse::Ok().json(ModelList {
        object: "list",
        data,
    }))
}

#[derive(Debug, Serialize)]
struct ModelList {
    object: &'static str,
    data: Vec<Model>,
}

/// One OpenAI `model` object.
#[derive(Debug, Serialize)]
struct Model {
    id: String,
    object: &'static str,
    /// The service does not know when a model was made; 0 says so rather than invent a
    /// date.
    created: u64,
    owned_by: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    context_length: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dimensions: Option<u32>,
}

impl From<ModelInfo> for Model {
    fn from(info: ModelInfo) -> Self {
        let kind = match info.kind() {
            ModelKind::Chat => Some("chat"),
            ModelKind::Embedding => Some("embedding"),
            ModelKind::Unspecified => None,
        };
        Self {
            id: info.id,
            object: "model",
            created: 0,
            owned_by: info.owned_by,
            kind,
            // Zero is proto3's "not set".
            context_length: (info.context_length > 0).then_some(info.context_length),
            dimensions: (info.dimensions > 0).then_some(info.dimensions),
        }
    }
}
