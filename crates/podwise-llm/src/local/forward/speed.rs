//! A timing run of the forward pass alone, without the service around it, for work on the
//! kernels: not a check, so it is ignored unless asked for.
//!
//! `cargo test --release -p podwise-llm --lib decode_speed -- --ignored --nocapture` prints
//! the best and median decoding speed and time to first token over `SPEED_ROUNDS` rounds
//! (default 7) of a 45-token prompt and `SPEED_TOKENS` tokens (default 127), in wall time
//! and in the thread's own CPU time (from `/proc/thread-self/schedstat`), which leaves out
//! the time other processes had the core: on a shared machine, compare the CPU figures.
//! Under `valgrind --tool=callgrind` with one round, the difference between two token
//! counts gives the instructions per token. `SPEED_THREADS` sets the threads (default 1).

use std::fs::File;
use std::io::BufReader;
use std::time::{Duration, Instant};

use candle_core::quantized::gguf_file;

use super::Transformer;
use super::tests::{argmax, model_path};

/// The calling thread's time on a CPU so far, when Linux tells.
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanos = stat.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(nanos))
}

/// Wall and CPU time of `work`.
fn timed<T>(work: impl FnOnce() -> T) -> (T, Duration, Duration) {
    let (wall, cpu) = (Instant::now(), cpu_time());
    let result = work();
    let cpu = cpu.zip(cpu_time()).map_or(Duration::ZERO, |(a, b)| b - a);
    (result, wall.elapsed(), cpu)
}

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
        .num_threads(setting("SPEED_THREADS", 1))
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
    let mut figures: [Vec<f64>; 4] = Default::default();
    for _ in 0..rounds {
        let (mut next, wall, cpu) = timed(|| argmax(model.forward(&prompt, 0).expect("runs")));
        figures[0].push(wall.as_secs_f64() * 1e3);
        figures[1].push(cpu.as_secs_f64() * 1e3);
        let ((), wall, cpu) = timed(|| {
            for i in 0..tokens {
                let logits = model
                    .forward(&[next as u32], prompt.len() + i)
                    .expect("runs");
                next = argmax(logits);
            }
        });
        figures[2].push(tokens as f64 / wall.as_secs_f64());
        figures[3].push(tokens as f64 / cpu.as_secs_f64());
    }
    for f in &mut figures {
        f.sort_by(f64::total_cmp);
    }
    let (best, median) = (rounds.max(1) - 1, rounds / 2);
    let [first, first_cpu, speed, speed_cpu] = &figures;
    eprintln!(
        "decode: best {:.1} tokens/s, median {:.1} (CPU time: best {:.1}, median {:.1}); \
         first token: best {:.1} ms, median {:.1} (CPU time: best {:.1}, median {:.1})",
        speed[best],
        speed[median],
        speed_cpu[best],
        speed_cpu[median],
        first[0],
        first[median],
        first_cpu[0],
        first_cpu[median],
    );
}
