//! Remote backends and the router, against real OpenAI-compatible servers on loopback.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use futures_util::future::BoxFuture;
use futures_util::stream;
use podwise_common::settings::SettingsError;
use podwise_common::testing::settings_with;
use podwise_llm::chat::{
    BackendError, ChatBackend, ChatEvent, ChatRequest, ChatStream, FinishReason, Message, Role,
    Sampling, Usage,
};
use podwise_llm::models::{ModelInfo, ModelKind};
use podwise_llm::remote::OpenAiBackend;
use podwise_llm::router::{RouteError, Router};
use tokio::sync::Notify;

use crate::openai_server::{OpenAiServer, PROMPT_TOKENS, Script, UsageIn};

/// Options that keep every test quick: short timeouts, no retries unless a test asks.
const QUICK: &str = "timeout=300ms retries=0 backoff=10ms";

fn router(backends: &str) -> Router {
    router_with(backends, "off", None)
}

fn router_with(backends: &str, local: &str, backend: Option<Arc<dyn ChatBackend>>) -> Router {
    let settings = settings_with(&[
        ("PODWISE_LLM_BACKENDS", backends),
        ("PODWISE_LLM_LOCAL", local),
        ("OPENAI_API_KEY", "sk-test-key"),
    ]);
    Router::from_settings(&settings.llm, &settings.openai, backend).expect("valid backends")
}

/// A remote backend on its own, as the router builds it.
fn backend(name: &str, server: &OpenAiServer, model: &str) -> OpenAiBackend {
    let raw = format!("{name}={} model={model} {QUICK}", server.url());
    let mut settings = podwise_llm::remote::settings::parse(&raw, None).expect("valid");
    OpenAiBackend::new(settings.remove(0)).expect("a client")
}

fn question(model: Option<&str>) -> ChatRequest {
    ChatRequest {
        model: model.map(str::to_owned),
        messages: vec![Message {
            role: Role::User,
            content: "Say hello".into(),
        }],
        sampling: Sampling {
            temperature: 0.0,
            top_p: 1.0,
            seed: None,
        },
        max_tokens: 32,
        stop: vec![],
        json_object: false,
    }
}

async fn all_events(stream: ChatStream) -> Vec<Result<ChatEvent, BackendError>> {
    stream.collect().await
}

/// The text of a reply that must end well.
async fn text_of(stream: ChatStream) -> String {
    let events = all_events(stream).await;
    let mut text = String::new();
    for (i, event) in events.iter().enumerate() {
        match event {
            Ok(ChatEvent::Delta(piece)) => text.push_str(piece),
            Ok(ChatEvent::Done { .. }) => assert_eq!(i, events.len() - 1, "{events:?}"),
            Err(e) => panic!("the reply failed: {e}"),
        }
    }
    assert!(
        matches!(events.last(), Some(Ok(ChatEvent::Done { .. }))),
        "{events:?}"
    );
    text
}

async fn start(router: &Router, request: ChatRequest) -> ChatStream {
    router.start(request).await.expect("a backend answers")
}

#[tokio::test]
async fn streamed_deltas_arrive_one_by_one_in_order_and_end_with_usage() {
    let server = OpenAiServer::start("m", Script::reply(&["Hel", "lo", " world"])).await;
    let backend = backend("a", &server, "m");

    let events = all_events(backend.start(question(None)).await.expect("a stream")).await;

    assert_eq!(
        events,
        [
            Ok(ChatEvent::Delta("Hel".into())),
            Ok(ChatEvent::Delta("lo".into())),
            Ok(ChatEvent::Delta(" world".into())),
            Ok(ChatEvent::Done {
                model: "m".into(),
                finish_reason: FinishReason::Stop,
                usage: Usage {
                    prompt_tokens: PROMPT_TOKENS,
                    completion_tokens: 3,
                },
            }),
        ]
    );
}

#[tokio::test]
async fn a_delta_is_relayed_before_the_server_has_sent_the_next() {
    let gate = Arc::new(Notify::new());
    let script = Script::Gated {
        first: "first".into(),
        rest: vec!["second".into()],
        gate: gate.clone(),
    };
    let server = OpenAiServer::start("m", script).await;
    let mut stream = start(
        &router(&format!("a={} model=m", server.url())),
        question(None),
    )
    .await;

    let first = tokio::time::timeout(Duration::from_secs(1), stream.next()).await;
    assert_eq!(
        first.expect("the first delta is not held back"),
        Some(Ok(ChatEvent::Delta("first".into())))
    );

    gate.notify_one();
    assert_eq!(text_of(stream).await, "second");
}

