//! The environment variables Podwise reads, and where each lands in the settings tree.
//!
//! The names of the deployment guide are a contract with operators: they must keep
//! working unchanged. Names starting with `PODWISE_` are the project's own additions.
//! A configuration file uses the tree keys (`[postgres] host = "..."`) instead.

/// Every recognised variable paired with its key in the settings tree.
pub const VARIABLES: &[(&str, &str)] = &[
    // Application identity and logging.
    ("APP_NAME", "app.name"),
    ("APP_VERSION", "app.version"),
    ("ENVIRONMENT", "app.environment"),
    ("DEBUG_MODE", "app.debug_mode"),
    ("LOG_LEVEL", "log.level"),
    ("PODWISE_LOG_FORMAT", "log.format"),
    ("OTEL_EXPORTER_OTLP_ENDPOINT", "telemetry.otlp_endpoint"),
    // Which store adapters run: "embedded", "cluster", or unset to decide from the rest.
    ("PODWISE_PROFILE", "profile"),
    ("PODWISE_DATA_DIR", "paths.data_dir"),
    ("PODWISE_MODEL_DIR", "paths.model_dir"),
    // How each service listens and shuts down.
    ("PODWISE_BIND_HOST", "server.bind_host"),
    ("PODWISE_SHUTDOWN_GRACE_SECS", "server.shutdown_grace_secs"),
    ("PODWISE_WORKER_THREADS", "server.worker_threads"),
    // The gateway.
    ("API_HOST", "api.host"),
    ("API_PORT", "api.port"),
    ("PODWISE_MAX_BODY_BYTES", "api.max_body_bytes"),
    ("PODWISE_READY_TIMEOUT_MS", "api.ready_timeout_ms"),
    ("PODWISE_OPERATOR_KEYS", "api.operator_keys"),
    ("PODWISE_RATE_LIMIT_PER_IP", "api.rate_limit_per_ip"),
    ("PODWISE_RATE_LIMIT_PER_TOKEN", "api.rate_limit_per_token"),
    ("PODWISE_RATE_LIMIT_BURST", "api.rate_limit_burst"),
    ("PODWISE_TRUST_FORWARDED_FOR", "api.trust_forwarded_for"),
    ("PODWISE_CORS_ORIGINS", "api.cors_origins"),
    // The five gRPC services: clients use the URL (or host and port); each service binds
    // its own port.
    ("RAG_URL", "services.rag.url"),
    ("RAG_HOST", "services.rag.host"),
    ("RAG_PORT", "services.rag.port"),
    ("RAG_TIMEOUT_MS", "services.rag.timeout_ms"),
    ("ML_URL", "services.ml.url"),
    ("ML_HOST", "services.ml.host"),
    ("ML_PORT", "services.ml.port"),
    ("ML_TIMEOUT_MS", "services.ml.timeout_ms"),
    ("TTS_URL", "services.tts.url"),
    ("TTS_HOST", "services.tts.host"),
    ("TTS_PORT", "services.tts.port"),
    ("TTS_TIMEOUT_MS", "services.tts.timeout_ms"),
    ("STT_URL", "services.stt.url"),
    ("STT_HOST", "services.stt.host"),
    ("STT_PORT", "services.stt.port"),
    ("STT_TIMEOUT_MS", "services.stt.timeout_ms"),
    ("LLM_URL", "services.llm.url"),
    ("LLM_HOST", "services.llm.host"),
    ("LLM_PORT", "services.llm.port"),
    ("LLM_TIMEOUT_MS", "services.llm.timeout_ms"),
    // PostgreSQL (the catalog). DATABASE_URL wins over the parts.
    ("DATABASE_URL", "postgres.url"),
    ("POSTGRES_HOST", "postgres.host"),
    ("POSTGRES_PORT", "postgres.port"),
    ("POSTGRES_DB", "postgres.db"),
    ("POSTGRES_USER", "postgres.user"),
    ("POSTGRES_PASSWORD", "postgres.password"),
    // MongoDB (documents). MONGO_URI wins over the parts.
    ("MONGO_URI", "mongo.uri"),
    ("MONGO_HOST", "mongo.host"),
    ("MONGO_PORT", "mongo.port"),
    ("MONGO_DB", "mongo.db"),
    ("MONGO_USER", "mongo.user"),
    ("MONGO_PASSWORD", "mongo.password"),
    // Milvus (vectors).
    ("MILVUS_HOST", "milvus.host"),
    ("MILVUS_PORT", "milvus.port"),
    ("MILVUS_COLLECTION", "milvus.collection"),
    // MinIO or any S3 server (objects).
    ("MINIO_HOST", "minio.host"),
    ("MINIO_PORT", "minio.port"),
    ("MINIO_ACCESS_KEY", "minio.access_key"),
    ("MINIO_SECRET_KEY", "minio.secret_key"),
    ("MINIO_SECURE", "minio.secure"),
    ("MINIO_BUCKET", "minio.bucket"),
    ("MINIO_REGION", "minio.region"),
    // Signed object URLs handed to listeners (previews, audio).
    ("PODWISE_PUBLIC_URL", "objects.public_url"),
    ("PODWISE_OBJECT_URL_SECRET", "objects.url_secret"),
    ("PODWISE_PRESIGN_TTL_SECS", "objects.presign_ttl_secs"),
    // Models.
    ("OPENAI_API_KEY", "openai.api_key"),
    ("PODWISE_LLM_CHAT_MODEL", "llm.chat_model"),
    ("PODWISE_LLM_EMBEDDING_MODEL", "llm.embedding_model"),
    ("PODWISE_LLM_BACKENDS", "llm.backends"),
    ("PODWISE_LLM_LOCAL", "llm.local"),
    ("PODWISE_LLM_THREADS", "llm.threads"),
    ("PODWISE_LLM_MAX_TOKENS", "llm.max_tokens"),
    ("PODWISE_LLM_QUEUE_DEPTH", "llm.queue_depth"),
    ("WHISPER_MODEL", "whisper.model"),
    ("WHISPER_DEVICE", "whisper.device"),
    ("WHISPER_COMPUTE_TYPE", "whisper.compute_type"),
    ("PODWISE_STT_THREADS", "stt.threads"),
    ("PODWISE_STT_QUEUE_DEPTH", "stt.queue_depth"),
    ("PODWISE_STT_MAX_UPLOAD_BYTES", "stt.max_upload_bytes"),
    ("PODWISE_STT_MAX_AUDIO_SECONDS", "stt.max_audio_seconds"),
    ("PODWISE_TTS_MAX_CHARS", "tts.max_chars"),
    ("PODWISE_TTS_THREADS", "tts.threads"),
    ("PODWISE_TTS_QUEUE_DEPTH", "tts.queue_depth"),
    ("PODWISE_TTS_ESPEAK", "tts.espeak_program"),
    // The name ONNX Runtime's loaders use for the library's path.
    ("ORT_DYLIB_PATH", "tts.onnxruntime_library"),
    ("PODWISE_TTS_CACHE", "tts.cache"),
    ("PODWISE_TTS_SENTENCE_PAUSE_MS", "tts.sentence_pause_ms"),
    // Ingestion and answers.
    ("PODWISE_RAG_ANSWERS", "rag.answers"),
    ("PODWISE_RAG_CHAT_MODEL", "rag.chat_model"),
    ("PODWISE_RAG_EMBEDDING_MODEL", "rag.embedding_model"),
    ("PODWISE_RAG_EMBEDDING_DIMENSION", "rag.embedding_dimension"),
    ("PODWISE_RAG_INGEST_WORKERS", "rag.ingest_workers"),
    ("PODWISE_RAG_INGEST_ATTEMPTS", "rag.ingest_attempts"),
    (
        "PODWISE_RAG_INGEST_RETRY_DELAY_MS",
        "rag.ingest_retry_delay_ms",
    ),
    ("PODWISE_RAG_MAX_QUESTION_CHARS", "rag.max_question_chars"),
    ("PODWISE_RAG_CITATIONS", "rag.citations"),
    ("PODWISE_RAG_MIN_RELEVANCE", "rag.min_relevance"),
    ("PODWISE_RAG_INDEX_SYNC_MS", "rag.index_sync_ms"),
    // The recommender.
    ("PODWISE_ML_WEIGHT_LIKED", "ml.weight_liked"),
    ("PODWISE_ML_WEIGHT_COMPLETED", "ml.weight_completed"),
    (
        "PODWISE_ML_WEIGHT_PREVIEW_PLAYED",
        "ml.weight_preview_played",
    ),
    ("PODWISE_ML_WEIGHT_SKIPPED", "ml.weight_skipped"),
    ("PODWISE_ML_WEIGHT_DISLIKED", "ml.weight_disliked"),
    ("PODWISE_ML_HALF_LIFE_DAYS", "ml.half_life_days"),
    ("PODWISE_ML_TRAIN_INTERVAL_SECS", "ml.train_interval_secs"),
    ("PODWISE_ML_FACTORS", "ml.factors"),
    ("PODWISE_ML_ITERATIONS", "ml.iterations"),
    ("PODWISE_ML_REGULARIZATION", "ml.regularization"),
    ("PODWISE_ML_CONFIDENCE", "ml.confidence"),
    ("PODWISE_ML_NEIGHBOURS", "ml.neighbours"),
    ("PODWISE_ML_MAX_PER_PODCAST", "ml.max_per_podcast"),
    ("PODWISE_ML_MAX_K", "ml.max_k"),
];

/// Variables whose presence alone means "talk to the cluster's stores".
pub const STORE_VARIABLES: &[&str] = &[
    "DATABASE_URL",
    "POSTGRES_HOST",
    "MONGO_URI",
    "MONGO_HOST",
    "MILVUS_HOST",
    "MINIO_HOST",
];

/// The tree key of a recognised variable.
pub fn key_of(variable: &str) -> Option<&'static str> {
    VARIABLES
        .iter()
        .find(|(name, _)| *name == variable)
        .map(|(_, key)| *key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_variable_and_key_is_listed_once() {
        let names: HashSet<_> = VARIABLES.iter().map(|(n, _)| n).collect();
        let keys: HashSet<_> = VARIABLES.iter().map(|(_, k)| k).collect();
        assert_eq!(names.len(), VARIABLES.len());
        assert_eq!(keys.len(), VARIABLES.len());
    }

    #[test]
    fn store_variables_are_recognised_variables() {
        for name in STORE_VARIABLES {
            assert!(key_of(name).is_some(), "{name} is not in VARIABLES");
        }
    }
}
