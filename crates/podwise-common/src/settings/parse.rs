//! Turns the merged layers into typed [`Settings`], applying defaults and collecting every
//! problem instead of stopping at the first.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use secrecy::SecretString;

use super::contract::STORE_VARIABLES;
use super::sources::{Layers, Sources};
use super::*;

const DEFAULT_PORTS: [(ServiceName, u16, Duration); 5] = [
    (ServiceName::Rag, 8001, Duration::from_secs(120)),
    (ServiceName::Ml, 8002, Duration::from_secs(10)),
    (ServiceName::Tts, 8003, Duration::from_secs(120)),
    (ServiceName::Stt, 8004, Duration::from_secs(300)),
    (ServiceName::Llm, 8005, Duration::from_secs(120)),
];

/// Shorter operator keys are refused: they guard ingestion and training.
const MIN_OPERATOR_KEY_LEN: usize = 16;

/// Suffix of the Kubernetes service DNS names in the `podwise` namespace.
const CLUSTER_DOMAIN: &str = "podwise.svc.cluster.local";

pub(super) fn parse(sources: &Sources) -> Result<Settings, SettingsError> {
    let layers =
        Layers::gather(sources).map_err(|e| SettingsError::single("PODWISE_CONFIG_FILE", e))?;
    let mut p = Parser {
        layers: &layers,
        problems: Vec::new(),
    };

    let profile = p.profile();
    let local = profile == Profile::Embedded;
    let default_bind = if local { "127.0.0.1" } else { "0.0.0.0" };
    let cluster_host = |name: &str| format!("{name}.{CLUSTER_DOMAIN}");

    let app = AppSettings {
        name: p.string("APP_NAME", "Podwise"),
        version: p.string("APP_VERSION", env!("CARGO_PKG_VERSION")),
        environment: p.parsed("ENVIRONMENT", Environment::Development, parse_environment),
        debug_mode: p.parsed("DEBUG_MODE", false, parse_bool),
    };
    if app.environment == Environment::Production && app.debug_mode {
        p.problem("DEBUG_MODE", "must be off when ENVIRONMENT is production");
    }

    let log = LogSettings {
        level: p.string("LOG_LEVEL", "info"),
        format: p.parsed("PODWISE_LOG_FORMAT", LogFormat::Auto, parse_log_format),
    };

    let telemetry = TelemetrySettings {
        otlp_endpoint: p.optional("OTEL_EXPORTER_OTLP_ENDPOINT"),
    };
    if let Some(endpoint) = &telemetry.otlp_endpoint {
        p.check_url(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            endpoint,
            &["http://", "https://"],
        );
    }

    let paths = PathSettings {
        data_dir: PathBuf::from(p.string("PODWISE_DATA_DIR", "./data")),
        model_dir: PathBuf::from(p.string("PODWISE_MODEL_DIR", "./models")),
    };

    let server = ServerSettings {
        bind_host: p.string("PODWISE_BIND_HOST", default_bind),
        shutdown_grace: Duration::from_secs(p.number("PODWISE_SHUTDOWN_GRACE_SECS", 20u64)),
        worker_threads: p.number("PODWISE_WORKER_THREADS", 2usize),
    };
    if server.bind_host.parse::<std::net::IpAddr>().is_err() {
        p.problem(
            "PODWISE_BIND_HOST",
            format!("'{}' is not an IP address", server.bind_host),
        );
    }
    if server.worker_threads == 0 {
        p.problem("PODWISE_WORKER_THREADS", "must be at least 1");
    }

    let api = ApiSettings {
        host: p.string("API_HOST", default_bind),
        port: p.number("API_PORT", 8000u16),
        max_body_bytes: p.number("PODWISE_MAX_BODY_BYTES", 1024 * 1024usize),
        ready_timeout: Duration::from_millis(p.number("PODWISE_READY_TIMEOUT_MS", 1000u64)),
        operator_keys: p.operator_keys(),
        rate_limits: RateLimits {
            per_ip_per_minute: p.number("PODWISE_RATE_LIMIT_PER_IP", 1200u32),
            per_token_per_minute: p.number("PODWISE_RATE_LIMIT_PER_TOKEN", 600u32),
            burst: p.number("PODWISE_RATE_LIMIT_BURST", 100u32),
            trust_forwarded_for: p.parsed("PODWISE_TRUST_FORWARDED_FOR", false, parse_bool),
        },
        cors_origins: p.cors_origins(),
    };
    if api.rate_limits.burst == 0 {
        p.problem("PODWISE_RATE_LIMIT_BURST", "must be at least 1");
    }

    let endpoint = |p: &mut Parser<'_>, service: ServiceName, port: u16, timeout: Duration| {
        let upper = service.as_str().to_uppercase();
        let default_host = if local {
            "127.0.0.1".to_owned()
        } else {
            cluster_host(service.as_str())
        };
        let host = p.string(&format!("{upper}_HOST"), &default_host);
        let port = p.number(&format!("{upper}_PORT"), port);
        let url = match p.optional(&format!("{upper}_URL")) {
            Some(url) => {
                p.check_url(&format!("{upper}_URL"), &url, &["http://", "https://"]);
                url.trim_end_matches('/').to_owned()
            }
            None => format!("http://{host}:{port}"),
        };
        let timeout_ms = p.number(&format!("{upper}_TIMEOUT_MS"), timeout.as_millis() as u64);
        ServiceEndpoint {
            url,
            port,
            timeout: Duration::from_millis(timeout_ms),
        }
    };
    let [rag, ml, tts, stt, llm] =
        DEFAULT_PORTS.map(|(service, port, timeout)| endpoint(&mut p, service, port, timeout));
    let services = ServiceEndpoints {
        rag,
        ml,
        tts,
        stt,
        llm,
    };

    let postgres = PostgresSettings {
        host: p.string("POSTGRES_HOST", &cluster_host("postgres")),
        port: p.number("POSTGRES_PORT", 5432u16),
        db: p.string("POSTGRES_DB", "podwise"),
        user: p.string("POSTGRES_USER", "podwise"),
        password: p.secret("POSTGRES_PASSWORD"),
        url: p.secret_url("DATABASE_URL", &["postgres://", "postgresql://"]),
    };

    let mongo = MongoSettings {
        host: p.string("MONGO_HOST", &cluster_host("mongodb")),
        port: p.number("MONGO_PORT", 27017u16),
        db: p.string("MONGO_DB", "podwise"),
        user: p.optional("MONGO_USER"),
        password: p.secret("MONGO_PASSWORD"),
        uri: p.secret_url("MONGO_URI", &["mongodb://", "mongodb+srv://"]),
    };

    let milvus = MilvusSettings {
        host: p.string("MILVUS_HOST", &cluster_host("milvus")),
        port: p.number("MILVUS_PORT", 19530u16),
        collection: p.string("MILVUS_COLLECTION", "podwise_chunks"),
    };

    let minio = MinioSettings {
        host: p.string("MINIO_HOST", &cluster_host("minio")),
        port: p.number("MINIO_PORT", 9000u16),
        access_key: p.secret("MINIO_ACCESS_KEY"),
        secret_key: p.secret("MINIO_SECRET_KEY"),
        secure: p.parsed("MINIO_SECURE", false, parse_bool),
        bucket: p.string("MINIO_BUCKET", "podwise"),
        region: p.string("MINIO_REGION", "us-east-1"),
    };
    if profile == Profile::Cluster {
        for name in ["MINIO_ACCESS_KEY", "MINIO_SECRET_KEY"] {
            if p.optional(name).is_none() {
                p.problem(name, "is required with the cluster profile");
            }
        }
    }

    let objects = ObjectSettings {
        public_url: p
            .string(
                "PODWISE_PUBLIC_URL",
                &format!("http://localhost:{}", api.port),
            )
            .trim_end_matches('/')
            .to_owned(),
        url_secret: p.secret("PODWISE_OBJECT_URL_SECRET"),
        presign_ttl: Duration::from_secs(p.number("PODWISE_PRESIGN_TTL_SECS", 3600u64)),
    };
    p.check_url(
        "PODWISE_PUBLIC_URL",
        &objects.public_url,
        &["http://", "https://"],
    );
    if objects.presign_ttl.is_zero() || objects.presign_ttl > Duration::from_secs(7 * 24 * 3600) {
        // S3 refuses presigned URLs valid for longer than seven days.
        p.problem(
            "PODWISE_PRESIGN_TTL_SECS",
            "must be between 1 and 604800 seconds",
        );
    }

    let openai = OpenAiSettings {
        api_key: p.secret("OPENAI_API_KEY"),
    };

    let llm = LlmSettings {
        chat_model: p.string("PODWISE_LLM_CHAT_MODEL", "SmolLM2-135M-Instruct.Q4_1.gguf"),
        embedding_model: p.string("PODWISE_LLM_EMBEDDING_MODEL", "multilingual-e5-small"),
        backends: p.string("PODWISE_LLM_BACKENDS", ""),
        local: p.parsed(
            "PODWISE_LLM_LOCAL",
            LocalPosition::Last,
            parse_local_position,
        ),
        threads: p.number("PODWISE_LLM_THREADS", 1usize),
        max_tokens: p.number("PODWISE_LLM_MAX_TOKENS", 1024u32),
        queue_depth: p.number("PODWISE_LLM_QUEUE_DEPTH", 16usize),
    };
    if llm.threads == 0 {
        p.problem("PODWISE_LLM_THREADS", "must be at least 1");
    }
    if llm.max_tokens == 0 {
        p.problem("PODWISE_LLM_MAX_TOKENS", "must be at least 1");
    }
    if llm.queue_depth == 0 {
        p.problem("PODWISE_LLM_QUEUE_DEPTH", "must be at least 1");
    }

    let whisper = WhisperSettings {
        model: p.string("WHISPER_MODEL", "base"),
        device: p.parsed("WHISPER_DEVICE", "cpu".to_owned(), parse_whisper_device),
        compute_type: p.parsed(
            "WHISPER_COMPUTE_TYPE",
            "default".to_owned(),
            parse_compute_type,
        ),
    };

    let stt = SttSettings {
        threads: p.number("PODWISE_STT_THREADS", 1usize),
        queue_depth: p.number("PODWISE_STT_QUEUE_DEPTH", 8usize),
        max_upload_bytes: p.number("PODWISE_STT_MAX_UPLOAD_BYTES", 25 * 1024 * 1024usize),
        max_audio_seconds: p.number("PODWISE_STT_MAX_AUDIO_SECONDS", 4 * 3600u32),
    };
    for (variable, value) in [
        ("PODWISE_STT_THREADS", stt.threads),
        ("PODWISE_STT_QUEUE_DEPTH", stt.queue_depth),
        ("PODWISE_STT_MAX_UPLOAD_BYTES", stt.max_upload_bytes),
        (
            "PODWISE_STT_MAX_AUDIO_SECONDS",
            stt.max_audio_seconds as usize,
        ),
    ] {
        if value == 0 {
            p.problem(variable, "must be at least 1");
        }
    }

    let tts = TtsSettings {
        max_chars: p.number("PODWISE_TTS_MAX_CHARS", 5000usize),
        threads: p.number("PODWISE_TTS_THREADS", 1usize),
        queue_depth: p.number("PODWISE_TTS_QUEUE_DEPTH", 8usize),
        espeak_program: p.string("PODWISE_TTS_ESPEAK", "espeak-ng"),
        onnxruntime_library: p.optional("ORT_DYLIB_PATH").map(PathBuf::from),
        cache: p.parsed("PODWISE_TTS_CACHE", true, parse_bool),
        sentence_pause: Duration::from_millis(p.number("PODWISE_TTS_SENTENCE_PAUSE_MS", 200u64)),
    };
    for (variable, value) in [
        ("PODWISE_TTS_MAX_CHARS", tts.max_chars),
        ("PODWISE_TTS_THREADS", tts.threads),
        ("PODWISE_TTS_QUEUE_DEPTH", tts.queue_depth),
    ] {
        if value == 0 {
            p.problem(variable, "must be at least 1");
        }
    }
    if tts.espeak_program.trim().is_empty() {
        p.problem("PODWISE_TTS_ESPEAK", "must name the espeak-ng program");
    }
    if tts.sentence_pause > Duration::from_secs(5) {
        p.problem("PODWISE_TTS_SENTENCE_PAUSE_MS", "must be at most 5000");
    }

    let rag = RagSettings {
        answers: p.parsed("PODWISE_RAG_ANSWERS", AnswerStyle::Auto, parse_answer_style),
        chat_model: p.string("PODWISE_RAG_CHAT_MODEL", ""),
        embedding_model: p.string("PODWISE_RAG_EMBEDDING_MODEL", ""),
        embedding_dimension: p.number("PODWISE_RAG_EMBEDDING_DIMENSION", 384usize),
        ingest_workers: p.number("PODWISE_RAG_INGEST_WORKERS", 2usize),
        ingest_attempts: p.number("PODWISE_RAG_INGEST_ATTEMPTS", 3u32),
        ingest_retry_delay: Duration::from_millis(
            p.number("PODWISE_RAG_INGEST_RETRY_DELAY_MS", 5_000u64),
        ),
        max_question_chars: p.number("PODWISE_RAG_MAX_QUESTION_CHARS", 1_000usize),
        citations: p.number("PODWISE_RAG_CITATIONS", 3usize),
        min_relevance: p.parsed("PODWISE_RAG_MIN_RELEVANCE", 0.75f32, parse_fraction),
        index_sync_interval: Duration::from_millis(p.number("PODWISE_RAG_INDEX_SYNC_MS", 5_000u64)),
    };
    if rag.index_sync_interval.is_zero() {
        p.problem("PODWISE_RAG_INDEX_SYNC_MS", "must be at least 1");
    }
    for (variable, value) in [
        ("PODWISE_RAG_EMBEDDING_DIMENSION", rag.embedding_dimension),
        ("PODWISE_RAG_INGEST_WORKERS", rag.ingest_workers),
        ("PODWISE_RAG_INGEST_ATTEMPTS", rag.ingest_attempts as usize),
        ("PODWISE_RAG_MAX_QUESTION_CHARS", rag.max_question_chars),
        ("PODWISE_RAG_CITATIONS", rag.citations),
    ] {
        if value == 0 {
            p.problem(variable, "must be at least 1");
        }
    }
    let ml = ml_settings(&mut p);

    if !p.problems.is_empty() {
        return Err(SettingsError {
            problems: p.problems,
        });
    }
    Ok(Settings {
        app,
        profile,
        log,
        telemetry,
        paths,
        server,
        api,
        services,
        postgres,
        mongo,
        milvus,
        minio,
        objects,
        openai,
        llm,
        whisper,
        stt,
        tts,
        rag,
        ml,
    })
}