#[tokio::test]
async fn usage_sent_in_the_last_chunk_is_read() {
    let script = Script::Reply {
        pieces: vec!["a".into(), "b".into()],
        usage: UsageIn::LastChunk,
    };
    let server = OpenAiServer::start("m", script).await;

    let events = all_events(
        backend("a", &server, "m")
            .start(question(None))
            .await
            .expect("ok"),
    )
    .await;

    let Some(Ok(ChatEvent::Done { usage, .. })) = events.last() else {
        panic!("{events:?}");
    };
    assert_eq!(usage.completion_tokens, 2);
    assert_eq!(usage.prompt_tokens, PROMPT_TOKENS);
}

#[tokio::test]
async fn a_server_that_ignores_stream_options_ends_with_an_unknown_usage_of_zero() {
    let script = Script::Reply {
        pieces: vec!["a".into(), "b".into()],
        usage: UsageIn::Nowhere,
    };
    let server = OpenAiServer::start("m", script).await;

    let events = all_events(
        backend("a", &server, "m")
            .start(question(None))
            .await
            .expect("ok"),
    )
    .await;

    assert_eq!(
        events.last(),
        Some(&Ok(ChatEvent::Done {
            model: "m".into(),
            finish_reason: FinishReason::Stop,
            usage: Usage::default(),
        }))
    );
}

#[tokio::test]
async fn a_server_that_ignores_stream_answers_in_one_delta() {
    let script = Script::IgnoreStream {
        text: "all at once".into(),
    };
    let server = OpenAiServer::start("m", script).await;

    let stream = start(
        &router(&format!("a={} model=m", server.url())),
        question(None),
    )
    .await;

    assert_eq!(text_of(stream).await, "all at once");
}

#[tokio::test]
async fn the_request_carries_model_sampling_stop_json_mode_and_the_bearer_key() {
    let server = OpenAiServer::start("gpt-test", Script::reply(&["{}"])).await;
    let router = router(&format!("a={} model=gpt-test key=openai", server.url()));
    let request = ChatRequest {
        sampling: Sampling {
            temperature: 0.25,
            top_p: 0.5,
            seed: Some(42),
        },
        stop: vec!["END".into()],
        json_object: true,
        ..question(None)
    };

    text_of(start(&router, request).await).await;

    let (headers, body) = server.last_request();
    assert_eq!(headers["authorization"], "Bearer sk-test-key");
    assert_eq!(body["model"], "gpt-test");
    assert_eq!(body["messages"][0]["role"], "user");
    assert_eq!(body["messages"][0]["content"], "Say hello");
    assert_eq!(body["temperature"], 0.25);
    assert_eq!(body["top_p"], 0.5);
    assert_eq!(body["seed"], 42);
    assert_eq!(body["max_tokens"], 32);
    assert_eq!(body["stop"][0], "END");
    assert_eq!(body["response_format"]["type"], "json_object");
    assert_eq!(body["stream"], true);
    assert_eq!(body["stream_options"]["include_usage"], true);
}

#[tokio::test]
async fn a_stream_closed_after_its_finish_reason_but_without_done_still_ends_well() {
    let script = Script::EndWithoutDone {
        piece: "short".into(),
        finished: true,
    };
    let server = OpenAiServer::start("m", script).await;

    let stream = backend("a", &server, "m")
        .start(question(None))
        .await
        .expect("ok");

    assert_eq!(text_of(stream).await, "short");
}

#[tokio::test]
async fn a_stream_cut_off_before_its_finish_reason_ends_with_an_error() {
    let script = Script::EndWithoutDone {
        piece: "sho".into(),
        finished: false,
    };
    let server = OpenAiServer::start("m", script).await;

    let events = all_events(
        backend("a", &server, "m")
            .start(question(None))
            .await
            .expect("ok"),
    )
    .await;

    assert_eq!(events[0], Ok(ChatEvent::Delta("sho".into())));
    assert!(
        matches!(&events[1..], [Err(BackendError::Failed(reason))] if reason.contains("ended")),
        "{events:?}"
    );
}

