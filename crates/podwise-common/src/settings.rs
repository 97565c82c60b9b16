//! The typed settings tree every service reads at start-up.
//!
//! Values come in layers (see [`sources`]) under the variable names of the deployment
//! guide (see [`contract`]). Parsing never stops at the first mistake: every bad value is
//! collected, so an operator fixes them all in one go.

pub mod contract;
mod parse;
pub mod sources;
#[cfg(test)]
mod tests;

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::{ExposeSecret as _, SecretString};

pub use sources::Sources;

/// Everything a Podwise service can be configured with.
#[derive(Debug, Clone)]
pub struct Settings {
    pub app: AppSettings,
    pub profile: Profile,
    pub log: LogSettings,
    pub telemetry: TelemetrySettings,
    pub paths: PathSettings,
    pub server: ServerSettings,
    pub api: ApiSettings,
    pub services: ServiceEndpoints,
    pub postgres: PostgresSettings,
    pub mongo: MongoSettings,
    pub milvus: MilvusSettings,
    pub minio: MinioSettings,
    pub objects: ObjectSettings,
    pub openai: OpenAiSettings,
    pub llm: LlmSettings,
    pub whisper: WhisperSettings,
    pub stt: SttSettings,
    pub tts: TtsSettings,
    pub rag: RagSettings,
    pub ml: MlSettings,
}

impl Settings {
    /// Loads settings from the process: config file, `.env`, environment.
    ///
    /// # Errors
    /// Returns every invalid or missing setting at once.
    pub fn load() -> Result<Self, SettingsError> {
        Self::load_from(&Sources::from_process())
    }

    /// Loads settings from explicit sources.
    ///
    /// # Errors
    /// Returns every invalid or missing setting at once.
    pub fn load_from(sources: &Sources) -> Result<Self, SettingsError> {
        parse::parse(sources)
    }
}

/// Which adapters back the four stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// Everything in-process or on local disk under the data directory: no setup.
    Embedded,
    /// PostgreSQL, MongoDB, Milvus and MinIO servers, by default at their Kubernetes
    /// service names in the `podwise` namespace.
    Cluster,
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Profile::Embedded => "embedded",
            Profile::Cluster => "cluster",
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Development,
    Staging,
    Production,
}

#[derive(Debug, Clone)]
pub struct AppSettings {
    pub name: String,
    pub version: String,
    pub environment: Environment,
    /// Extra diagnostics in logs and error details; never on in production.
    pub debug_mode: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// JSON in production or inside Kubernetes, readable text otherwise.
    Auto,
    Json,
    Pretty,
}

#[derive(Debug, Clone)]
pub struct LogSettings {
    /// A `tracing` filter directive such as `info` or `podwise_rag=debug,info`.
    /// `RUST_LOG`, when set, wins over it.
    pub level: String,
    pub format: LogFormat,
}

#[derive(Debug, Clone)]
pub struct TelemetrySettings {
    /// OTLP/gRPC collector; traces are exported only when it is set.
    pub otlp_endpoint: Option<String>,
}

#[derive(Debug, Clone)]
pub struct PathSettings {
    /// Root of the embedded stores (`./data` by default).
    pub data_dir: PathBuf,
    /// Where model files are fetched to and loaded from (`./models` by default).
    pub model_dir: PathBuf,
}

#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// Address the five gRPC services bind to (their port comes from `services`).
    pub bind_host: String,
    /// How long in-flight requests may take to finish after a stop signal.
    pub shutdown_grace: Duration,
    /// Tokio worker threads per process.
    pub worker_threads: usize,
}

#[derive(Debug, Clone)]
pub struct ApiSettings {
    pub host: String,
    pub port: u16,
    /// Default request body limit of the gateway; routes that take uploads set their own.
    pub max_body_bytes: usize,
    /// How long `/ready` waits for each service's health answer.
    pub ready_timeout: Duration,
    /// Keys that open the operator routes (ingestion, training, admin). None configured
    /// means those routes refuse everyone.
    pub operator_keys: Vec<SecretString>,
    pub rate_limits: RateLimits,
    /// Browser origins allowed to call the API from their pages (CORS): exact origins such
    /// as `https://podwise.example`, or `*` for any. Empty, the default, allows none.
    pub cors_origins: Vec<String>,
}

