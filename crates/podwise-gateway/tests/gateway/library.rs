//! The library through the product API, against the real RAG and LLM services (their
//! built binaries as child processes, sharing the gateway's embedded stores): operators
//! ingest transcripts and follow the jobs; listeners ask, stream, summarise and read
//! their history; the OpenAI chat route answers as the `podwise-rag` model.

use std::time::{Duration, Instant};

use podwise_common::settings::ServiceName;
use podwise_common::testing::{ServiceProcess, free_port, settings_with};
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::harness::Gateway;
use crate::speech::{BOUNDARY, Part, multipart};

const OPERATOR_KEY: &str = "test-operator-key-0123456789";
const PATIENCE: Duration = Duration::from_secs(90);

/// The gateway in front of the real RAG and LLM services (and any others a test asks
/// for), all on the same embedded stores.
pub(crate) struct Library {
    pub(crate) base: String,
    pub(crate) client: reqwest::Client,
    // Runs until the test's runtime ends with the test.
    _gateway: Gateway,
    _services: Vec<ServiceProcess>,
    _data: TempDir,
    _scratch: TempDir,
}

async fn start() -> Library {
    start_with(&[]).await
}

/// The library with `extra` services running too: STT transcribes ingested audio, TTS
/// speaks, ml recommends. The gateway's port is chosen before it starts and is its
/// public URL, so the signed audio links it hands out can be played from a browser.
pub(crate) async fn start_with(extra: &[ServiceName]) -> Library {
    let bin_dir = std::path::Path::new(env!("CARGO_BIN_EXE_podwise-gateway"))
        .parent()
        .expect("binary directory")
        .to_owned();
    let data = TempDir::new().expect("temp dir");
    let scratch = TempDir::new().expect("temp dir");
    let shared = data.path().to_str().expect("UTF-8").to_owned();
    let mut urls: Vec<(String, String)> = Vec::new();
    let mut services = Vec::new();
    // Started in an order that gives each one the addresses it needs: the RAG service
    // sends text to the LLM and audio to STT; ml reads the RAG service's episode vectors.
    let order = [
        ServiceName::Llm,
        ServiceName::Stt,
        ServiceName::Tts,
        ServiceName::Rag,
        ServiceName::Ml,
    ];
    let always = [ServiceName::Llm, ServiceName::Rag];
    let wanted = order
        .into_iter()
        .filter(|name| always.contains(name) || extra.contains(name));
    for name in wanted {
        // All but the LLM service share the gateway's catalog and objects: STT reads
        // the audio the RAG service stored, ml the feedback the gateway recorded.
        let data_dir = match name {
            ServiceName::Llm => scratch.path().join(name.as_str()),
            _ => data.path().to_owned(),
        };
        let env: Vec<(&str, &str)> = urls.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let service =
            ServiceProcess::start(&bin_dir, name, free_port(), &data_dir, &env, PATIENCE).await;
        urls.push((
            format!("{}_URL", name.as_str().to_uppercase()),
            service.url.clone(),
        ));
        services.push(service);
    }
    let port = free_port().to_string();
    let public_url = format!("http://127.0.0.1:{port}");
    let mut pairs: Vec<(&str, &str)> = urls.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    pairs.extend([
        ("PODWISE_DATA_DIR", shared.as_str()),
        ("PODWISE_OPERATOR_KEYS", OPERATOR_KEY),
        ("API_PORT", port.as_str()),
        ("PODWISE_PUBLIC_URL", public_url.as_str()),
    ]);
    let gateway = Gateway::start(&settings_with(&pairs)).await;
    Library {
        base: gateway.base.clone(),
        client: reqwest::Client::new(),
        _gateway: gateway,
        _services: services,
        _data: data,
        _scratch: scratch,
    }
}

async fn status_and_json(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON body"))
}

