//! Search tokens for keyword (BM25) retrieval, the same for documents and queries.
//!
//! Han text is cut into words by the segmenter, and each word also yields the shorter
//! dictionary words inside it, so a query for 半導體 finds a chunk that says 半導體產業.
//! Latin-script words are lowercased and lightly folded (possessives and regular
//! plurals), numbers stay whole (3.5, 1,000 as 1000), and punctuation and stop words
//! are dropped. Simplified characters are read as Traditional first, so a query typed
//! in either script meets the Traditional transcripts.

use std::collections::HashSet;
use std::sync::LazyLock;
use std::time::Duration;

use super::convert::to_taiwanese;
use super::script::{is_han, is_word_char};
use super::segmenter;

/// Search tokens for BM25: Chinese words by segmentation (search mode, so 半導體產業 yields
/// 半導體 and 產業), English words lowercased with a light plural/possessive folding,
/// numbers kept whole; punctuation and stop words dropped. The same function serves
/// documents and queries.
pub fn search_tokens(text: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    for word in words(text) {
        tokens.extend(word.parts.into_iter().filter(|part| !is_stop_word(part)));
        tokens.push(word.word);
    }
    tokens
}

/// Loads the Chinese word segmenter now, so the first document or query does not pay
/// for it, and says how long loading took (zero when it was already loaded).
pub fn warm_up() -> Duration {
    segmenter::warm_up()
}

/// A word of the text in its indexed form, with the shorter words inside it that search
/// should also find; stop words are already left out.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Word {
    pub(crate) word: String,
    pub(crate) parts: Vec<String>,
}

/// The words of `text` in order, in their indexed form.
pub(crate) fn words(text: &str) -> Vec<Word> {
    let text = to_taiwanese(text);
    let chars: Vec<char> = text.chars().collect();
    let mut words = Vec::new();
    let mut at = 0;
    while at < chars.len() {
        let c = chars[at];
        if is_han(c) {
            let end = run_end(&chars, at, is_han);
            let run: String = chars[at..end].iter().collect();
            words.extend(segmenter::segment(&run).into_iter().map(|segmented| Word {
                word: segmented.word,
                parts: segmented.parts,
            }));
            at = end;
        } else if is_word_char(c) {
            let end = latin_word_end(&chars, at);
            let raw: String = chars[at..end].iter().collect();
            let word = fold_latin(&raw);
            if !word.is_empty() {
                words.push(Word {
                    word,
                    parts: Vec::new(),
                });
            }
            at = end;
        } else {
            at += 1;
        }
    }
    words.retain(|word| !is_stop_word(&word.word));
    words
}

fn run_end(chars: &[char], start: usize, belongs: impl Fn(char) -> bool) -> usize {
    chars[start..]
        .iter()
        .position(|&c| !belongs(c))
        .map_or(chars.len(), |n| start + n)
}

/// Where a Latin-script word or a number starting at `start` ends: it runs over letters
/// and digits, an apostrophe between letters (it's, don't) and a point or comma between
/// digits (3.5, 1,000).
fn latin_word_end(chars: &[char], start: usize) -> usize {
    let mut end = start;
    while end < chars.len() {
        let c = chars[end];
        let joins = |test: fn(&char) -> bool| {
            end > start && chars.get(end + 1).is_some_and(test) && test(&chars[end - 1])
        };
        let inside = is_word_char(c)
            || (matches!(c, '\'' | '’') && joins(|c| c.is_alphabetic()))
            || (matches!(c, '.' | ',') && joins(char::is_ascii_digit));
        if !inside || is_han(c) {
            break;
        }
        end += 1;
    }
    end.max(start + 1)
}

/// The indexed form of a Latin-script word: lowercased, the possessive dropped,
/// thousands separators dropped from numbers, and regular plurals made singular.
fn fold_latin(raw: &str) -> String {
    let mut word = raw.to_lowercase().replace('’', "'");
    if word.chars().any(|c| c.is_ascii_digit()) {
        return word.replace(',', "");
    }
    for possessive in ["'s", "'"] {
        if let Some(stem) = word.strip_suffix(possessive) {
            word = stem.to_owned();
        }
    }
    singular(&word)
}

/// A light, rule-based singular: enough for companies/company, stocks/stock,
/// businesses/business and taxes/tax to meet, without a dictionary. Words that merely
/// end in s (analysis, status, business) are kept.
fn singular(word: &str) -> String {
    let len = word.chars().count();
    if len <= 3 || !word.is_ascii() {
        return word.to_owned();
    }
    if let Some(stem) = word.strip_suffix("ies").filter(|_| len > 4) {
        return format!("{stem}y");
    }
    for ending in ["sses", "shes", "ches", "xes", "zzes"] {
        if word.ends_with(ending) {
            return word[..word.len() - 2].to_owned();
        }
    }
    if ["ss", "us", "is", "'s"].iter().any(|e| word.ends_with(e)) {
        return word.to_owned();
    }
    word.strip_suffix('s').unwrap_or(word).to_owned()
}

