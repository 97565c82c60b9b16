use std::sync::{Arc, Mutex};

use secrecy::ExposeSecret as _;

use super::*;

fn load(pairs: &[(&str, &str)]) -> Result<Settings, SettingsError> {
    Settings::load_from(&Sources::from_pairs(pairs.iter().copied()))
}

#[test]
fn with_nothing_set_the_embedded_profile_and_the_standard_ports_apply() {
    let settings = load(&[]).expect("defaults are valid");
    assert_eq!(settings.profile, Profile::Embedded);
    assert_eq!(settings.api.port, 8000);
    assert_eq!(settings.services.rag.url, "http://127.0.0.1:8001");
    assert_eq!(settings.services.ml.port, 8002);
    assert_eq!(settings.services.tts.port, 8003);
    assert_eq!(settings.services.stt.port, 8004);
    assert_eq!(settings.services.llm.port, 8005);
    assert_eq!(settings.server.bind_host, "127.0.0.1");
}

#[test]
fn layers_apply_in_order_file_then_dotenv_then_environment() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("podwise.toml");
    let dotenv = dir.path().join(".env");
    std::fs::write(&file, "[api]\nport = 8100\n[log]\nlevel = \"debug\"\n").expect("write");
    std::fs::write(&dotenv, "API_PORT=8200\nAPP_NAME=from-dotenv\n").expect("write");

    let mut sources = Sources {
        file: Some(file.clone()),
        file_required: true,
        dotenv: Some(dotenv.clone()),
        environment: [("API_PORT".to_owned(), "8300".to_owned())].into(),
    };
    let settings = Settings::load_from(&sources).expect("valid");
    assert_eq!(settings.api.port, 8300, "environment beats .env");
    assert_eq!(settings.app.name, "from-dotenv", ".env beats defaults");
    assert_eq!(settings.log.level, "debug", "file beats defaults");

    sources.environment.clear();
    assert_eq!(
        Settings::load_from(&sources).expect("valid").api.port,
        8200,
        ".env beats file"
    );

    sources.dotenv = None;
    assert_eq!(
        Settings::load_from(&sources).expect("valid").api.port,
        8100,
        "file beats default"
    );
}

#[test]
fn a_named_configuration_file_that_is_missing_is_an_error() {
    let sources = Sources {
        file: Some("/nonexistent/podwise.toml".into()),
        file_required: true,
        ..Sources::default()
    };
    let error = Settings::load_from(&sources).expect_err("missing file");
    assert_eq!(error.variables(), ["PODWISE_CONFIG_FILE"]);
}

#[test]
fn a_full_database_url_wins_over_its_parts() {
    let settings = load(&[
        ("DATABASE_URL", "postgres://app:pw@db.example:6543/catalog"),
        ("POSTGRES_HOST", "ignored-host"),
        ("POSTGRES_PASSWORD", "ignored"),
        ("MINIO_ACCESS_KEY", "a"),
        ("MINIO_SECRET_KEY", "b"),
    ])
    .expect("valid");
    assert_eq!(
        settings.postgres.connection_url().expose_secret(),
        "postgres://app:pw@db.example:6543/catalog"
    );
}

#[test]
fn the_database_url_is_built_from_parts_when_not_given() {
    let settings = load(&[
        ("POSTGRES_HOST", "pg.local"),
        ("POSTGRES_PORT", "5433"),
        ("POSTGRES_DB", "pw"),
        ("POSTGRES_USER", "u"),
        ("POSTGRES_PASSWORD", "p@ss/word"),
        ("MINIO_ACCESS_KEY", "a"),
        ("MINIO_SECRET_KEY", "b"),
    ])
    .expect("valid");
    assert_eq!(
        settings.postgres.connection_url().expose_secret(),
        "postgres://u:p%40ss%2Fword@pg.local:5433/pw"
    );
}