fn transcripts() -> Value {
    let segments = |sentences: &[&str]| -> Vec<Value> {
        sentences
            .iter()
            .enumerate()
            .map(|(i, text)| {
                let start = i as f64 * 12.0;
                json!({"start": start, "end": start + 11.5, "text": text})
            })
            .collect()
    };
    json!({"podcasts": [{
        "id": "pod-study",
        "title": "讀書方法研究室",
        "category": "education",
        "language": "zh-TW",
        "episodes": [
            {
                "id": "ep-pomodoro",
                "title": "番茄鐘工作法",
                "published": "2024-03-01",
                "segments": segments(&[
                    "番茄鐘工作法把時間切成二十五分鐘的專注時段。",
                    "每個時段結束後休息五分鐘，\
                     四個時段之後休息十五到三十分鐘。",
                    "這個方法由義大利人西里洛在一九八〇年代提出。",
                    "它的名字來自一個番茄形狀的廚房計時器。",
                ]),
            },
            {
                "id": "ep-sleep",
                "title": "睡眠與記憶",
                "published": "2024-03-08",
                "segments": segments(&[
                    "睡眠時大腦會整理白天學到的東西。",
                    "深層睡眠幫助把短期記憶轉成長期記憶。",
                    "考前熬夜通宵反而會讓記憶變差。",
                    "研究建議青少年每天睡八到十小時。",
                ]),
            },
        ],
    }]})
}

