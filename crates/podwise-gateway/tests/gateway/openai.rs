//! The OpenAI-compatible routes, tested through HTTP against the real gateway, whose LLM
//! service is a scripted stand-in on a real gRPC port.

mod chat;
mod double;
mod embeddings;
mod models;
mod streaming;

use std::sync::Arc;
use std::time::Duration;

use podwise_common::server::ServiceServer;
use podwise_common::testing::{RunningService, settings_with};
use podwise_common::{ServiceError, settings::Settings};
use podwise_proto::llm::v1::llm_service_server::LlmServiceServer;
use serde_json::Value;

use self::double::{Script, ScriptedLlm, Seen};
use crate::harness::{Gateway, spawn_stand_in};

/// The gateway in front of a scripted LLM service.
struct OpenAi {
    base: String,
    http: reqwest::Client,
    seen: Arc<Seen>,
    llm: RunningService,
    gateway: Gateway,
    /// The embedded object store's directory, removed with the test.
    _scratch: tempfile::TempDir,
}

impl OpenAi {
    async fn start(script: Script) -> Self {
        Self::start_with(script, &[]).await
    }

    /// Starts with `extra` settings on top of the ones that point the gateway at the
    /// stand-in.
    async fn start_with(script: Script, extra: &[(&str, &str)]) -> Self {
        let seen = Arc::new(Seen::default());
        let double = ScriptedLlm {
            script: Arc::new(script),
            seen: seen.clone(),
        };
        let llm = spawn_stand_in(
            ServiceServer::new("llm", Duration::from_secs(1)).grpc(LlmServiceServer::new(double)),
        )
        .await;

        let scratch = tempfile::tempdir().expect("a scratch directory");
        let url = format!("http://{}", llm.addr);
        let gateway = Gateway::start(&settings(&url, &scratch, extra)).await;
        Self {
            base: gateway.base.clone(),
            http: reqwest::Client::new(),
            seen,
            llm,
            gateway,
            _scratch: scratch,
        }
    }

    async fn post(&self, path: &str, body: &Value) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.base))
            .json(body)
            .send()
            .await
            .expect("the gateway answers")
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("the gateway answers")
    }

    async fn stop(self) {
        self.gateway.stop().await;
        self.llm.stop().await;
    }
}

/// Gateway settings that send LLM calls to `llm_url` and keep objects in `scratch`.
fn settings(llm_url: &str, scratch: &tempfile::TempDir, extra: &[(&str, &str)]) -> Settings {
    let data_dir = scratch.path().to_str().expect("a UTF-8 temp path");
    let mut pairs = vec![("LLM_URL", llm_url), ("PODWISE_DATA_DIR", data_dir)];
    pairs.extend_from_slice(extra);
    settings_with(&pairs)
}

/// The status a service sends for `error`, with the metadata that restores it.
fn status_of(error: ServiceError) -> tonic::Status {
    error.into()
}

/// The status and JSON body of an answer.
async fn json_of(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let body = response.json().await.expect("a JSON body");
    (status, body)
}

fn message_of(body: &Value) -> &str {
    body["message"].as_str().expect("an error message")
}

#[tokio::test]
async fn a_wrong_method_on_an_openai_route_is_405_naming_the_allowed_one() {
    let openai = OpenAi::start(Script::default()).await;

    let chat = openai.get("/v1/chat/completions").await;
    assert_eq!(chat.headers()["allow"], "POST");
    let (status, body) = json_of(chat).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (405, Some("method_not_allowed"))
    );
    assert!(message_of(&body).contains("takes POST"), "{body}");

    let models = openai.post("/v1/models", &serde_json::json!({})).await;
    assert_eq!(models.status(), 405);
    assert_eq!(models.headers()["allow"], "GET");
    assert_eq!(openai.get("/v1/embeddings").await.status(), 405);

    openai.stop().await;
}
