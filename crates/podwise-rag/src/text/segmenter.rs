//! Chinese word segmentation with jieba.
//!
//! jieba's bundled dictionary is in Simplified characters, and segmenting Traditional
//! text with it splits most words into single characters. So a run of Han characters is
//! copied into Simplified one character at a time (every character keeps its position),
//! the copy is segmented, and each word is read back from the original characters at the
//! same positions. The words of the tag vocabulary are added to the dictionary, so a tag
//! such as 人工智慧 comes out as one word.

use std::sync::LazyLock;
use std::time::{Duration, Instant};

use jieba_rs::Jieba;

use super::convert::simplified_char;
use super::tags::TagVocabulary;

/// A word of a Han run, in the run's own characters, with the shorter dictionary words
/// inside it that search should also find (半導體產業 holds 半導體 and 產業).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SegmentedWord {
    pub(crate) word: String,
    pub(crate) parts: Vec<String>,
}

/// Splits a run of Han characters into words.
pub(crate) fn segment(run: &str) -> Vec<SegmentedWord> {
    let original: Vec<char> = run.chars().collect();
    let simplified: String = original.iter().copied().map(simplified_char).collect();
    let simplified_chars: Vec<char> = simplified.chars().collect();
    let jieba = &SEGMENTER.jieba;
    jieba
        .cut(&simplified, true)
        .into_iter()
        .map(|token| SegmentedWord {
            word: original[token.start..token.end].iter().collect(),
            parts: inner_words(jieba, &simplified_chars[token.start..token.end])
                .map(|(start, end)| original[token.start + start..token.start + end].iter())
                .map(|chars| chars.collect())
                .collect(),
        })
        .collect()
}

/// Loads the segmenter now rather than on the first text, and says how long it took
/// (zero when it was already loaded).
pub(crate) fn warm_up() -> Duration {
    let started = Instant::now();
    let already = LazyLock::get(&SEGMENTER).is_some();
    LazyLock::force(&SEGMENTER);
    if already {
        Duration::ZERO
    } else {
        started.elapsed()
    }
}

struct Segmenter {
    jieba: Jieba,
}

static SEGMENTER: LazyLock<Segmenter> = LazyLock::new(|| {
    let started = Instant::now();
    let mut jieba = Jieba::new();
    let mut added = 0_usize;
    for word in TagVocabulary::builtin().chinese_terms() {
        let simplified: String = word.chars().map(simplified_char).collect();
        jieba.add_word(&simplified, None, None);
        added += 1;
    }
    tracing::info!(
        elapsed_ms = started.elapsed().as_millis(),
        vocabulary_words = added,
        "Chinese word segmenter loaded"
    );
    Segmenter { jieba }
});

/// The 2- and 3-character dictionary words inside a longer word, as character ranges:
/// what jieba's search mode adds to a word, computed here on the word's own positions.
fn inner_words<'a>(
    jieba: &'a Jieba,
    word: &'a [char],
) -> impl Iterator<Item = (usize, usize)> + 'a {
    [2_usize, 3]
        .into_iter()
        .filter(move |&width| word.len() > width)
        .flat_map(move |width| (0..=word.len() - width).map(move |start| (start, start + width)))
        .filter(move |&(start, end)| {
            let candidate: String = word[start..end].iter().collect();
            jieba.has_word(&candidate)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(run: &str) -> Vec<String> {
        segment(run).into_iter().map(|w| w.word).collect()
    }

    #[test]
    fn traditional_text_segments_into_whole_words() {
        let found = words("台灣的半導體產業吸引很多創業者投資");

        for expected in ["半導體", "產業", "創業者", "投資"] {
            assert!(
                found.iter().any(|w| w == expected),
                "{expected} missing from {found:?}"
            );
        }
        assert_eq!(
            words("他決定辭職創業，投資自己"),
            ["他", "決定", "辭職", "創業", "，", "投資", "自己"]
        );
    }

    #[test]
    fn words_keep_their_traditional_characters() {
        assert_eq!(words("記憶體與軟體").concat(), "記憶體與軟體");
    }

    #[test]
    fn a_long_word_offers_the_shorter_words_inside_it() {
        let segmented = segment("半導體產業");
        let all: Vec<&str> = segmented
            .iter()
            .flat_map(|w| w.parts.iter().map(String::as_str).chain([w.word.as_str()]))
            .collect();

        assert!(all.contains(&"半導體"), "{all:?}");
        assert!(all.contains(&"產業"), "{all:?}");
    }

    #[test]
    fn vocabulary_words_are_not_split() {
        assert!(words("我們聊人工智慧").contains(&"人工智慧".to_owned()));
    }
}