impl Library {
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub(crate) async fn ingest(&self) -> Vec<Value> {
        let response = self
            .client
            .post(self.url("/api/v1/ingest/transcripts"))
            .header("x-podwise-operator-key", OPERATOR_KEY)
            .json(&transcripts())
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 202);
        let body: Value = response.json().await.expect("json");
        let jobs = body["jobs"].as_array().expect("jobs").clone();
        let mut done = Vec::new();
        for job in jobs {
            done.push(self.wait_done(job["id"].as_str().expect("id")).await);
        }
        done
    }

    pub(crate) async fn wait_done(&self, id: &str) -> Value {
        let started = Instant::now();
        loop {
            let (_, job) = self
                .operator_get(&format!("/api/v1/ingest/jobs/{id}"))
                .await;
            if job["state"] == "done" {
                return job;
            }
            assert_ne!(job["state"], "failed", "{job}");
            assert!(started.elapsed() < PATIENCE, "{job}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Ingests one episode's audio as an operator uploads it (`fields` beside the file)
    /// and answers its job.
    pub(crate) async fn ingest_audio(&self, fields: &[(&str, &str)], wav: &[u8]) -> Value {
        let mut parts: Vec<Part<'_>> = fields
            .iter()
            .map(|(name, value)| Part::Field(name, value.as_bytes()))
            .collect();
        parts.push(Part::File("episode.wav", wav));
        let request = self
            .client
            .post(self.url("/api/v1/ingest/audio"))
            .bearer_auth(OPERATOR_KEY)
            .header(
                "content-type",
                format!("multipart/form-data; boundary={BOUNDARY}"),
            )
            .body(multipart(&parts));
        let (status, body) = status_and_json(request).await;
        assert_eq!(status, 202, "{body}");
        body["jobs"][0].clone()
    }

    /// An operator's GET: the status and the JSON body.
    async fn operator_get(&self, path: &str) -> (u16, Value) {
        let request = self.client.get(self.url(path)).bearer_auth(OPERATOR_KEY);
        status_and_json(request).await
    }

    /// An operator's POST of a JSON body: the status and the JSON body answered.
    pub(crate) async fn operator_post(&self, path: &str, body: &Value) -> (u16, Value) {
        let request = self.client.post(self.url(path)).bearer_auth(OPERATOR_KEY);
        status_and_json(request.json(body)).await
    }

    /// Anyone's POST of a JSON body: the status and the JSON body answered.
    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        status_and_json(self.client.post(self.url(path)).json(&body)).await
    }
}

#[tokio::test]
async fn operators_ingest_and_follow_jobs_and_everyone_else_is_turned_away() {
    let library = start().await;
    let ingest = |key: Option<&str>| {
        let request = library
            .client
            .post(library.url("/api/v1/ingest/transcripts"))
            .json(&transcripts());
        match key {
            Some(key) => request.bearer_auth(key),
            None => request,
        }
        .send()
    };
    let missing = ingest(None).await.expect("request");
    assert_eq!(missing.status(), 401);
    let wrong = ingest(Some("not-the-operator-key-at-all"))
        .await
        .expect("request");
    assert_eq!(wrong.status(), 401);

    let jobs = library.ingest().await;
    assert_eq!(jobs.len(), 2);
    assert!(
        jobs.iter()
            .all(|job| job["attempts"] == 1 && job["last_error"].is_null())
    );

    let (_, listed) = library
        .operator_get("/api/v1/ingest/jobs?state=done&podcast_id=pod-study")
        .await;
    assert_eq!(
        listed["jobs"].as_array().expect("jobs").len(),
        2,
        "{listed}"
    );

    let (bad_state, _) = library
        .operator_get("/api/v1/ingest/jobs?state=sleeping")
        .await;
    assert_eq!(bad_state, 400);
    let (unknown, _) = library
        .operator_get("/api/v1/ingest/jobs/no-such-job")
        .await;
    assert_eq!(unknown, 404);

    let mut wrong_category = transcripts();
    wrong_category["podcasts"][0]["category"] = json!("cooking");
    let (refused, body) = library
        .operator_post("/api/v1/ingest/transcripts", &wrong_category)
        .await;
    assert_eq!(refused, 400);
    assert!(
        body["message"]
            .as_str()
            .expect("message")
            .contains("cooking"),
        "{body}"
    );

    // Audio uploads: what is not audio, or lacks its metadata, is refused by name.
    let upload = |file: &'static [u8], fields: &[(&'static str, &'static str)]| {
        const BOUNDARY: &str = "podwise-library-boundary";
        let mut body = Vec::new();
        for (name, value) in fields {
            body.extend(
                format!(
                    "--{BOUNDARY}\r\ncontent-disposition: form-data; name=\"{name}\"\r\n\r\n\
                 {value}\r\n"
                )
                .into_bytes(),
            );
        }
        body.extend(
            format!(
                "--{BOUNDARY}\r\ncontent-disposition: form-data; name=\"file\"; \
             filename=\"episode.wav\"\r\ncontent-type: audio/wav\r\n\r\n"
            )
            .into_bytes(),
        );
        body.extend_from_slice(file);
        body.extend(format!("\r\n--{BOUNDARY}--\r\n").into_bytes());
        library
            .client
            .post(library.url("/api/v1/ingest/audio"))
            .bearer_auth(OPERATOR_KEY)
            .header(
                "content-type",
                format!("multipart/form-data; boundary={BOUNDARY}"),
            )
            .body(body)
            .send()
    };
    let metadata = [
        ("podcast_id", "pod-study"),
        ("podcast_title", "讀書方法研究室"),
        ("category", "education"),
        ("language", "zh-TW"),
        ("episode_id", "ep-upload"),
        ("episode_title", "上傳的單集"),
    ];
    let not_audio = upload(b"<html>a web page</html>", &metadata)
        .await
        .expect("request");
    assert_eq!(not_audio.status(), 415);
    let nameless = upload(b"RIFF", &metadata[..5]).await.expect("request");
    assert_eq!(nameless.status(), 400);
    let body: Value = nameless.json().await.expect("json");
    assert!(
        body["message"]
            .as_str()
            .expect("message")
            .contains("episode_title"),
        "{body}"
    );

    let not_a_feed = json!({"xml": "<html>a page</html>", "category": "education"});
    let (status, body) = library
        .operator_post("/api/v1/ingest/feed", &not_a_feed)
        .await;
    assert_eq!(status, 400);
    assert!(
        body["message"]
            .as_str()
            .expect("message")
            .contains("not an RSS"),
        "{body}"
    );

    let not_json = library
        .client
        .post(library.url("/api/v1/ingest/transcripts"))
        .bearer_auth(OPERATOR_KEY)
        .header("content-type", "text/plain")
        .body("podcasts")
        .send()
        .await
        .expect("request");
    assert_eq!(not_json.status(), 415);
}