/// How many API requests a client may make, per client IP and per bearer token or
/// operator key. Health, metrics and the web UI's files are never limited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// Steady requests a minute from one client IP; 0 turns the limit off.
    pub per_ip_per_minute: u32,
    /// Steady requests a minute with one token or key; 0 turns the limit off.
    pub per_token_per_minute: u32,
    /// Requests a client may make at once above the steady rate, after a quiet spell.
    pub burst: u32,
    /// Take the client IP from `X-Forwarded-For`, for a gateway behind an ingress that
    /// sets it; otherwise every client would share the ingress's own address.
    pub trust_forwarded_for: bool,
}

impl ApiSettings {
    /// The address the gateway binds to.
    pub fn bind_address(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

/// How to reach one gRPC service, and the port it binds when it is the one running.
#[derive(Debug, Clone)]
pub struct ServiceEndpoint {
    /// `http://host:port` as clients use it; `<SVC>_URL` wins over host and port.
    pub url: String,
    pub port: u16,
    /// Deadline of each call to this service.
    pub timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct ServiceEndpoints {
    pub rag: ServiceEndpoint,
    pub ml: ServiceEndpoint,
    pub tts: ServiceEndpoint,
    pub stt: ServiceEndpoint,
    pub llm: ServiceEndpoint,
}

/// The five gRPC services, named as in their settings and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServiceName {
    Rag,
    Ml,
    Tts,
    Stt,
    Llm,
}

impl ServiceName {
    pub const ALL: [ServiceName; 5] = [Self::Rag, Self::Ml, Self::Tts, Self::Stt, Self::Llm];

    /// Short lower-case name: `rag`, `ml`, `tts`, `stt`, `llm`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rag => "rag",
            Self::Ml => "ml",
            Self::Tts => "tts",
            Self::Stt => "stt",
            Self::Llm => "llm",
        }
    }
}

impl fmt::Display for ServiceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl ServiceEndpoints {
    pub fn get(&self, service: ServiceName) -> &ServiceEndpoint {
        match service {
            ServiceName::Rag => &self.rag,
            ServiceName::Ml => &self.ml,
            ServiceName::Tts => &self.tts,
            ServiceName::Stt => &self.stt,
            ServiceName::Llm => &self.llm,
        }
    }

    pub fn get_mut(&mut self, service: ServiceName) -> &mut ServiceEndpoint {
        match service {
            ServiceName::Rag => &mut self.rag,
            ServiceName::Ml => &mut self.ml,
            ServiceName::Tts => &mut self.tts,
            ServiceName::Stt => &mut self.stt,
            ServiceName::Llm => &mut self.llm,
        }
    }
}

impl Settings {
    /// The socket address a gRPC service binds to.
    ///
    /// # Errors
    /// When `PODWISE_BIND_HOST` is not an IP address.
    pub fn bind_address(&self, service: ServiceName) -> Result<SocketAddr, SettingsError> {
        let port = self.services.get(service).port;
        format!("{}:{port}", self.server.bind_host)
            .parse()
            .map_err(|_| {
                SettingsError::single(
                    "PODWISE_BIND_HOST",
                    format!("'{}' is not an IP address", self.server.bind_host),
                )
            })
    }
}

#[derive(Debug, Clone)]
pub struct PostgresSettings {
    pub host: String,
    pub port: u16,
    pub db: String,
    pub user: String,
    pub password: Option<SecretString>,
    /// `DATABASE_URL`; wins over the parts when set.
    pub url: Option<SecretString>,
}

impl PostgresSettings {
    /// The connection URL: `DATABASE_URL` when set, otherwise built from the parts.
    pub fn connection_url(&self) -> SecretString {
        if let Some(url) = &self.url {
            return url.clone();
        }
        let password = self
            .password
            .as_ref()
            .map(|p| format!(":{}", percent_encode(p.expose_secret())))
            .unwrap_or_default();
        SecretString::from(format!(
            "postgres://{}{password}@{}:{}/{}",
            percent_encode(&self.user),
            self.host,
            self.port,
            self.db
        ))
    }
}

#[derive(Debug, Clone)]
pub struct MongoSettings {
    pub host: String,
    pub port: u16,
    pub db: String,
    pub user: Option<String>,
    pub password: Option<SecretString>,
    /// `MONGO_URI`; wins over the parts when set.
    pub uri: Option<SecretString>,
}

