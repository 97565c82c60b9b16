//! The retrieval fixture (`tests/fixtures/library.json` and `questions.json`): a small
//! library of four shows, and questions whose answer is one known segment. These tests
//! keep the fixture as the retrieval tests rely on it: well formed, and each question
//! answerable from its segment by the words it shares with it.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use podwise_rag::text::clean::clean;
use podwise_rag::text::tokens::search_tokens;
use serde_json::Value;

fn fixture(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let json = std::fs::read_to_string(&path).expect("the fixture is readable");
    serde_json::from_str(&json).expect("the fixture is JSON")
}

fn list<'a>(value: &'a Value, key: &str) -> &'a [Value] {
    value[key].as_array().map(Vec::as_slice).unwrap_or_default()
}

fn text<'a>(value: &'a Value, key: &str) -> &'a str {
    value[key].as_str().unwrap_or_default()
}

#[test]
fn the_library_has_two_business_and_two_education_shows_three_of_them_in_chinese() {
    let library = fixture("library.json");
    let podcasts = list(&library, "podcasts");

    let count =
        |key: &str, wanted: &str| podcasts.iter().filter(|p| text(p, key) == wanted).count();
    assert_eq!(podcasts.len(), 4);
    assert_eq!(
        (
            count("category", "business"),
            count("category", "education")
        ),
        (2, 2)
    );
    assert_eq!(
        (count("language", "zh-TW"), count("language", "en")),
        (3, 1)
    );
    for podcast in podcasts {
        let episodes = list(podcast, "episodes");
        assert_eq!(episodes.len(), 3, "{}", text(podcast, "id"));
        for episode in episodes {
            let segments = list(episode, "segments");
            assert!(
                (15..=30).contains(&segments.len()),
                "{}",
                text(episode, "id")
            );
            let starts: Vec<f64> = segments
                .iter()
                .filter_map(|s| s["start"].as_f64())
                .collect();
            assert!(starts.windows(2).all(|pair| pair[0] < pair[1]));
            assert!(
                segments
                    .iter()
                    .all(|s| s["end"].as_f64() > s["start"].as_f64())
            );
        }
    }
}

#[test]
fn every_question_names_an_episode_and_the_start_of_one_of_its_segments() {
    let library = fixture("library.json");
    let questions = fixture("questions.json");
    let episodes: HashMap<&str, &Value> = list(&library, "podcasts")
        .iter()
        .flat_map(|podcast| list(podcast, "episodes"))
        .map(|episode| (text(episode, "id"), episode))
        .collect();

    let asked = list(&questions, "questions");
    assert!(asked.len() >= 24);
    assert_eq!(list(&questions, "out_of_library").len(), 6);
    let mut covered = HashSet::new();
    for question in asked {
        let episode = episodes
            .get(text(question, "episode_id"))
            .expect("a known episode");
        let start = question["segment_start"].as_f64();
        let segment = list(episode, "segments")
            .iter()
            .find(|s| s["start"].as_f64() == start);
        assert!(segment.is_some(), "{question}");
        covered.insert(text(question, "episode_id"));
    }
    assert_eq!(
        covered.len(),
        episodes.len(),
        "every episode has a question"
    );
}

#[test]
fn each_question_shares_words_with_its_segment_in_the_same_language() {
    let library = fixture("library.json");
    let questions = fixture("questions.json");
    let podcasts = list(&library, "podcasts");
    let segment_text = |episode_id: &str, start: Option<f64>| {
        podcasts
            .iter()
            .flat_map(|podcast| list(podcast, "episodes").iter().map(move |e| (podcast, e)))
            .filter(|(_, episode)| text(episode, "id") == episode_id)
            .flat_map(|(podcast, episode)| {
                list(episode, "segments")
                    .iter()
                    .map(move |s| (text(podcast, "language"), s))
            })
            .find(|(_, segment)| segment["start"].as_f64() == start)
            .map(|(language, segment)| (language, text(segment, "text")))
    };

    for question in list(&questions, "questions") {
        let Some((language, segment)) = segment_text(
            text(question, "episode_id"),
            question["segment_start"].as_f64(),
        ) else {
            panic!("no segment for {question}");
        };
        if language != text(question, "language") {
            continue; // cross-language questions are for the embeddings, not for words
        }
        let asked: HashSet<String> = search_tokens(text(question, "question"))
            .into_iter()
            .collect();
        let answer: HashSet<String> = search_tokens(&clean(segment, language))
            .into_iter()
            .collect();
        assert!(
            asked.intersection(&answer).count() >= 2,
            "{question} / {segment}"
        );
    }
}
