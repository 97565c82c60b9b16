//! Local generation speed next to llama.cpp on the same GGUF file, both on one thread.
//!
//! Run with `cargo bench -p podwise-llm --bench chat --features llama-cpp-reference`
//! after `scripts/fetch-models.sh`; the feature builds llama.cpp, which needs cmake and
//! libclang. Prints, for each engine, the time to the first token (prompt processing
//! included) and the generation speed after it, medians of `BENCH_RUNS` runs (default 3),
//! and our speed as a multiple of llama.cpp's. The target is at least 1.1x.
//!
//! The engines take turns, one run each, so that a change in a shared machine's load
//! falls on both rather than on whichever ran second. On Linux the generation speed is
//! also given per second of the process's CPU time, which leaves out the time other
//! processes had the cores. Figures measured so far are in `benches/README.md`.

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
    /// Tokens per second of the process's CPU time, where Linux reports it.
    tokens_per_cpu_second: Option<f64>,
}

/// The CPU time of the whole process so far (every thread, user and system), from
/// `/proc/self/stat` in clock ticks of 10 ms.
fn cpu_time() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name may hold spaces; the fields after it are plain numbers.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// Tokens per CPU second between the CPU readings `from` and `to`.
fn per_cpu_second(tokens: u32, from: Option<f64>, to: Option<f64>) -> Option<f64> {
    let seconds = to? - from?;
    (seconds > 0.0).then(|| f64::from(tokens) / seconds)
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
                    first.get_or_insert_with(|| (started.elapsed(), cpu_time()));
                }
                ChatEvent::Done { usage, .. } => {
                    let (first, cpu_at_first) = first.expect("some text before the end");
                    let rest = started.elapsed() - first;
                    let tokens = usage.completion_tokens - 1;
                    return Run {
                        first_token: first,
                        tokens_per_second: f64::from(tokens) / rest.as_secs_f64(),
                        tokens_per_cpu_second: per_cpu_second(tokens, cpu_at_first, cpu_time()),
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
    let cpu_at_first = cpu_time();
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
        tokens_per_cpu_second: per_cpu_second(TOKENS - 1, cpu_at_first, cpu_time()),
    }
}

/// The medians of each figure, taken separately.
fn median(runs: &[Run]) -> Run {
    fn middle(mut values: Vec<f64>) -> f64 {
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    }
    let cpu: Option<Vec<f64>> = runs.iter().map(|r| r.tokens_per_cpu_second).collect();
    Run {
        first_token: Duration::from_secs_f64(middle(
            runs.iter().map(|r| r.first_token.as_secs_f64()).collect(),
        )),
        tokens_per_second: middle(runs.iter().map(|r| r.tokens_per_second).collect()),
        tokens_per_cpu_second: cpu.map(middle),
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
    let (podwise, llama) = (median(&podwise), median(&llama));

    println!("SmolLM2-135M-Instruct Q4_1, one thread, {TOKENS} tokens, median of {runs} runs");
    println!(
        "{:<22} {:>16} {:>14} {:>18}",
        "engine", "first token (ms)", "tokens/s", "tokens/CPU second"
    );
    for (name, run) in [("podwise", podwise), ("llama.cpp", llama)] {
        let cpu = run
            .tokens_per_cpu_second
            .map_or_else(|| "-".to_owned(), |v| format!("{v:.1}"));
        println!(
            "{name:<22} {:>16.1} {:>14.1} {cpu:>18}",
            run.first_token.as_secs_f64() * 1e3,
            run.tokens_per_second
        );
    }
    println!(
        "generation speed: {:.2}x llama.cpp (target >= 1.1x)",
        podwise.tokens_per_second / llama.tokens_per_second
    );
    if let (Some(ours), Some(theirs)) = (podwise.tokens_per_cpu_second, llama.tokens_per_cpu_second)
    {
        println!("per CPU second: {:.2}x llama.cpp", ours / theirs);
    }
}
