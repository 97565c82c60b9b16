//! Transcribes one WAV file (16 kHz mono 16-bit PCM, at most 30 s) and prints the segments
//! and the time taken: `cargo run --release -p podwise-stt --example whisper_window --
//! MODEL_DIR FILE.wav [THREADS] [RUNS]`; `WHISPER_LANGUAGE=zh` forces a language,
//! `WHISPER_PROMPT=...` gives a prompt, `WHISPER_WORDS=1` times the words too,
//! `WHISPER_COMPUTE_TYPE=float32` keeps the decoder in f32.

use std::path::Path;
use std::time::Instant;

use podwise_stt::whisper::{ComputeType, DecodeOptions, Whisper};

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter("podwise_stt=debug")
        .with_writer(std::io::stderr)
        .init();
    let args: Vec<String> = std::env::args().collect();
    let [_, model_dir, wav, rest @ ..] = args.as_slice() else {
        anyhow::bail!("usage: whisper_window MODEL_DIR FILE.wav [THREADS] [RUNS]");
    };
    let threads = rest.first().map_or(Ok(1), |t| t.parse())?;
    let runs = rest.get(1).map_or(Ok(1), |r| r.parse())?;
    let started = Instant::now();
    let compute_type = std::env::var("WHISPER_COMPUTE_TYPE")
        .map_or(Ok(ComputeType::default()), |v| {
            ComputeType::from_setting(&v)
        })
        .map_err(anyhow::Error::msg)?;
    let mut whisper = Whisper::load(Path::new(model_dir), threads, compute_type)?;
    eprintln!("loaded {} in {:?}", whisper.name(), started.elapsed());
    let samples = pcm16(&std::fs::read(wav)?)?;
    let options = DecodeOptions {
        language: std::env::var("WHISPER_LANGUAGE").ok(),
        prompt: std::env::var("WHISPER_PROMPT").ok(),
        word_timestamps: std::env::var_os("WHISPER_WORDS").is_some(),
        ..DecodeOptions::default()
    };
    for _ in 0..runs {
        let started = Instant::now();
        let transcript = whisper.transcribe_window(&samples, &options)?;
        let tokens: usize = transcript.segments.iter().map(|s| s.tokens.len()).sum();
        eprintln!("window in {:?}, {tokens} tokens", started.elapsed());
        println!(
            "{} ({:.2}), no speech {:.3}",
            transcript.language, transcript.language_probability, transcript.no_speech_prob
        );
        for s in &transcript.segments {
            println!(
                "[{:6.2} -> {:6.2}] {:.2} {}",
                s.start, s.end, s.avg_logprob, s.text
            );
            for w in &s.words {
                println!(
                    "    {:6.2} -> {:6.2} {:.2} {}",
                    w.start, w.end, w.probability, w.text
                );
            }
        }
    }
    Ok(())
}

/// The samples of a canonical 44-byte-header PCM WAV, scaled to -1..1.
fn pcm16(bytes: &[u8]) -> anyhow::Result<Vec<f32>> {
    let data = bytes
        .windows(4)
        .position(|w| w == b"data")
        .ok_or_else(|| anyhow::anyhow!("no data chunk"))?;
    Ok(bytes[data + 8..]
        .chunks_exact(2)
        .map(|c| f32::from(i16::from_le_bytes([c[0], c[1]])) / 32768.0)
        .collect())
}