fn ml_settings(p: &mut Parser<'_>) -> MlSettings {
    let weights = FeedbackWeights {
        liked: p.decimal("PODWISE_ML_WEIGHT_LIKED", 4.0),
        completed: p.decimal("PODWISE_ML_WEIGHT_COMPLETED", 3.0),
        preview_played: p.decimal("PODWISE_ML_WEIGHT_PREVIEW_PLAYED", 1.0),
        skipped: p.decimal("PODWISE_ML_WEIGHT_SKIPPED", -1.0),
        disliked: p.decimal("PODWISE_ML_WEIGHT_DISLIKED", -4.0),
    };
    for (variable, weight) in [
        ("PODWISE_ML_WEIGHT_LIKED", weights.liked),
        ("PODWISE_ML_WEIGHT_COMPLETED", weights.completed),
        ("PODWISE_ML_WEIGHT_PREVIEW_PLAYED", weights.preview_played),
    ] {
        if weight <= 0.0 {
            p.problem(variable, "must be above 0: it is a sign of interest");
        }
    }
    if weights.disliked > 0.0 {
        p.problem("PODWISE_ML_WEIGHT_DISLIKED", "must be 0 or below");
    }
    if weights.skipped > 0.0 {
        p.problem("PODWISE_ML_WEIGHT_SKIPPED", "must be 0 or below");
    }
    let half_life_days = p.decimal("PODWISE_ML_HALF_LIFE_DAYS", 90.0f32);
    if half_life_days < 0.0 {
        p.problem("PODWISE_ML_HALF_LIFE_DAYS", "must be 0 (no decay) or more");
    }
    let train_interval_secs = p.number("PODWISE_ML_TRAIN_INTERVAL_SECS", 3600u64);
    let ml = MlSettings {
        weights,
        half_life: (half_life_days > 0.0)
            .then(|| Duration::from_secs_f64(f64::from(half_life_days) * 86_400.0)),
        train_interval: (train_interval_secs > 0).then(|| Duration::from_secs(train_interval_secs)),
        factors: p.number("PODWISE_ML_FACTORS", 32usize),
        iterations: p.number("PODWISE_ML_ITERATIONS", 15usize),
        regularization: p.decimal("PODWISE_ML_REGULARIZATION", 30.0),
        confidence: p.decimal("PODWISE_ML_CONFIDENCE", 0.5),
        neighbours: p.number("PODWISE_ML_NEIGHBOURS", 100usize),
        max_per_podcast: p.number("PODWISE_ML_MAX_PER_PODCAST", 1usize),
        max_k: p.number("PODWISE_ML_MAX_K", 100u32),
    };
    for (variable, value) in [
        ("PODWISE_ML_FACTORS", ml.factors),
        ("PODWISE_ML_ITERATIONS", ml.iterations),
        ("PODWISE_ML_NEIGHBOURS", ml.neighbours),
        ("PODWISE_ML_MAX_PER_PODCAST", ml.max_per_podcast),
        ("PODWISE_ML_MAX_K", ml.max_k as usize),
    ] {
        if value == 0 {
            p.problem(variable, "must be at least 1");
        }
    }
    if ml.factors > 512 {
        p.problem("PODWISE_ML_FACTORS", "must be at most 512");
    }
    if ml.regularization < 0.0 {
        p.problem("PODWISE_ML_REGULARIZATION", "must be 0 or more");
    }
    if ml.confidence <= 0.0 {
        p.problem("PODWISE_ML_CONFIDENCE", "must be above 0");
    }
    ml
}

