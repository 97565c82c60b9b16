//! A timing run of the forward pass alone, without the service around it, for work on the
//! kernels: not a check, so it is ignored unless asked for.
//!
//! `cargo test --release -p podwise-llm --lib decode_speed -- --ignored --nocapture` prints
//! the best and median decoding speed and time to first token over `SPEED_ROUNDS` rounds
//! (default 7) of a 45-token prompt and `SPEED_TOKENS` tokens (default 127). On a shared
//! machine the best round is the one to compare; under `valgrind --tool=callgrind` with
//! one round, the difference between two token counts is the instructions per token.

use std::fs::File;
use std::io::BufReader;
use std::time::Instant;

use candle_core::quantized::gguf_file;

use super::Transformer;
use super::tests::{argmax, model_path};

fn setting(key: &str, default: usize) -> usize {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
#[ignore = "a timing run, not a check"]
fn decode_speed() {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("a pool");
    pool.install(run);
}

fn run() {
    let path = model_path("llm/SmolLM2-135M-Instruct.Q4_1.gguf");
    let mut reader = BufReader::new(File::open(&path).expect("the model opens"));
    let content = gguf_file::Content::read(&mut reader).expect("a GGUF file");
    let mut model = Transformer::load(&content, &mut reader, "llama").expect("the model loads");
    let prompt: Vec<u32> = (0..45).map(|i| (i * 977 % 40_000) as u32 + 100).collect();
    let (rounds, tokens) = (setting("SPEED_ROUNDS", 7), setting("SPEED_TOKENS", 127));
    let (mut speeds, mut firsts) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let started = Instant::now();
        let mut next = argmax(model.forward(&prompt, 0).expect("runs")) as u32;
        firsts.push(started.elapsed().as_secs_f64() * 1e3);
        let started = Instant::now();
        for i in 0..tokens {
            next = argmax(model.forward(&[next], prompt.len() + i).expect("runs")) as u32;
        }
        speeds.push(tokens as f64 / started.elapsed().as_secs_f64());
    }
    speeds.sort_by(f64::total_cmp);
    firsts.sort_by(f64::total_cmp);
    let n = rounds.max(1);
    eprintln!(
        "decode: best {:.1} tokens/s, median {:.1}; first token: best {:.1} ms, median {:.1}",
        speeds[n - 1],
        speeds[n / 2],
        firsts[0],
        firsts[n / 2]
    );
}