impl MongoSettings {
    /// The connection URI: `MONGO_URI` when set, otherwise built from the parts.
    pub fn connection_uri(&self) -> SecretString {
        if let Some(uri) = &self.uri {
            return uri.clone();
        }
        let credentials = match (&self.user, &self.password) {
            (Some(user), Some(password)) => format!(
                "{}:{}@",
                percent_encode(user),
                percent_encode(password.expose_secret())
            ),
            (Some(user), None) => format!("{}@", percent_encode(user)),
            (None, _) => String::new(),
        };
        SecretString::from(format!(
            "mongodb://{credentials}{}:{}",
            self.host, self.port
        ))
    }
}

/// Escapes the characters that would end a user or password inside a URL.
fn percent_encode(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for byte in raw.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[derive(Debug, Clone)]
pub struct MilvusSettings {
    pub host: String,
    pub port: u16,
    pub collection: String,
}

#[derive(Debug, Clone)]
pub struct MinioSettings {
    pub host: String,
    pub port: u16,
    pub access_key: Option<SecretString>,
    pub secret_key: Option<SecretString>,
    /// Use TLS to reach the server.
    pub secure: bool,
    pub bucket: String,
    pub region: String,
}

/// How object URLs for listeners are made.
#[derive(Debug, Clone)]
pub struct ObjectSettings {
    /// Base URL under which the gateway is reachable by listeners; signed URLs of the
    /// embedded object store point there.
    pub public_url: String,
    /// Key for signing embedded-store URLs. When unset, a random key is generated once
    /// and kept in the data directory, so every local process shares it.
    pub url_secret: Option<SecretString>,
    /// How long a signed or presigned URL stays valid.
    pub presign_ttl: Duration,
}

#[derive(Debug, Clone)]
pub struct OpenAiSettings {
    pub api_key: Option<SecretString>,
}

/// What the LLM service serves and in which order it asks its backends.
#[derive(Debug, Clone)]
pub struct LlmSettings {
    /// The local chat model: a GGUF file name under `<model_dir>/llm`, or a path.
    pub chat_model: String,
    /// The embedding models served, comma-separated, the default first
    /// (`multilingual-e5-small`, `all-MiniLM-L6-v2`).
    pub embedding_model: String,
    /// Remote OpenAI-compatible backends in the order they are tried; the syntax is
    /// parsed and documented by the LLM service (`podwise_llm::remote::settings`).
    pub backends: String,
    /// Where the local chat model stands among the backends.
    pub local: LocalPosition,
    /// Threads each local model computes with.
    pub threads: usize,
    /// The largest `max_tokens` a request may ask for; also the default.
    pub max_tokens: u32,
    /// Requests that may wait for the local engines before more get 503.
    pub queue_depth: usize,
}

/// Where the local chat model is tried relative to the remote backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalPosition {
    /// Before every remote backend.
    First,
    /// After every remote backend: the fallback when they all fail.
    Last,
    /// Not at all: the service serves remote chat only (embeddings stay local).
    Off,
}

#[derive(Debug, Clone)]
pub struct WhisperSettings {
    /// A model name known to the fetch script (`base`, `tiny.en`) or a path.
    pub model: String,
    /// Only `cpu` runs here; other values are refused by the STT service.
    pub device: String,
    pub compute_type: String,
}

/// How much audio the STT service accepts and how it shares the CPU.
#[derive(Debug, Clone)]
pub struct SttSettings {
    /// Threads the speech model computes with.
    pub threads: usize,
    /// Transcriptions that may wait for the model before more get 503.
    pub queue_depth: usize,
    /// The largest audio file accepted, in bytes, at the gateway and over gRPC.
    pub max_upload_bytes: usize,
    /// The longest recording transcribed, in seconds.
    pub max_audio_seconds: u32,
}

/// How much text the TTS service takes, where its engines are, and how it shares the CPU.
#[derive(Debug, Clone)]
pub struct TtsSettings {
    /// The longest text one request may carry, in characters (Unicode scalar values).
    pub max_chars: usize,
    /// Threads the neural English voice computes with.
    pub threads: usize,
    /// Syntheses that may be in progress or waiting at once before more get 503.
    pub queue_depth: usize,
    /// The espeak-ng program: a name looked up on the `PATH`, or a path.
    pub espeak_program: String,
    /// The ONNX Runtime library (`libonnxruntime.so.*`) the English voice runs on; unset,
    /// the one `scripts/fetch-models.sh` places under `<model_dir>/onnxruntime/`.
    pub onnxruntime_library: Option<PathBuf>,
    /// Keep synthesised audio in the object store and answer repeats from there.
    pub cache: bool,
    /// The silence put between two sentences.
    pub sentence_pause: Duration,
}

