//! Local generation speed next to llama.cpp on the same GGUF file, both on one thread.
//!
//! Run with `cargo bench -p podwise-llm --bench chat --features llama-cpp-reference`
//! after `scripts/fetch-models.sh`; the feature builds llama.cpp, which needs cmake and
//! libclang. Prints, for each engine, the time to the first token (prompt processing
//! included) and the generation speed after it, medians of `BENCH_RUNS` runs (default 3),
//! and our speed as a multiple of llama.cpp's. The target is at least 1.1x.
//!
//! The engines take turns, one run each, so that a change in a shared machine's load
//! falls on both rather than on whichever ran second. Figures measured so far are in
//! `benches/README.md`.

use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::sampling::LlamaSampler;
use podwise_llm::chat::{ChatBackend, ChatEvent, ChatRequest, Message, Role, Sampling};
use podwise_llm::local::LocalChat;

const MODEL: &str = "llm/SmolLM2-135M-Instruct.Q4_1.gguf";
const SYSTEM: &str = "You are a helpful assistant.";
const QUESTION: &str = "Write a long story about a podcast host in Taipei who interviews \
    tea farmers, and describe each episode.";
const TOKENS: u32 = 128;
const RUNS: usize = 3;

fn runs() -> usize {
    std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(RUNS)
}

/// One measured generation.
#[derive(Debug, Clone, Copy)]
struct Run {
    first_token: Duration,
    tokens_per_second: f64,
}

fn model_path() -> PathBuf {
    let dir = std::env::var_os("PODWISE_MODEL_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models"),
        PathBuf::from,
    );
    let path = dir.join(MODEL);
    assert!(
        path.exists(),
        "{} is missing: run scripts/fetch-models.sh",
        path.display()
    );
    path
}

fn ours(runtime: &tokio::runtime::Runtime, chat: &LocalChat) -> Run {
    let request = ChatRequest {
        model: None,
        messages: vec![
            Message {
                role: Role::System,
                content: SYSTEM.to_owned(),
            },
            Message {
                role: Role::User,
                content: QUESTION.to_owned(),
            },
        ],
        sampling: Sampling {
            temperature: 0.0,
            top_p: 1.0,
            seed: Some(1),
        },
        max_tokens: TOKENS,
        stop: Vec::new(),
        json_object: false,
    };
    runtime.block_on(async {
        let started = Instant::now();
        let mut stream = chat.start(request).await.expect("the local model starts");
        let mut first = None;
        while let Some(event) = stream.next().await {
            match event.expect("generation succeeds") {
                ChatEvent::Delta(_) => {
                    first.get_or_insert_with(|| started.elapsed());
                }
                ChatEvent::Done { usage, .. } => {
                    let first = first.expect("some text before the end");
                    let rest = started.elapsed() - first;
                    return Run {
                        first_token: first,
                        tokens_per_second: f64::from(usage.completion_tokens - 1)
                            / rest.as_secs_f64(),
                    };
                }
            }
        }
        panic!("the stream ended without Done");
    })
}

fn reference(backend: &LlamaBackend, model: &LlamaModel) -> Run {
    let params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(2048))
        .with_n_threads(1)
        .with_n_threads_batch(1);
    let mut context = model
        .new_context(backend, params)
        .expect("a llama.cpp context");
    let prompt = format!(
        "<|im_start|>system\n{SYSTEM}<|im_end|>\n<|im_start|>user\n{QUESTION}<|im_end|>\n\
         <|im_start|>assistant\n"
    );
    let tokens = model.vocab().tokenize(prompt.as_bytes(), false, true);
    let mut sampler = LlamaSampler::greedy();
    let mut batch = LlamaBatch::new(tokens.len().max(1), 1);
    let last = tokens.len() - 1;
    for (i, token) in tokens.iter().enumerate() {
        batch
            .add(
                *token,
                i32::try_from(i).expect("short prompt"),
                &[0],
                i == last,
            )
            .expect("the batch holds the prompt");
    }

    let started = Instant::now();
    context.decode(&mut batch).expect("prompt decodes");
    let mut next = sampler.sample(&context, batch.n_tokens() - 1);
    let first = started.elapsed();
    let start = i32::try_from(tokens.len()).expect("short prompt");
    let end = start + i32::try_from(TOKENS).expect("few tokens") - 1;
    // Every token is generated, end-of-turn included, so both engines do the same work
    // per token; only the rate is compared.
    for position in start..end {
        batch.clear();
        batch
            .add(next, position, &[0], true)
            .expect("one token fits");
        context.decode(&mut batch).expect("token decodes");
        next = sampler.sample(&context, 0);
    }
    let rest = started.elapsed() - first;
    Run {
        first_token: first,
        tokens_per_second: f64::from(TOKENS - 1) / rest.as_secs_f64(),
    }
}

/// The median speed and, separately, the median time to the first token.
fn median(mut runs: Vec<Run>) -> Run {
    let middle = runs.len() / 2;
    runs.sort_by(|a, b| a.tokens_per_second.total_cmp(&b.tokens_per_second));
    let tokens_per_second = runs[middle].tokens_per_second;
    runs.sort_by_key(|r| r.first_token);
    Run {
        first_token: runs[middle].first_token,
        tokens_per_second,
    }
}

fn main() {
    let path = model_path();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    let chat = LocalChat::load(&path, 1, 4).expect("the local model loads");
    let mut backend = LlamaBackend::init().expect("llama.cpp starts");
    backend.void_logs();
    let model = LlamaModel::load_from_file(&backend, &path, &LlamaModelParams::default())
        .expect("llama.cpp loads the model");

    let _warm = (ours(&runtime, &chat), reference(&backend, &model));
    let runs = runs();
    let (mut podwise, mut llama) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        podwise.push(ours(&runtime, &chat));
        llama.push(reference(&backend, &model));
    }
    let (podwise, llama) = (median(podwise), median(llama));

    println!("SmolLM2-135M-Instruct Q4_1, one thread, {TOKENS} tokens, median of {runs} runs");
    println!(
        "{:<22} {:>16} {:>14}",
        "engine", "first token (ms)", "tokens/s"
    );
    for (name, run) in [("podwise", podwise), ("llama.cpp", llama)] {
        println!(
            "{name:<22} {:>16.1} {:>14.1}",
            run.first_token.as_secs_f64() * 1e3,
            run.tokens_per_second
        );
    }
    println!(
        "generation speed: {:.2}x llama.cpp (target >= 1.1x)",
        podwise.tokens_per_second / llama.tokens_per_second
    );
}