#[test]
fn a_full_mongo_uri_wins_over_its_parts() {
    let settings = load(&[
        ("MONGO_URI", "mongodb://m.example:27018"),
        ("MONGO_HOST", "ignored"),
        ("MINIO_ACCESS_KEY", "a"),
        ("MINIO_SECRET_KEY", "b"),
    ])
    .expect("valid");
    assert_eq!(
        settings.mongo.connection_uri().expose_secret(),
        "mongodb://m.example:27018"
    );
}

#[test]
fn a_service_url_wins_over_its_host_and_port() {
    let settings = load(&[
        ("RAG_URL", "http://rag.internal:9001/"),
        ("RAG_HOST", "ignored"),
        ("RAG_PORT", "9101"),
        ("LLM_HOST", "llm.local"),
        ("LLM_PORT", "9105"),
    ])
    .expect("valid");
    assert_eq!(settings.services.rag.url, "http://rag.internal:9001");
    assert_eq!(
        settings.services.rag.port, 9101,
        "the bind port still follows RAG_PORT"
    );
    assert_eq!(settings.services.llm.url, "http://llm.local:9105");
}

#[test]
fn every_variable_of_the_deployment_guide_is_read() {
    let settings = load(&[
        ("POSTGRES_HOST", "pg"),
        ("POSTGRES_PORT", "1"),
        ("POSTGRES_DB", "db"),
        ("POSTGRES_USER", "user"),
        ("POSTGRES_PASSWORD", "pgpw"),
        ("MONGO_HOST", "mongo"),
        ("MONGO_PORT", "2"),
        ("MONGO_DB", "mdb"),
        ("MONGO_USER", "muser"),
        ("MONGO_PASSWORD", "mpw"),
        ("MILVUS_HOST", "milvus"),
        ("MILVUS_PORT", "3"),
        ("MILVUS_COLLECTION", "chunks"),
        ("MINIO_HOST", "minio"),
        ("MINIO_PORT", "4"),
        ("MINIO_ACCESS_KEY", "ak"),
        ("MINIO_SECRET_KEY", "sk"),
        ("MINIO_SECURE", "true"),
        ("API_HOST", "0.0.0.0"),
        ("API_PORT", "5"),
        ("ML_HOST", "mlhost"),
        ("ML_PORT", "6"),
        ("TTS_URL", "http://tts:7"),
        ("OPENAI_API_KEY", "sk-test"),
        ("WHISPER_MODEL", "tiny.en"),
        ("WHISPER_DEVICE", "cpu"),
        ("WHISPER_COMPUTE_TYPE", "int8"),
        ("LOG_LEVEL", "warn"),
        ("DEBUG_MODE", "true"),
        ("APP_NAME", "Podwise Test"),
        ("APP_VERSION", "9.9.9"),
        ("ENVIRONMENT", "staging"),
    ])
    .expect("valid");
    assert_eq!(settings.profile, Profile::Cluster);
    assert_eq!(
        (
            settings.postgres.host.as_str(),
            settings.postgres.port,
            settings.postgres.db.as_str()
        ),
        ("pg", 1, "db")
    );
    assert_eq!(settings.postgres.user, "user");
    assert_eq!(
        settings
            .postgres
            .password
            .as_ref()
            .map(|p| p.expose_secret()),
        Some("pgpw")
    );
    assert_eq!(
        (settings.mongo.host.as_str(), settings.mongo.port),
        ("mongo", 2)
    );
    assert_eq!(settings.mongo.db, "mdb");
    assert_eq!(
        settings.mongo.connection_uri().expose_secret(),
        "mongodb://muser:mpw@mongo:2"
    );
    assert_eq!(
        (
            settings.milvus.host.as_str(),
            settings.milvus.port,
            settings.milvus.collection.as_str()
        ),
        ("milvus", 3, "chunks")
    );
    assert_eq!(
        (settings.minio.host.as_str(), settings.minio.port),
        ("minio", 4)
    );
    assert!(settings.minio.secure);
    assert_eq!(
        settings
            .minio
            .secret_key
            .as_ref()
            .map(|k| k.expose_secret()),
        Some("sk")
    );
    assert_eq!(settings.api.bind_address(), "0.0.0.0:5");
    assert_eq!(settings.services.ml.url, "http://mlhost:6");
    assert_eq!(settings.services.tts.url, "http://tts:7");
    assert_eq!(
        settings.openai.api_key.as_ref().map(|k| k.expose_secret()),
        Some("sk-test")
    );
    assert_eq!(settings.whisper.model, "tiny.en");
    assert_eq!(settings.whisper.compute_type, "int8");
    assert_eq!(settings.log.level, "warn");
    assert!(settings.app.debug_mode);
    assert_eq!(settings.app.name, "Podwise Test");
    assert_eq!(settings.app.version, "9.9.9");
    assert_eq!(settings.app.environment, Environment::Staging);
}