#[tokio::test]
async fn a_model_the_server_does_not_know_is_rejected_with_its_message() {
    let server = OpenAiServer::start("m", Script::reply(&["unused"])).await;

    let error = backend("a", &server, "other-model")
        .start(question(None))
        .await
        .err()
        .expect("the server does not serve other-model");

    assert_eq!(
        error,
        BackendError::Rejected(
            "the model backend refused the request: The model `other-model` does not exist".into()
        )
    );
}

#[tokio::test]
async fn a_wrong_url_is_a_failure_to_fall_back_from_not_a_rejection() {
    let server = OpenAiServer::start("m", Script::reply(&["from b"])).await;
    // Without `/v1` the request reaches a path the server does not route: a bare 404.
    let router = router(&format!(
        "wrong={} model=m {QUICK}; right={} model=m",
        server.url().trim_end_matches("/v1"),
        server.url()
    ));

    assert_eq!(
        text_of(start(&router, question(None)).await).await,
        "from b"
    );
    assert_eq!(
        server.requests(),
        1,
        "only the right URL reached the chat route"
    );
}

#[tokio::test]
async fn concurrent_requests_share_one_router_across_tasks() {
    let server = OpenAiServer::start("m", Script::reply(&["hi"])).await;
    let router = Arc::new(router(&format!("a={} model=m", server.url())));

    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let router = router.clone();
            tokio::spawn(async move { text_of(start(&router, question(None)).await).await })
        })
        .collect();

    for task in tasks {
        assert_eq!(task.await.expect("the task ran"), "hi");
    }
    assert_eq!(server.requests(), 4);
}

#[tokio::test]
async fn the_first_backend_answering_500_moves_to_the_second_within_the_configured_time() {
    let failing = OpenAiServer::start("m", Script::status(500, "boom")).await;
    let healthy = OpenAiServer::start("m", Script::reply(&["from b"])).await;
    let router = router(&format!(
        "a={} model=m {QUICK}; b={} model=m",
        failing.url(),
        healthy.url()
    ));

    let began = Instant::now();
    let text = text_of(start(&router, question(None)).await).await;

    assert_eq!(text, "from b");
    assert_eq!(failing.requests(), 1);
    assert!(
        began.elapsed() < Duration::from_secs(1),
        "{:?}",
        began.elapsed()
    );
}

#[tokio::test]
async fn a_failing_backend_is_retried_as_configured_before_the_next_one() {
    let failing = OpenAiServer::start("m", Script::status(503, "overloaded")).await;
    let healthy = OpenAiServer::start("m", Script::reply(&["from b"])).await;
    let router = router(&format!(
        "a={} model=m retries=2 backoff=20ms; b={} model=m",
        failing.url(),
        healthy.url()
    ));

    let began = Instant::now();
    let text = text_of(start(&router, question(None)).await).await;

    assert_eq!(text, "from b");
    assert_eq!(failing.requests(), 3, "one attempt and two retries");
    // Two waits of at least half of 20 ms and 40 ms.
    assert!(
        began.elapsed() >= Duration::from_millis(30),
        "{:?}",
        began.elapsed()
    );
}

#[tokio::test]
async fn a_backend_with_no_first_token_in_time_moves_to_the_second() {
    let hanging = OpenAiServer::start("m", Script::Hang).await;
    let healthy = OpenAiServer::start("m", Script::reply(&["from b"])).await;
    let router = router(&format!(
        "a={} model=m {QUICK}; b={} model=m",
        hanging.url(),
        healthy.url()
    ));

    let began = Instant::now();
    let text = text_of(start(&router, question(None)).await).await;

    assert_eq!(text, "from b");
    assert_eq!(hanging.requests(), 1);
    let elapsed = began.elapsed();
    assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(1), "{elapsed:?}");
}

#[tokio::test]
async fn a_refused_connection_moves_to_the_second() {
    // A port that was just free and that nobody listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let closed = listener.local_addr().expect("an address");
    drop(listener);
    let healthy = OpenAiServer::start("m", Script::reply(&["from b"])).await;
    let router = router(&format!(
        "a=http://{closed}/v1 model=m {QUICK}; b={} model=m",
        healthy.url()
    ));

    let began = Instant::now();
    let text = text_of(start(&router, question(None)).await).await;

    assert_eq!(text, "from b");
    assert!(
        began.elapsed() < Duration::from_secs(1),
        "{:?}",
        began.elapsed()
    );
}