fn is_stop_word(word: &str) -> bool {
    static STOP_WORDS: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
        [
            include_str!("../../data/stopwords/zh.txt"),
            include_str!("../../data/stopwords/en.txt"),
        ]
        .into_iter()
        .flat_map(str::lines)
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .collect()
    });
    STOP_WORDS.contains(word)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::super::script::is_cjk_punctuation;
    use super::*;

    fn has(tokens: &[String], token: &str) -> bool {
        tokens.iter().any(|t| t == token)
    }

    #[test]
    fn a_chinese_compound_yields_its_words_for_search() {
        let tokens = search_tokens("半導體產業");

        assert!(has(&tokens, "半導體"), "{tokens:?}");
        assert!(has(&tokens, "產業"), "{tokens:?}");
    }

    #[test]
    fn traditional_chinese_sentences_segment_into_words_without_stop_words() {
        let tokens = search_tokens("我們今天聊創業和投資的風險。");

        assert!(has(&tokens, "創業"), "{tokens:?}");
        assert!(has(&tokens, "投資"), "{tokens:?}");
        assert!(has(&tokens, "風險"), "{tokens:?}");
        assert!(!has(&tokens, "的") && !has(&tokens, "我們") && !has(&tokens, "。"));
    }

    #[test]
    fn english_words_are_lowercased_and_folded_to_their_singular() {
        let tokens = search_tokens("Stocks, the company's Index Funds and two companies!");

        assert_eq!(
            tokens,
            ["stock", "company", "index", "fund", "two", "company"]
        );
    }

    #[test]
    fn words_that_only_end_in_s_keep_it() {
        assert_eq!(
            search_tokens("business analysis status class"),
            ["business", "analysis", "status", "class"]
        );
    }

    #[test]
    fn numbers_stay_whole_and_thousands_separators_go() {
        assert_eq!(
            search_tokens("3.5 percent of 1,000 in 2024."),
            ["3.5", "percent", "1000", "2024"]
        );
        assert_eq!(search_tokens("成長3.5%"), ["成長", "3.5"]);
    }

    #[test]
    fn mixed_chinese_and_english_are_both_tokenised() {
        let tokens = search_tokens("用ChatGPT學英文");

        assert!(
            has(&tokens, "chatgpt") && has(&tokens, "英文"),
            "{tokens:?}"
        );
    }

    #[test]
    fn simplified_queries_meet_traditional_documents() {
        let document = search_tokens("台灣的半導體產業");
        let query = search_tokens("半导体");

        assert!(
            query.iter().all(|token| document.contains(token)),
            "{query:?} {document:?}"
        );
    }

    #[test]
    fn punctuation_emoji_and_blank_text_give_no_tokens() {
        assert!(search_tokens("  ，。！？...---  ").is_empty());
        assert!(search_tokens("").is_empty());
    }

    #[test]
    fn documents_and_queries_are_tokenised_alike() {
        let query = search_tokens("index fund 投資");
        let document = search_tokens("Index funds 是我最推薦的投資方式");

        assert!(
            query.iter().all(|token| document.contains(token)),
            "{query:?} {document:?}"
        );
    }

    proptest! {
        #[test]
        fn tokens_are_whole_words_without_spaces_punctuation_or_capitals(text in "\\PC{0,80}") {
            for token in search_tokens(&text) {
                prop_assert!(!token.is_empty() && !is_stop_word(&token));
                let punctuation = |c: char| {
                    (c.is_ascii_punctuation() && !matches!(c, '.' | '\'')) || is_cjk_punctuation(c)
                };
                prop_assert!(!token.chars().any(|c| c.is_whitespace() || punctuation(c)));
                prop_assert!(token.chars().next().is_some_and(|c| is_han(c) || is_word_char(c)));
                prop_assert_eq!(token.to_lowercase(), token.clone());
            }
        }

        #[test]
        fn a_query_taken_from_a_document_finds_its_english_words(
            words in prop::collection::vec("[A-Za-z]{1,10}", 1..12),
        ) {
            let document = words.join(" ");
            let query = words[words.len() / 2..].join(" ");

            let document_tokens = search_tokens(&document);
            for token in search_tokens(&query) {
                prop_assert!(document_tokens.contains(&token));
            }
        }
    }
}