#[test]
fn the_cluster_profile_defaults_to_the_kubernetes_service_names() {
    let settings = load(&[
        ("PODWISE_PROFILE", "cluster"),
        ("MINIO_ACCESS_KEY", "a"),
        ("MINIO_SECRET_KEY", "b"),
    ])
    .expect("valid");
    assert_eq!(settings.postgres.host, "postgres.podwise.svc.cluster.local");
    assert_eq!(settings.mongo.host, "mongodb.podwise.svc.cluster.local");
    assert_eq!(settings.milvus.host, "milvus.podwise.svc.cluster.local");
    assert_eq!(settings.minio.host, "minio.podwise.svc.cluster.local");
    assert_eq!(
        settings.services.llm.url,
        "http://llm.podwise.svc.cluster.local:8005"
    );
    assert_eq!(settings.server.bind_host, "0.0.0.0");
}

#[test]
fn running_in_a_pod_selects_the_cluster_profile() {
    let error = load(&[("KUBERNETES_SERVICE_HOST", "10.0.0.1")]).expect_err("keys missing");
    assert_eq!(error.variables(), ["MINIO_ACCESS_KEY", "MINIO_SECRET_KEY"]);
}

#[test]
fn every_invalid_setting_is_reported_at_once_by_name() {
    let error = load(&[
        ("API_PORT", "eighty"),
        ("RAG_PORT", "70000"),
        ("MINIO_SECURE", "maybe"),
        ("ENVIRONMENT", "moon"),
        ("PODWISE_PROFILE", "laptop"),
        ("LLM_URL", "llm:8005"),
        ("WHISPER_DEVICE", "cuda"),
    ])
    .expect_err("invalid");
    let mut names = error.variables();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "API_PORT",
            "ENVIRONMENT",
            "LLM_URL",
            "MINIO_SECURE",
            "PODWISE_PROFILE",
            "RAG_PORT",
            "WHISPER_DEVICE"
        ]
    );
    let message = error.to_string();
    assert!(message.starts_with("7 invalid setting(s):"), "{message}");
    assert!(
        message.contains("API_PORT (api.port): 'eighty'"),
        "{message}"
    );
}

#[test]
fn debug_mode_is_refused_in_production() {
    let error = load(&[("ENVIRONMENT", "production"), ("DEBUG_MODE", "1")]).expect_err("refused");
    assert_eq!(error.variables(), ["DEBUG_MODE"]);
}

#[test]
fn an_empty_value_counts_as_unset() {
    let settings = load(&[("POSTGRES_HOST", ""), ("API_PORT", "")]).expect("valid");
    assert_eq!(settings.profile, Profile::Embedded);
    assert_eq!(settings.api.port, 8000);
}

const SECRETS: [(&str, &str); 7] = [
    ("POSTGRES_PASSWORD", "pg-secret-1"),
    ("MONGO_PASSWORD", "mongo-secret-2"),
    ("MINIO_ACCESS_KEY", "minio-access-3"),
    ("MINIO_SECRET_KEY", "minio-secret-4"),
    ("OPENAI_API_KEY", "sk-openai-5"),
    ("DATABASE_URL", "postgres://u:url-secret-6@h/db"),
    ("PODWISE_OPERATOR_KEYS", "operator-secret-7-long-enough"),
];