#[tokio::test]
async fn a_malformed_stream_moves_to_the_second() {
    let broken = OpenAiServer::start("m", Script::Malformed { first: None }).await;
    let healthy = OpenAiServer::start("m", Script::reply(&["from b"])).await;
    let router = router(&format!(
        "a={} model=m {QUICK}; b={} model=m",
        broken.url(),
        healthy.url()
    ));

    assert_eq!(
        text_of(start(&router, question(None)).await).await,
        "from b"
    );
    assert_eq!(broken.requests(), 1);
}

#[tokio::test]
async fn a_failure_after_the_first_delta_reaches_the_caller_and_no_other_backend_is_asked() {
    let broken = OpenAiServer::start(
        "m",
        Script::Malformed {
            first: Some("Hel".into()),
        },
    )
    .await;
    let healthy = OpenAiServer::start("m", Script::reply(&["from b"])).await;
    let router = router(&format!(
        "a={} model=m {QUICK}; b={} model=m",
        broken.url(),
        healthy.url()
    ));

    let events = all_events(start(&router, question(None)).await).await;

    assert_eq!(events[0], Ok(ChatEvent::Delta("Hel".into())));
    assert!(
        matches!(&events[1..], [Err(BackendError::Failed(reason))] if reason.starts_with("a:")),
        "{events:?}"
    );
    assert_eq!(healthy.requests(), 0);
}

#[tokio::test]
async fn a_stream_that_stalls_after_its_first_delta_ends_with_an_error_not_a_hang() {
    let stalling = OpenAiServer::start(
        "m",
        Script::StallAfterFirst {
            first: "Hel".into(),
        },
    )
    .await;
    let router = router(&format!("a={} model=m {QUICK}", stalling.url()));

    let events = tokio::time::timeout(
        Duration::from_secs(1),
        all_events(start(&router, question(None)).await),
    )
    .await
    .expect("the stall is noticed within the timeout");

    assert_eq!(events[0], Ok(ChatEvent::Delta("Hel".into())));
    assert!(
        matches!(&events[1..], [Err(BackendError::Failed(reason))] if reason.contains("stalled")),
        "{events:?}"
    );
}

#[tokio::test]
async fn a_400_from_the_backend_is_reported_as_rejected_and_no_other_backend_is_asked() {
    let refusing = OpenAiServer::start(
        "m",
        Script::status(400, "This model's maximum context length is 2048 tokens"),
    )
    .await;
    let other = OpenAiServer::start("m", Script::reply(&["from b"])).await;
    let router = router(&format!(
        "a={} model=m retries=2; b={} model=m",
        refusing.url(),
        other.url()
    ));

    let error = router
        .start(question(None))
        .await
        .err()
        .expect("the request is rejected");

    let RouteError::Rejected(message) = error else {
        panic!("{error:?}");
    };
    assert!(
        message.contains("maximum context length is 2048"),
        "{message}"
    );
    assert!(!message.contains("127.0.0.1"), "{message}");
    assert_eq!(refusing.requests(), 1, "a rejection is not retried");
    assert_eq!(other.requests(), 0);
}

#[tokio::test]
async fn when_every_backend_fails_the_error_names_none_of_them_and_says_whether_busy() {
    let busy = OpenAiServer::start("m", Script::status(429, "slow down")).await;
    let down = OpenAiServer::start("m", Script::status(502, "bad gateway")).await;

    let only_busy = router(&format!("busy={} model=m {QUICK}", busy.url()));
    let error = only_busy.start(question(None)).await.err().expect("busy");
    assert!(
        matches!(error, RouteError::Unavailable { busy: true, .. }),
        "{error:?}"
    );

    let both = router(&format!(
        "busy={} model=m {QUICK}; down={} model=m {QUICK}",
        busy.url(),
        down.url()
    ));
    let error = both.start(question(None)).await.err().expect("down");
    assert!(
        matches!(error, RouteError::Unavailable { busy: false, .. }),
        "{error:?}"
    );
    let shown = podwise_common::ServiceError::from(error).to_string();
    assert!(
        !shown.contains("busy=") && !shown.contains("down"),
        "{shown}"
    );
}

