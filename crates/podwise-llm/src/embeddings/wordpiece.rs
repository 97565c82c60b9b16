//! BERT's uncased WordPiece tokenizer, as all-MiniLM-L6-v2 reads text: control characters
//! dropped, CJK ideographs and punctuation split into words of their own, accents
//! stripped, lower-cased, then each word cut greedily into the longest vocabulary pieces
//! (continuations spelled `##...`).

use std::collections::HashMap;

use super::bert_unicode::{FORMAT, NONSPACING_MARK, PUNCTUATION, SPACE_SEPARATOR, STRIPPED};

/// Words longer than this many characters become `[UNK]`, as in BERT.
const MAX_WORD_CHARS: usize = 100;

/// A WordPiece tokenizer over a `vocab.txt` vocabulary (one piece per line, id = line).
#[derive(Debug)]
pub(crate) struct WordPiece {
    ids: HashMap<String, u32>,
    unk: u32,
    /// The id opening every sequence (`[CLS]`).
    pub cls: u32,
    /// The id closing every sequence (`[SEP]`).
    pub sep: u32,
}

impl WordPiece {
    /// Builds the tokenizer from the text of `vocab.txt`; `None` if `[UNK]`, `[CLS]` or
    /// `[SEP]` is missing.
    pub fn from_vocab(text: &str) -> Option<Self> {
        let mut ids = HashMap::new();
        for (id, piece) in text.lines().enumerate() {
            ids.entry(piece.to_owned())
                .or_insert(u32::try_from(id).ok()?);
        }
        Some(Self {
            unk: *ids.get("[UNK]")?,
            cls: *ids.get("[CLS]")?,
            sep: *ids.get("[SEP]")?,
            ids,
        })
    }

    /// The number of ids the tokenizer can produce.
    pub fn vocabulary_len(&self) -> usize {
        self.ids.values().max().map_or(0, |&m| m as usize + 1)
    }

    /// The piece ids of `text`, without `[CLS]` and `[SEP]`.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let mut ids = Vec::new();
        for word in basic_words(text) {
            self.push_pieces(&word, &mut ids);
        }
        ids
    }

    /// Greedy longest-match-first; a word with an unmatchable rest is one `[UNK]`.
    fn push_pieces(&self, word: &str, ids: &mut Vec<u32>) {
        if word.chars().count() > MAX_WORD_CHARS {
            ids.push(self.unk);
            return;
        }
        let first = ids.len();
        let mut start = 0;
        let mut candidate = String::new();
        while start < word.len() {
            let mut end = word.len();
            let found = loop {
                candidate.clear();
                if start > 0 {
                    candidate.push_str("##");
                }
                candidate.push_str(&word[start..end]);
                if let Some(&id) = self.ids.get(&candidate) {
                    break Some(id);
                }
                match word[start..end].char_indices().next_back() {
                    Some((last, _)) if last > 0 => end = start + last,
                    _ => break None,
                }
            };
            let Some(id) = found else {
                ids.truncate(first);
                ids.push(self.unk);
                return;
            };
            ids.push(id);
            start = end;
        }
    }
}

/// BERT's basic tokenization: normalised words split on whitespace, with every
/// punctuation character and CJK ideograph a word of its own.
fn basic_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let end_word = |word: &mut String, words: &mut Vec<String>| {
        if !word.is_empty() {
            words.push(std::mem::take(word));
        }
    };
    for c in text.chars() {
        if c == '\0' || c == '\u{fffd}' || is_control(c) {
            continue;
        }
        if is_whitespace(c) {
            end_word(&mut word, &mut words);
            continue;
        }
        if is_cjk(c) {
            end_word(&mut word, &mut words);
            words.push(c.to_string());
            continue;
        }
        for c in strip_accent(c).into_iter().flat_map(char::to_lowercase) {
            if is_punctuation(c) {
                end_word(&mut word, &mut words);
                words.push(c.to_string());
            } else {
                word.push(c);
            }
        }
    }
    end_word(&mut word, &mut words);
    words
}