#[test]
fn secrets_never_appear_in_debug_output() {
    let settings = load(&SECRETS).expect("valid");
    let debug = format!("{settings:?}");
    for (_, secret) in SECRETS {
        assert!(!debug.contains(secret), "{secret} leaked into {debug}");
    }
}

#[test]
fn secrets_never_appear_in_logs() {
    let settings = load(&SECRETS).expect("valid");
    let buffer = Arc::new(Mutex::new(Vec::new()));
    let writer = {
        let buffer = Arc::clone(&buffer);
        move || SharedWriter(Arc::clone(&buffer))
    };
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_writer(writer)
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        tracing::info!(?settings, postgres = ?settings.postgres, "loaded");
    });
    let logged = String::from_utf8(buffer.lock().expect("lock").clone()).expect("utf-8");
    assert!(logged.contains("loaded"));
    for (_, secret) in SECRETS {
        assert!(!logged.contains(secret), "{secret} leaked into the log");
    }
}

#[test]
fn a_malformed_url_is_reported_without_echoing_its_credentials() {
    let error = load(&[("DATABASE_URL", "mysql://root:hunter2@db/x")]).expect_err("bad scheme");
    assert_eq!(
        error.variables(),
        ["DATABASE_URL", "MINIO_ACCESS_KEY", "MINIO_SECRET_KEY"]
    );
    assert!(!error.to_string().contains("hunter2"));
}

#[test]
fn operator_keys_are_a_comma_separated_list_of_long_secrets() {
    let settings = load(&[(
        "PODWISE_OPERATOR_KEYS",
        " first-key-0123456789 , ,second-key-0123456789",
    )])
    .expect("valid");
    let keys: Vec<&str> = settings
        .api
        .operator_keys
        .iter()
        .map(|key| key.expose_secret())
        .collect();
    assert_eq!(keys, ["first-key-0123456789", "second-key-0123456789"]);
    assert!(load(&[]).expect("valid").api.operator_keys.is_empty());

    let error = load(&[("PODWISE_OPERATOR_KEYS", "long-enough-key-123,short")]).expect_err("short");
    assert_eq!(error.variables(), ["PODWISE_OPERATOR_KEYS"]);
    assert!(
        !error.to_string().contains("short,"),
        "the value is not echoed"
    );
    assert!(!error.to_string().contains("long-enough-key-123"));
}

struct SharedWriter(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for SharedWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn the_example_env_file_names_every_variable_and_loads() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../.env.example");
    let text = std::fs::read_to_string(path).expect(".env.example exists");
    for (name, _) in contract::VARIABLES {
        assert!(
            text.contains(&format!("{name}=")),
            ".env.example does not mention {name}"
        );
    }
    let sources = Sources {
        dotenv: Some(path.into()),
        ..Sources::default()
    };
    let settings = Settings::load_from(&sources).expect("the example is valid as written");
    assert_eq!(settings.profile, Profile::Cluster);
}

#[test]
fn the_llm_settings_default_to_the_local_models_after_any_backends() {
    let settings = load(&[]).expect("valid");
    assert_eq!(settings.llm.embedding_model, "multilingual-e5-small");
    assert_eq!(settings.llm.local, LocalPosition::Last);
    assert_eq!(settings.llm.threads, 1);
    assert!(settings.llm.backends.is_empty());
}

#[test]
fn bad_llm_settings_are_all_reported_together() {
    let error = load(&[
        ("PODWISE_LLM_LOCAL", "middle"),
        ("PODWISE_LLM_THREADS", "0"),
        ("PODWISE_LLM_MAX_TOKENS", "many"),
    ])
    .expect_err("invalid");
    assert_eq!(
        error.variables(),
        [
            "PODWISE_LLM_LOCAL",
            "PODWISE_LLM_MAX_TOKENS",
            "PODWISE_LLM_THREADS"
        ]
    );
}

#[test]
fn the_tts_settings_default_to_5000_characters_and_the_fetched_runtime() {
    let settings = load(&[]).expect("valid");
    assert_eq!(settings.tts.max_chars, 5000);
    assert_eq!(settings.tts.espeak_program, "espeak-ng");
    assert_eq!(settings.tts.onnxruntime_library, None);
    assert!(settings.tts.cache);
    assert_eq!(settings.tts.sentence_pause, Duration::from_millis(200));
}

