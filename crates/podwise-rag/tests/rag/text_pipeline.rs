//! The ingestion text pipeline (clean → chunk → tag → tokens) on three-minute
//! transcripts as speech recognition gives them: Mandarin in Simplified characters with
//! spaces for punctuation, and punctuated English.

use std::path::Path;

use podwise_rag::text::TimedText;
use podwise_rag::text::chunk::{Chunk, ChunkOptions, chunk};
use podwise_rag::text::clean::clean_segments;
use podwise_rag::text::language::detect;
use podwise_rag::text::tags::TagVocabulary;
use podwise_rag::text::tokens::search_tokens;

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

fn all_text(chunks: &[Chunk]) -> String {
    chunks.iter().map(|chunk| chunk.text.as_str()).collect()
}

fn assert_well_formed(chunks: &[Chunk], segments: &[TimedText], options: &ChunkOptions) {
    let first = segments.first().map_or(0.0, |s| s.start);
    let last = segments.last().map_or(0.0, |s| s.end);
    for (n, chunk) in chunks.iter().enumerate() {
        assert_eq!(chunk.index as usize, n);
        assert!(chunk.text.chars().count() <= options.max_chars, "{chunk:?}");
        assert!(first <= chunk.start && chunk.start <= chunk.end && chunk.end <= last);
    }
    // Every chunk but the last is long enough to stand on its own.
    for chunk in &chunks[..chunks.len() - 1] {
        assert!(
            chunk.text.chars().count() >= options.min_chars / 2,
            "{chunk:?}"
        );
    }
}

#[test]
fn a_mandarin_transcript_is_cleaned_to_taiwanese_chunked_and_tagged() {
    let segments = transcript("transcript_zh.json");
    let options = ChunkOptions::default();

    let cleaned = clean_segments(&segments, "zh");
    let chunks = chunk(&cleaned, &options);

    let text = all_text(&chunks);
    assert!(text.contains("台積電") && text.contains("晶片") && !text.contains("台积电"));
    for boilerplate in ["歡迎收聽", "記得訂閱", "贊助", "下次見"] {
        assert!(!text.contains(boilerplate), "{boilerplate} in {text}");
    }
    assert!(
        text.contains("我是主持人周欣"),
        "content after the greeting stays"
    );
    assert!(chunks.len() >= 2, "{chunks:#?}");
    assert_well_formed(&chunks, &cleaned, &options);
    assert_eq!(detect(&text), "zh-TW");

    // Tags come from the whole transcript, where the overlap is not counted twice.
    let transcript: Vec<&str> = cleaned.iter().map(|s| s.text.as_str()).collect();
    let tags = TagVocabulary::builtin().tags_for("business", &transcript.join(" "), 3);
    assert_eq!(tags.first().map(String::as_str), Some("半導體"), "{tags:?}");
}

#[test]
fn an_english_transcript_is_chunked_at_sentence_ends_and_tagged() {
    let segments = transcript("transcript_en.json");
    let options = ChunkOptions::default();

    let cleaned = clean_segments(&segments, "en");
    let chunks = chunk(&cleaned, &options);

    let text = all_text(&chunks);
    assert!(!text.contains("sponsored by") && !text.contains("Thanks for listening"));
    assert!(text.contains("0.03 percent") && text.contains("Dr. Eugene Fama"));
    assert!(chunks.len() >= 4, "{chunks:#?}");
    assert_well_formed(&chunks, &cleaned, &options);
    for chunk in &chunks {
        assert!(chunk.text.ends_with(['.', '?', '!']), "{:?}", chunk.text);
    }
    assert_eq!(detect(&text), "en");

    // Tags come from the whole transcript, where the overlap is not counted twice.
    let transcript: Vec<&str> = cleaned.iter().map(|s| s.text.as_str()).collect();
    let tags = TagVocabulary::builtin().tags_for("business", &transcript.join(" "), 3);
    assert_eq!(tags.first().map(String::as_str), Some("投資"), "{tags:?}");
}

#[test]
fn a_question_finds_the_tokens_of_the_chunk_that_answers_it() {
    let cleaned = clean_segments(&transcript("transcript_zh.json"), "zh");
    let chunks = chunk(&cleaned, &ChunkOptions::default());
    let query = search_tokens("熊本廠的補助有多少？");

    let best = chunks
        .iter()
        .max_by_key(|chunk| {
            let tokens = search_tokens(&chunk.text);
            query.iter().filter(|token| tokens.contains(token)).count()
        })
        .expect("chunks");

    assert!(best.text.contains("四千七百六十億日圓"), "{best:?}");
}