fn in_ranges(c: char, ranges: &[(u32, u32)]) -> bool {
    let cp = c as u32;
    ranges
        .binary_search_by(|&(lo, hi)| {
            if hi < cp {
                std::cmp::Ordering::Less
            } else if lo > cp {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

fn is_whitespace(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r') || in_ranges(c, SPACE_SEPARATOR)
}

fn is_control(c: char) -> bool {
    !matches!(c, '\t' | '\n' | '\r') && (c.is_control() || in_ranges(c, FORMAT))
}

fn is_punctuation(c: char) -> bool {
    // BERT counts every non-alphanumeric ASCII symbol ($, ^, `...) as punctuation.
    (c.is_ascii_graphic() && !c.is_ascii_alphanumeric()) || in_ranges(c, PUNCTUATION)
}

/// The CJK Unified Ideographs blocks BERT splits on (not kana or hangul).
fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x4E00..=0x9FFF | 0x3400..=0x4DBF | 0x20000..=0x2A6DF | 0x2A700..=0x2B73F
        | 0x2B740..=0x2B81F | 0x2B820..=0x2CEAF | 0xF900..=0xFAFF | 0x2F800..=0x2FA1F)
}

/// The character with its canonical decomposition's nonspacing marks removed.
fn strip_accent(c: char) -> Vec<char> {
    let cp = c as u32;
    if (0xAC00..=0xD7A3).contains(&cp) {
        // Hangul syllables decompose arithmetically into two or three jamo.
        let s = cp - 0xAC00;
        let (l, v, t) = (0x1100 + s / 588, 0x1161 + (s % 588) / 28, s % 28);
        let mut out = vec![l, v];
        if t > 0 {
            out.push(0x11A7 + t);
        }
        return out.into_iter().filter_map(char::from_u32).collect();
    }
    if let Ok(i) = STRIPPED.binary_search_by_key(&cp, |&(k, _)| k) {
        return STRIPPED[i].1.chars().collect();
    }
    if in_ranges(c, NONSPACING_MARK) {
        return Vec::new();
    }
    vec![c]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_tokenization_splits_punctuation_and_ideographs_and_strips_accents() {
        let words = basic_words("Héllo, WORLD!\t播客\u{200b}café");
        assert_eq!(words, ["hello", ",", "world", "!", "播", "客", "cafe"]);
    }
}

#[cfg(test)]
mod vocabulary_tests {
    use super::*;

    /// MiniLM's vocabulary; the test fails, not skips, when the models are not fetched.
    fn minilm() -> WordPiece {
        let dir = std::env::var_os("PODWISE_MODEL_DIR").map_or_else(
            || std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models"),
            std::path::PathBuf::from,
        );
        let path = dir.join("embeddings/all-MiniLM-L6-v2/vocab.txt");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e}; run scripts/fetch-models.sh", path.display()));
        WordPiece::from_vocab(&text).expect("the vocabulary has its special tokens")
    }

    // Expected ids are the line numbers (from 0) of the pieces in MiniLM's vocab.txt.
    #[test]
    fn english_words_become_whole_pieces_or_continuations() {
        let wp = minilm();
        assert_eq!((wp.cls, wp.sep, wp.unk), (101, 102, 100));
        // Longest match first: "##ffa" (20961) is taken before "##ff" could be.
        assert_eq!(wp.encode("Hello, World!"), [7592, 1010, 2088, 999]);
        assert_eq!(
            wp.encode("unaffable PODCAST café"),
            [14477, 20961, 3468, 16110, 7668]
        );
    }

    #[test]
    fn each_chinese_ideograph_is_a_word_and_unknown_ones_are_unk() {
        // 的 and 天 are in the vocabulary; 播, 客 and 氣 are not.
        assert_eq!(minilm().encode("播客的天氣"), [100, 100, 1916, 1811, 100]);
    }
}