struct Parser<'a> {
    layers: &'a Layers,
    problems: Vec<SettingProblem>,
}

impl Parser<'_> {
    fn problem(&mut self, variable: &str, problem: impl Into<String>) {
        self.problems.push(SettingProblem {
            variable: variable.to_owned(),
            problem: problem.into(),
        });
    }

    fn optional(&self, variable: &str) -> Option<String> {
        self.layers.get(variable)
    }

    fn string(&self, variable: &str, default: &str) -> String {
        self.optional(variable)
            .unwrap_or_else(|| default.to_owned())
    }

    fn secret(&self, variable: &str) -> Option<SecretString> {
        self.optional(variable).map(SecretString::from)
    }

    /// `PODWISE_CORS_ORIGINS`: comma-separated origins (`scheme://host[:port]`) or `*`.
    fn cors_origins(&mut self) -> Vec<String> {
        const VARIABLE: &str = "PODWISE_CORS_ORIGINS";
        let Some(raw) = self.optional(VARIABLE) else {
            return Vec::new();
        };
        let origins: Vec<String> = raw
            .split(',')
            .map(|origin| origin.trim().trim_end_matches('/').to_owned())
            .filter(|origin| !origin.is_empty())
            .collect();
        for origin in &origins {
            let well_formed = origin == "*"
                || origin.split_once("://").is_some_and(|(scheme, rest)| {
                    matches!(scheme, "http" | "https") && !rest.is_empty() && !rest.contains('/')
                });
            if !well_formed {
                self.problem(
                    VARIABLE,
                    format!("'{origin}' is not an origin like https://podwise.example or *"),
                );
            }
        }
        origins
    }

    /// `PODWISE_OPERATOR_KEYS`: comma-separated secrets, each long enough not to be guessed.
    fn operator_keys(&mut self) -> Vec<SecretString> {
        const VARIABLE: &str = "PODWISE_OPERATOR_KEYS";
        let Some(raw) = self.optional(VARIABLE) else {
            return Vec::new();
        };
        let keys: Vec<&str> = raw
            .split(',')
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .collect();
        if keys.iter().any(|key| key.len() < MIN_OPERATOR_KEY_LEN) {
            // Never echo the value: it is a secret, even when it is a bad one.
            self.problem(
                VARIABLE,
                format!("every key must be at least {MIN_OPERATOR_KEY_LEN} characters long"),
            );
        }
        keys.into_iter()
            .map(|key| SecretString::from(key.to_owned()))
            .collect()
    }

    /// A URL that may hold credentials: checked for its scheme, then kept secret.
    fn secret_url(&mut self, variable: &str, schemes: &[&str]) -> Option<SecretString> {
        let value = self.optional(variable)?;
        self.check_url(variable, &value, schemes);
        Some(SecretString::from(value))
    }

    fn check_url(&mut self, variable: &str, value: &str, schemes: &[&str]) {
        let has_scheme = schemes.iter().any(|s| value.starts_with(s));
        if !has_scheme || value.len() <= schemes.iter().map(|s| s.len()).min().unwrap_or(0) {
            // The value may hold a password: name the expected shape, not the value.
            self.problem(
                variable,
                format!("must be a URL starting with {}", schemes.join(" or ")),
            );
        }
    }

    fn number<T: FromStr + Copy>(&mut self, variable: &str, default: T) -> T {
        self.parsed(variable, default, |raw| {
            raw.trim()
                .parse::<T>()
                .map_err(|_| format!("'{raw}' is not a valid whole number in range"))
        })
    }

    /// A finite decimal number such as `0.05` or `-1`.
    fn decimal(&mut self, variable: &str, default: f32) -> f32 {
        self.parsed(variable, default, |raw| match raw.trim().parse::<f32>() {
            Ok(value) if value.is_finite() => Ok(value),
            _ => Err(format!("'{raw}' is not a decimal number")),
        })
    }

    fn parsed<T>(
        &mut self,
        variable: &str,
        default: T,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> T {
        match self.optional(variable) {
            None => default,
            Some(raw) => parse(&raw).unwrap_or_else(|problem| {
                self.problem(variable, problem);
                default
            }),
        }
    }

    fn profile(&mut self) -> Profile {
        match self.optional("PODWISE_PROFILE").as_deref() {
            Some("embedded") => Profile::Embedded,
            Some("cluster") => Profile::Cluster,
            Some(other) => {
                self.problem(
                    "PODWISE_PROFILE",
                    format!("'{other}' is not one of embedded, cluster"),
                );
                Profile::Embedded
            }
            // Unset: any store location, or running in a pod, means the cluster's stores.
            None if self.layers.in_kubernetes
                || STORE_VARIABLES.iter().any(|v| self.optional(v).is_some()) =>
            {
                Profile::Cluster
            }
            None => Profile::Embedded,
        }
    }
}