#[tokio::test]
async fn after_repeated_failures_the_breaker_opens_and_a_success_after_the_cooldown_closes_it() {
    let flaky = OpenAiServer::start("m", Script::status(500, "boom")).await;
    let healthy = OpenAiServer::start("m", Script::reply(&["from b"])).await;
    let router = router(&format!(
        "a={} model=m {QUICK} breaker=2 cooldown=300ms; b={} model=m",
        flaky.url(),
        healthy.url()
    ));

    for _ in 0..2 {
        assert_eq!(
            text_of(start(&router, question(None)).await).await,
            "from b"
        );
    }
    assert_eq!(flaky.requests(), 2);

    // Open: the failing server is not asked any more.
    assert_eq!(
        text_of(start(&router, question(None)).await).await,
        "from b"
    );
    assert_eq!(flaky.requests(), 2);

    // After the cool-down, one trial goes through; it succeeds and closes the breaker.
    flaky.script(Script::reply(&["from a"]));
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(
        text_of(start(&router, question(None)).await).await,
        "from a"
    );
    assert_eq!(
        text_of(start(&router, question(None)).await).await,
        "from a"
    );
    assert_eq!(flaky.requests(), 4);
}

#[tokio::test]
async fn when_every_breaker_is_open_the_caller_is_told_when_to_come_back() {
    let failing = OpenAiServer::start("m", Script::status(500, "boom")).await;
    let router = router(&format!(
        "a={} model=m {QUICK} breaker=1 cooldown=20s",
        failing.url()
    ));
    router
        .start(question(None))
        .await
        .err()
        .expect("fails once");

    let error = router
        .start(question(None))
        .await
        .err()
        .expect("breaker open");

    let RouteError::Unavailable { busy, retry_after } = error else {
        panic!("{error:?}");
    };
    assert!(busy, "an open breaker means trying later can work");
    assert!(retry_after > Duration::from_secs(15) && retry_after <= Duration::from_secs(20));
    assert_eq!(failing.requests(), 1);
}

#[tokio::test]
async fn a_named_model_only_goes_to_the_backend_that_serves_it() {
    let small = OpenAiServer::start("small", Script::reply(&["from small"])).await;
    let large = OpenAiServer::start("large", Script::reply(&["from large"])).await;
    let router = router(&format!(
        "s={} model=small; l={} model=large,large-2",
        small.url(),
        large.url()
    ));

    let text = text_of(start(&router, question(Some("large"))).await).await;

    assert_eq!(text, "from large");
    assert_eq!(small.requests(), 0);
    assert_eq!(large.last_request().1["model"], "large");
}

#[tokio::test]
async fn an_unknown_model_gives_the_no_such_model_error_with_the_list() {
    let small = OpenAiServer::start("small", Script::reply(&["from small"])).await;
    let router = router(&format!("s={} model=small,tiny context=2048", small.url()));

    let error = router
        .start(question(Some("huge")))
        .await
        .err()
        .expect("unknown");

    assert_eq!(
        error,
        RouteError::NoSuchModel {
            model: "huge".into(),
            available: vec!["small".into(), "tiny".into()],
        }
    );
    assert_eq!(small.requests(), 0);
    let models = router.models();
    assert_eq!(models[0].owned_by, "s");
    assert_eq!(models[0].context_length, 2048);
}

#[tokio::test]
async fn a_malformed_backends_setting_reports_every_problem() {
    let settings = settings_with(&[(
        "PODWISE_LLM_BACKENDS",
        "a=ftp://h model=m; b=http://h/v1; a2=http://h/v1 model=m retries=many key=openai",
    )]);

    let error = Router::from_settings(&settings.llm, &settings.openai, None)
        .expect_err("the setting is invalid");

    let error = error.downcast::<SettingsError>().expect("a settings error");
    assert_eq!(error.variables(), ["PODWISE_LLM_BACKENDS"; 4], "{error}");
    let shown = error.to_string();
    for problem in ["'a'", "'b'", "retries=many", "OPENAI_API_KEY"] {
        assert!(shown.contains(problem), "{problem} missing from {shown}");
    }
}

#[tokio::test]
async fn dropping_the_stream_early_closes_the_connection_to_the_server() {
    let script = Script::Slow {
        interval: Duration::from_millis(20),
        pieces: 500,
    };
    let server = OpenAiServer::start("m", script).await;
    let router = router(&format!("a={} model=m", server.url()));
    let mut stream = start(&router, question(None)).await;
    assert!(matches!(stream.next().await, Some(Ok(ChatEvent::Delta(_)))));
    assert!(!server.client_went_away_within(Duration::ZERO).await);

    drop(stream);

    assert!(server.client_went_away_within(Duration::from_secs(1)).await);
}

