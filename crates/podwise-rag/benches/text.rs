//! Measures the ingestion text pipeline on the three-minute fixture transcripts: the
//! start-up of the Chinese word segmenter (run in a fresh process, it is the first
//! thing measured), then cleaning, chunking, tagging and search tokens per transcript,
//! and the sizes of the chunks the default options give.
//!
//! Run with `cargo bench -p podwise-rag --bench text`. `PODWISE_BENCH_ROUNDS` (default
//! 20) sets how many times each step is repeated for its average.

use std::env;
use std::path::Path;
use std::time::{Duration, Instant};

use podwise_rag::text::TimedText;
use podwise_rag::text::chunk::{ChunkOptions, chunk};
use podwise_rag::text::clean::clean_segments;
use podwise_rag::text::tags::TagVocabulary;
use podwise_rag::text::tokens::{search_tokens, warm_up};

fn main() {
    let rounds: u32 = env::var("PODWISE_BENCH_ROUNDS")
        .ok()
        .map(|value| {
            value
                .parse()
                .expect("PODWISE_BENCH_ROUNDS is a whole number")
        })
        .unwrap_or(20);

    let started = Instant::now();
    let segmenter = warm_up();
    let total = started.elapsed();
    // What the bundled dictionary alone costs, the rest being the Traditional-to-
    // Simplified dictionaries and the tag vocabulary.
    let (_, dictionary) = timed(1, jieba_rs::Jieba::new);
    println!(
        "segmenter start-up: {:.1} ms ({:.1} ms with the call; jieba's dictionary alone {:.1} ms)",
        millis(segmenter),
        millis(total),
        millis(dictionary)
    );

    for (name, language, category) in [
        ("transcript_zh.json", "zh", "business"),
        ("transcript_en.json", "en", "business"),
    ] {
        let segments = transcript(name);
        let raw_chars: usize = segments.iter().map(|s| s.text.chars().count()).sum();
        let options = ChunkOptions::default();

        let (cleaned, clean_time) = timed(rounds, || clean_segments(&segments, language));
        let (chunks, chunk_time) = timed(rounds, || chunk(&cleaned, &options));
        let transcript: Vec<&str> = cleaned.iter().map(|s| s.text.as_str()).collect();
        let transcript = transcript.join(" ");
        let vocabulary = TagVocabulary::builtin();
        let (tags, tag_time) = timed(rounds, || vocabulary.tags_for(category, &transcript, 5));
        let (tokens, token_time) = timed(rounds, || {
            chunks
                .iter()
                .map(|c| search_tokens(&c.text).len())
                .sum::<usize>()
        });

        let sizes: Vec<usize> = chunks.iter().map(|c| c.text.chars().count()).collect();
        println!(
            "\n{name}: {} segments, {raw_chars} characters",
            segments.len()
        );
        println!(
            "  clean   {:>8.2} ms  ({} segments kept)",
            millis(clean_time),
            cleaned.len()
        );
        println!("  chunk   {:>8.2} ms  sizes {sizes:?}", millis(chunk_time));
        let mut previous = "";
        for chunk in &chunks {
            println!(
                "          [{:>6.1} s - {:>6.1} s] {} chars, {} of them repeated",
                chunk.start,
                chunk.end,
                chunk.text.chars().count(),
                repeated(previous, &chunk.text)
            );
            previous = &chunk.text;
        }
        println!("  tags    {:>8.2} ms  {tags:?}", millis(tag_time));
        println!(
            "  tokens  {:>8.2} ms  ({tokens} tokens over all chunks)",
            millis(token_time)
        );
    }
}

fn transcript(name: &str) -> Vec<TimedText> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let json = std::fs::read_to_string(&path).expect("the fixture is readable");
    let fixture: serde_json::Value = serde_json::from_str(&json).expect("the fixture is JSON");
    fixture["segments"]
        .as_array()
        .expect("the fixture has segments")
        .iter()
        .map(|segment| TimedText {
            start: segment["start"].as_f64().expect("a start"),
            end: segment["end"].as_f64().expect("an end"),
            text: segment["text"].as_str().expect("a text").to_owned(),
        })
        .collect()
}

/// How many characters `next` starts with that `previous` ends with (the overlap).
fn repeated(previous: &str, next: &str) -> usize {
    next.char_indices()
        .map(|(at, c)| at + c.len_utf8())
        .rfind(|&end| previous.ends_with(&next[..end]))
        .map_or(0, |end| next[..end].chars().count())
}

/// The result of `step` and its average time over `rounds` runs.
fn timed<T>(rounds: u32, mut step: impl FnMut() -> T) -> (T, Duration) {
    let started = Instant::now();
    let mut result = step();
    for _ in 1..rounds {
        result = step();
    }
    (result, started.elapsed() / rounds.max(1))
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