fn parse_answer_style(raw: &str) -> Result<AnswerStyle, String> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "auto" => Ok(AnswerStyle::Auto),
        "generated" => Ok(AnswerStyle::Generated),
        "extractive" => Ok(AnswerStyle::Extractive),
        other => Err(format!(
            "'{other}' is not one of auto, generated, extractive"
        )),
    }
}

fn parse_fraction(raw: &str) -> Result<f32, String> {
    raw.trim()
        .parse::<f32>()
        .ok()
        .filter(|value| (0.0..=1.0).contains(value))
        .ok_or_else(|| format!("'{raw}' is not a number from 0 to 1"))
}

fn parse_bool(raw: &str) -> Result<bool, String> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(format!("'{raw}' is not true or false")),
    }
}

fn parse_environment(raw: &str) -> Result<Environment, String> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "development" | "dev" | "local" => Ok(Environment::Development),
        "staging" | "stage" => Ok(Environment::Staging),
        "production" | "prod" => Ok(Environment::Production),
        _ => Err(format!(
            "'{raw}' is not one of development, staging, production"
        )),
    }
}

fn parse_log_format(raw: &str) -> Result<LogFormat, String> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "auto" => Ok(LogFormat::Auto),
        "json" => Ok(LogFormat::Json),
        "pretty" | "text" => Ok(LogFormat::Pretty),
        _ => Err(format!("'{raw}' is not one of auto, json, pretty")),
    }
}

fn parse_local_position(raw: &str) -> Result<LocalPosition, String> {
    match raw.to_ascii_lowercase().as_str() {
        "first" => Ok(LocalPosition::First),
        "last" => Ok(LocalPosition::Last),
        "off" => Ok(LocalPosition::Off),
        _ => Err("must be first, last or off".to_owned()),
    }
}

fn parse_whisper_device(raw: &str) -> Result<String, String> {
    match raw.trim().to_ascii_lowercase().as_str() {
        // Podwise runs inference on the CPU only; "auto" resolves to it.
        device @ ("cpu" | "auto") => Ok(device.to_owned()),
        _ => Err(format!("'{raw}' is not supported: use cpu or auto")),
    }
}

fn parse_compute_type(raw: &str) -> Result<String, String> {
    const KNOWN: [&str; 6] = [
        "default",
        "auto",
        "int8",
        "float16",
        "float32",
        "int8_float32",
    ];
    let value = raw.trim().to_ascii_lowercase();
    if KNOWN.contains(&value.as_str()) {
        Ok(value)
    } else {
        Err(format!("'{raw}' is not one of {}", KNOWN.join(", ")))
    }
}