/// The local engine's place among the backends, played by a backend that echoes.
#[derive(Debug)]
struct Echo;

impl ChatBackend for Echo {
    fn name(&self) -> &str {
        "local"
    }

    fn models(&self) -> Vec<ModelInfo> {
        vec![ModelInfo {
            id: "echo".into(),
            kind: ModelKind::Chat,
            owned_by: "local".into(),
            context_length: 512,
            dimensions: 0,
        }]
    }

    fn start(&self, request: ChatRequest) -> BoxFuture<'_, Result<ChatStream, BackendError>> {
        let text = request.messages.last().map(|m| m.content.clone());
        let done = ChatEvent::Done {
            model: "echo".into(),
            finish_reason: FinishReason::Stop,
            usage: Usage::default(),
        };
        let events = text.map(ChatEvent::Delta).into_iter().chain([done]).map(Ok);
        Box::pin(async move { Ok(stream::iter(events).boxed()) })
    }
}

#[tokio::test]
async fn the_local_backend_stands_first_last_or_nowhere_as_configured() {
    let server = OpenAiServer::start("m", Script::reply(&["remote"])).await;
    let backends = format!("a={} model=m", server.url());
    let local = || Some(Arc::new(Echo) as Arc<dyn ChatBackend>);

    let first = router_with(&backends, "first", local());
    let last = router_with(&backends, "last", local());
    let off = router_with(&backends, "off", local());

    assert_eq!(first.backend_names(), ["local", "a"]);
    assert_eq!(last.backend_names(), ["a", "local"]);
    assert_eq!(off.backend_names(), ["a"]);
    assert_eq!(
        text_of(start(&first, question(None)).await).await,
        "Say hello"
    );
    assert_eq!(text_of(start(&last, question(None)).await).await, "remote");
    let ids: Vec<String> = last.models().into_iter().map(|m| m.id).collect();
    assert_eq!(ids, ["m", "echo"]);
}

#[tokio::test]
async fn the_local_backend_is_the_fallback_when_the_remote_ones_fail() {
    let failing = OpenAiServer::start("m", Script::status(500, "boom")).await;
    let router = router_with(
        &format!("a={} model=m {QUICK}", failing.url()),
        "last",
        Some(Arc::new(Echo)),
    );

    assert_eq!(
        text_of(start(&router, question(None)).await).await,
        "Say hello"
    );
    assert_eq!(failing.requests(), 1);
}

#[tokio::test]
async fn each_attempt_is_counted_per_backend_and_outcome_with_its_tokens() {
    let handle = podwise_common::metrics::handle();
    let failing = OpenAiServer::start("m", Script::status(500, "boom")).await;
    let healthy = OpenAiServer::start("m", Script::reply(&["a", "b", "c"])).await;
    let router = router(&format!(
        "metered-a={} model=m {QUICK}; metered-b={} model=m",
        failing.url(),
        healthy.url()
    ));

    text_of(start(&router, question(None)).await).await;

    let rendered = handle.render();
    let line = |needle: &str| {
        rendered
            .lines()
            .find(|l| l.starts_with(needle))
            .unwrap_or_else(|| panic!("{needle} missing from\n{rendered}"))
            .to_owned()
    };
    let requests = "podwise_llm_backend_requests_total";
    assert!(
        line(&format!(
            "{requests}{{backend=\"metered-a\",outcome=\"failed\"}}"
        ))
        .ends_with(" 1")
    );
    assert!(
        line(&format!(
            "{requests}{{backend=\"metered-b\",outcome=\"ok\"}}"
        ))
        .ends_with(" 1")
    );
    let completion = "podwise_llm_backend_completion_tokens_total{backend=\"metered-b\"}";
    assert!(line(completion).ends_with(" 3"));
    let prompt = "podwise_llm_backend_prompt_tokens_total{backend=\"metered-b\"}";
    assert!(line(prompt).ends_with(&format!(" {PROMPT_TOKENS}")));
    line("podwise_llm_backend_first_token_seconds_bucket{backend=\"metered-b\"");
}