#[test]
fn bad_tts_settings_are_all_reported_by_name() {
    let error = load(&[
        ("PODWISE_TTS_MAX_CHARS", "0"),
        ("PODWISE_TTS_CACHE", "sometimes"),
        ("PODWISE_TTS_SENTENCE_PAUSE_MS", "60000"),
    ])
    .expect_err("invalid");
    let mut names = error.variables();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "PODWISE_TTS_CACHE",
            "PODWISE_TTS_MAX_CHARS",
            "PODWISE_TTS_SENTENCE_PAUSE_MS"
        ]
    );
}

#[test]
fn the_recommender_defaults_apply_and_zero_turns_decay_and_the_schedule_off() {
    let ml = load(&[]).expect("defaults are valid").ml;
    assert_eq!(ml.weights.liked, 4.0);
    assert_eq!(ml.half_life, Some(Duration::from_secs(90 * 86_400)));
    assert_eq!(ml.train_interval, Some(Duration::from_secs(3600)));
    assert_eq!((ml.factors, ml.max_per_podcast, ml.max_k), (32, 1, 100));

    let ml = load(&[
        ("PODWISE_ML_HALF_LIFE_DAYS", "0"),
        ("PODWISE_ML_TRAIN_INTERVAL_SECS", "0"),
        ("PODWISE_ML_WEIGHT_SKIPPED", "-0.5"),
    ])
    .expect("valid")
    .ml;
    assert_eq!((ml.half_life, ml.train_interval), (None, None));
    assert_eq!(ml.weights.skipped, -0.5);
}

#[test]
fn recommender_weights_with_the_wrong_sign_are_all_reported() {
    let error = load(&[
        ("PODWISE_ML_WEIGHT_LIKED", "-1"),
        ("PODWISE_ML_WEIGHT_DISLIKED", "2"),
        ("PODWISE_ML_REGULARIZATION", "a lot"),
        ("PODWISE_ML_MAX_K", "0"),
    ])
    .expect_err("invalid");
    assert_eq!(
        error.variables(),
        [
            "PODWISE_ML_WEIGHT_LIKED",
            "PODWISE_ML_WEIGHT_DISLIKED",
            "PODWISE_ML_REGULARIZATION",
            "PODWISE_ML_MAX_K",
        ]
    );
}

#[test]
fn rate_limits_and_cors_origins_are_read_and_checked() {
    let settings = load(&[
        ("PODWISE_RATE_LIMIT_PER_IP", "30"),
        ("PODWISE_RATE_LIMIT_BURST", "5"),
        (
            "PODWISE_CORS_ORIGINS",
            "https://app.example/, http://localhost:5173",
        ),
    ])
    .expect("valid");
    assert_eq!(settings.api.rate_limits.per_ip_per_minute, 30);
    assert_eq!(settings.api.rate_limits.per_token_per_minute, 600);
    assert_eq!(settings.api.rate_limits.burst, 5);
    assert!(!settings.api.rate_limits.trust_forwarded_for);
    assert_eq!(
        settings.api.cors_origins,
        ["https://app.example", "http://localhost:5173"]
    );
    assert!(load(&[]).expect("valid").api.cors_origins.is_empty());
    assert_eq!(
        load(&[("PODWISE_CORS_ORIGINS", "*")])
            .expect("any")
            .api
            .cors_origins,
        ["*"]
    );

    for (variable, value) in [
        ("PODWISE_CORS_ORIGINS", "https://app.example/path"),
        ("PODWISE_CORS_ORIGINS", "app.example"),
        ("PODWISE_RATE_LIMIT_BURST", "0"),
        ("PODWISE_RATE_LIMIT_PER_IP", "-1"),
    ] {
        let error = load(&[(variable, value)]).expect_err(value);
        assert_eq!(error.variables(), [variable], "{value}");
    }
}