#[tokio::test]
async fn listeners_get_cited_moments_plain_streamed_summarised_and_in_their_history() {
    let library = start().await;
    library.ingest().await;

    let (status, answer) = library
        .post(
            "/api/v1/ask",
            json!({"question": "番茄鐘的一個時段是幾分鐘？"}),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["grounded"], true, "{answer}");
    let first = &answer["citations"][0];
    assert_eq!(first["title"], "番茄鐘工作法", "{answer}");
    assert!(first["start"].as_f64().expect("start") < 12.0, "{first}");
    assert!(
        first["snippet"]
            .as_str()
            .expect("snippet")
            .contains("二十五分鐘")
    );

    let (_, gated) = library
        .post(
            "/api/v1/ask",
            json!({"question": "戚風蛋糕要怎麼烤才不會塌？"}),
        )
        .await;
    assert_eq!(gated["grounded"], false, "{gated}");
    assert_eq!(gated["citations"], json!([]));

    // Streamed: citations first, then the text, then the whole answer.
    let streamed = library
        .client
        .post(library.url("/api/v1/ask/stream"))
        .json(&json!({"question": "熬夜對記憶有什麼影響？"}))
        .send()
        .await
        .expect("request");
    assert_eq!(streamed.headers()["content-type"], "text/event-stream");
    let text = streamed.text().await.expect("body");
    let events: Vec<&str> = text
        .lines()
        .filter_map(|line| line.strip_prefix("event: "))
        .collect();
    assert_eq!(events.first(), Some(&"citations"), "{text}");
    assert_eq!(events.last(), Some(&"done"), "{text}");
    assert!(events.contains(&"delta"), "{text}");
    assert!(text.contains("睡眠與記憶"), "{text}");

    // A listener's questions are theirs: a token is needed, and the history keeps them.
    let (_, user) = library.post("/api/v1/users", json!({})).await;
    let user_id = user["user_id"].as_str().expect("id");
    let token = user["token"].as_str().expect("token");
    let (status, _) = library
        .post(
            "/api/v1/ask",
            json!({"question": "番茄鐘是誰提出的？", "user_id": user_id}),
        )
        .await;
    assert_eq!(status, 401);
    let asked: Value = library
        .client
        .post(library.url("/api/v1/ask"))
        .bearer_auth(token)
        .json(&json!({"question": "番茄鐘是誰提出的？", "user_id": user_id}))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(asked["grounded"], true, "{asked}");
    let history: Value = library
        .client
        .get(library.url("/api/v1/chat-history"))
        .bearer_auth(token)
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    let turns = history["turns"].as_array().expect("turns");
    assert_eq!(turns.len(), 1, "{history}");
    assert_eq!(turns[0]["question"], "番茄鐘是誰提出的？");
    assert_eq!(turns[0]["session_id"], asked["session_id"]);

    let (status, summary) = library
        .post("/api/v1/summarize", json!({"query": "幫我總結睡眠與記憶"}))
        .await;
    assert_eq!(status, 200, "{summary}");
    assert_eq!(summary["found"], true, "{summary}");
    assert_eq!(summary["episode"]["title"], "睡眠與記憶");
    assert!(
        !summary["key_moments"]
            .as_array()
            .expect("moments")
            .is_empty()
    );

    // Plain OpenAI clients get the answer as content and may read the citations.
    let (status, completion) = library
        .post(
            "/v1/chat/completions",
            json!({"model": "podwise-rag", "messages": [
                {"role": "user", "content": "番茄鐘的名字是怎麼來的？"}
            ]}),
        )
        .await;
    assert_eq!(status, 200, "{completion}");
    assert_eq!(completion["object"], "chat.completion");
    assert!(completion["choices"][0]["message"]["content"].is_string());
    assert_eq!(
        completion["citations"][0]["title"], "番茄鐘工作法",
        "{completion}"
    );

    let streamed = library
        .client
        .post(library.url("/v1/chat/completions"))
        .json(
            &json!({"model": "podwise-rag", "stream": true, "messages": [
                {"role": "user", "content": "番茄鐘的名字是怎麼來的？"}
            ]}),
        )
        .send()
        .await
        .expect("request");
    assert_eq!(streamed.status(), 200);
    let text = streamed.text().await.expect("body");
    let chunks: Vec<Value> = text
        .lines()
        .filter_map(|line| line.strip_prefix("data: "))
        .take_while(|data| *data != "[DONE]")
        .map(|data| serde_json::from_str(data).expect("a JSON chunk"))
        .collect();
    assert!(text.trim_end().ends_with("data: [DONE]"), "{text}");
    assert!(
        chunks
            .iter()
            .all(|c| c["object"] == "chat.completion.chunk"),
        "{text}"
    );
    let content: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert!(content.contains("番茄"), "{content}");
    let last = chunks.last().expect("chunks");
    assert_eq!(last["choices"][0]["finish_reason"], "stop");
    assert_eq!(last["citations"][0]["title"], "番茄鐘工作法", "{last}");

    let (status, empty) = library.post("/api/v1/ask", json!({"question": "  "})).await;
    assert_eq!(status, 400, "{empty}");
}
