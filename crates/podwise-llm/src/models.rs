//! The models this service can serve, as `ListModels` and `GET /v1/models` report them.

/// What a model is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelKind {
    Chat,
    Embedding,
}

/// One entry of the model list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelInfo {
    /// The name a request uses to select the model.
    pub id: String,
    pub kind: ModelKind,
    /// `local` for a model run in-process, otherwise the remote backend's name.
    pub owned_by: String,
    /// Tokens of prompt plus reply the model can attend to; 0 when the backend does not say.
    pub context_length: u32,
    /// Vector length, for embedding models; 0 for chat models.
    pub dimensions: u32,
}
