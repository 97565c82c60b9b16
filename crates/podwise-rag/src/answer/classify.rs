//! What a question is: its language, whether it asks for a summary, and which category
//! of the library it is about, judged from the tag vocabulary's words.

use crate::text::language;
use crate::text::tags::TagVocabulary;

/// The categories of the library a question can be about.
pub const CATEGORIES: [&str; 2] = ["business", "education"];

/// Words that ask for a summary rather than a search.
const SUMMARY_MARKERS: [&str; 10] = [
    "總結",
    "摘要",
    "重點整理",
    "懶人包",
    "总结",
    "summarize",
    "summarise",
    "summary",
    "recap",
    "tl;dr",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classified {
    /// "zh-TW" or "en".
    pub language: &'static str,
    pub summary: bool,
    /// "business", "education" or "other".
    pub category: &'static str,
    /// The vocabulary's tags the question mentions.
    pub tags: Vec<String>,
}

pub fn classify(question: &str) -> Classified {
    let lowered = question.to_lowercase();
    let summary = SUMMARY_MARKERS
        .iter()
        .any(|marker| lowered.contains(marker));
    let vocabulary = TagVocabulary::builtin();
    let tags = vocabulary.tags_for("", question, 5);
    let mut best = ("other", 0);
    for category in CATEGORIES {
        let own = vocabulary.tags_of(category);
        let matches = tags.iter().filter(|t| own.contains(&t.as_str())).count();
        if matches > best.1 {
            best = (category, matches);
        }
    }
    Classified {
        language: language::detect(question),
        summary,
        category: best.0,
        tags,
    }
}

/// The request with its summary markers removed, for finding the episode by title:
/// "幫我總結《半導體的故事》" → "半導體的故事".
pub fn summary_subject(question: &str) -> String {
    let mut subject = question.to_owned();
    for marker in SUMMARY_MARKERS {
        subject = replace_ignoring_case(&subject, marker);
    }
    for filler in [
        "幫我",
        "請",
        "一下",
        "這集",
        "那集",
        "節目",
        "內容",
        "please",
        "the episode",
        "episode",
        "of",
        "about",
    ] {
        subject = replace_ignoring_case(&subject, filler);
    }
    subject
        .trim_matches(|c: char| {
            const MARKS: &str = "《》「」『』，。！？：";
            c.is_whitespace() || c.is_ascii_punctuation() || MARKS.contains(c)
        })
        .to_owned()
}

fn replace_ignoring_case(text: &str, needle: &str) -> String {
    let lowered = text.to_lowercase();
    // Lowercasing can change byte lengths outside ASCII; only then fall back to exact.
    if lowered.len() != text.len() {
        return text.replace(needle, " ");
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = 0;
    for (at, _) in lowered.match_indices(needle) {
        if at < rest {
            continue;
        }
        let boundary = |i: usize| {
            !needle.is_ascii()
                || text[..i]
                    .chars()
                    .next_back()
                    .is_none_or(|c| !c.is_ascii_alphanumeric())
        };
        let end = at + needle.len();
        let end_ok = !needle.is_ascii()
            || text[end..]
                .chars()
                .next()
                .is_none_or(|c| !c.is_ascii_alphanumeric());
        if boundary(at) && end_ok {
            out.push_str(&text[rest..at]);
            out.push(' ');
            rest = end;
        }
    }
    out.push_str(&text[rest..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_requests_are_told_from_searches_in_both_languages() {
        assert!(classify("幫我總結半導體那一集").summary);
        assert!(classify("Can you summarize the episode on habits?").summary);
        assert!(!classify("台積電為什麼在新竹？").summary);
    }

    #[test]
    fn the_language_follows_the_script() {
        assert_eq!(classify("什麼是複利？").language, "zh-TW");
        assert_eq!(classify("What is compound interest?").language, "en");
    }

    #[test]
    fn the_subject_of_a_summary_request_is_what_is_left() {
        assert_eq!(summary_subject("幫我總結《半導體的故事》"), "半導體的故事");
        assert_eq!(
            summary_subject("Summarize the episode about sleep"),
            "sleep"
        );
        assert_eq!(summary_subject("summary of Habits"), "Habits");
    }
}