/// How the RAG service ingests shows and answers from them.
#[derive(Debug, Clone)]
pub struct RagSettings {
    /// How answers are written: by the LLM service from the cited passages, or assembled
    /// from the passages themselves with no language model, or chosen by what the LLM
    /// service offers.
    pub answers: AnswerStyle,
    /// The chat model answers are written with; empty selects the LLM service's default.
    pub chat_model: String,
    /// The embedding model chunks and questions are embedded with; empty selects the LLM
    /// service's default.
    pub embedding_model: String,
    /// Length of that model's vectors; the vector store is created with it.
    pub embedding_dimension: usize,
    /// Episodes ingested at the same time.
    pub ingest_workers: usize,
    /// Attempts an ingestion job gets, the first included.
    pub ingest_attempts: u32,
    /// Wait before an episode's second attempt; doubled for each one after.
    pub ingest_retry_delay: Duration,
    /// The longest question accepted, in characters.
    pub max_question_chars: usize,
    /// Citations an answer carries when the request does not say.
    pub citations: usize,
    /// The least relevance (0 to 1: similarity raised by the question's words the passage
    /// holds) a passage needs to be cited; below it the answer says the library does not
    /// cover the question.
    pub min_relevance: f32,
    /// How often the service looks in the catalog for episodes other replicas indexed,
    /// to load their chunks into its own word index.
    pub index_sync_interval: Duration,
}

/// How the RAG service writes its answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerStyle {
    /// Written by a remote model when the LLM service has one; extractive otherwise,
    /// since the small local model cannot be trusted to stay with the passages.
    Auto,
    /// The LLM service writes the answer; if it cannot, the extractive answer is given.
    Generated,
    /// The best passages, quoted with their moments, and no language model.
    Extractive,
}

/// How the recommender reads feedback, trains and ranks.
#[derive(Debug, Clone)]
pub struct MlSettings {
    /// What each kind of feedback is worth; negative kinds count against an episode.
    pub weights: FeedbackWeights,
    /// Feedback loses half its weight after this long (measured back from the newest
    /// event); `None` keeps every event at full weight.
    pub half_life: Option<Duration>,
    /// How often the model is retrained in the background; `None` trains only on demand.
    pub train_interval: Option<Duration>,
    /// Latent dimensions of the matrix factorisation.
    pub factors: usize,
    /// Alternating least-squares sweeps per training.
    pub iterations: usize,
    /// L2 penalty on the factors.
    pub regularization: f32,
    /// How much more a unit of feedback weight counts than an unobserved episode
    /// (the alpha of confidence-weighted ALS).
    pub confidence: f32,
    /// Neighbours kept per episode by the item-item model.
    pub neighbours: usize,
    /// Most episodes of one podcast in a list.
    pub max_per_podcast: usize,
    /// The largest `k` a request may ask for.
    pub max_k: u32,
}

/// The weight of each kind of feedback in the interaction matrix.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FeedbackWeights {
    pub liked: f32,
    pub completed: f32,
    pub preview_played: f32,
    pub skipped: f32,
    pub disliked: f32,
}

/// One setting that could not be accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingProblem {
    /// The environment variable that holds it.
    pub variable: String,
    pub problem: String,
}

/// Every problem found while loading settings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct SettingsError {
    pub problems: Vec<SettingProblem>,
}

impl SettingsError {
    pub fn single(variable: &str, problem: impl Into<String>) -> Self {
        Self {
            problems: vec![SettingProblem {
                variable: variable.to_owned(),
                problem: problem.into(),
            }],
        }
    }

    /// The variable names at fault, in the order found.
    pub fn variables(&self) -> Vec<&str> {
        self.problems.iter().map(|p| p.variable.as_str()).collect()
    }
}

impl fmt::Display for SettingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} invalid setting(s):", self.problems.len())?;
        for problem in &self.problems {
            let key = contract::key_of(&problem.variable)
                .map(|k| format!(" ({k})"))
                .unwrap_or_default();
            write!(f, "\n  {}{key}: {}", problem.variable, problem.problem)?;
        }
        Ok(())
    }
}
