//! Long text cut into sentences, each synthesised on its own so that the first audio is
//! ready early and no engine is handed more than it reads well.
//!
//! A sentence ends after `。！？；…` (and their full-width and ASCII cousins), after a line
//! break, and after `.`, `!` or `?` followed by a space, except where the full stop ends an
//! abbreviation ("Dr.", "e.g."), an initial ("J. K."), or the next word starts in lower
//! case. Quotes and brackets that close the sentence, and the spaces after it, stay with
//! it. A decimal point or a thousands separator is never followed by a space, so "3.5" and
//! "1,000" end nothing.
//!
//! A sentence longer than [`Limits::max`] is cut again at a clause mark, else at a space,
//! else between two Chinese characters; the first chunk is held to [`Limits::first`]
//! the same way, so the listener hears something while the rest is made. No cut ever
//! falls inside a number or a grapheme (an emoji sequence, a letter with its accents), and
//! the chunks put back together are the text exactly.

use unicode_segmentation::GraphemeCursor;

use super::script::{Script, script_of};

/// How long chunks may be, in characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The first chunk is cut down to about this many characters.
    pub first: usize,
    /// Any later chunk is cut down to about this many characters.
    pub max: usize,
}

impl Default for Limits {
    /// A first chunk of two or three words (about a second of speech, which the English
    /// voice makes in about 150 ms), then sentences of up to a long paragraph line.
    fn default() -> Self {
        Self {
            first: 16,
            max: 240,
        }
    }
}

/// How a chunk ends, which decides the pause after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// At the end of a sentence (or a line).
    Sentence,
    /// After a clause mark inside a sentence.
    Clause,
    /// Between two words or characters of one clause.
    Word,
}

/// How `chunk`, as [`sentences`] cut it, ends.
pub fn ending(chunk: &str) -> Ending {
    if chunk.ends_with('\n') {
        return Ending::Sentence;
    }
    let last = chunk
        .trim_end()
        .trim_end_matches(CLOSERS)
        .chars()
        .next_back();
    match last {
        Some(c) if CJK_ENDERS.contains(&c) || ASCII_ENDERS.contains(&c) => Ending::Sentence,
        Some(c) if CLAUSE_MARKS.contains(&c) => Ending::Clause,
        _ => Ending::Word,
    }
}

/// Sentence enders that end a sentence wherever they stand.
const CJK_ENDERS: &[char] = &['。', '！', '？', '；', '…', '．', '｡'];
/// Sentence enders that end one only before a space or the end of the text.
const ASCII_ENDERS: &[char] = &['.', '!', '?'];
/// What may close a sentence after its ender: quotes and brackets.
const CLOSERS: &[char] = &[
    '"', '\'', ')', ']', '}', '」', '』', '）', '】', '》', '〉', '”', '’', '〕',
];
/// Where a long sentence is best cut: after a clause mark.
const CLAUSE_MARKS: &[char] = &['，', '、', '：', ',', ';', ':', '—', '–'];

/// Words that a full stop follows without ending the sentence, in lower case.
const ABBREVIATIONS: &[&str] = &[
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "vs", "etc", "inc", "ltd", "co",
    "corp", "no", "vol", "fig", "approx", "dept", "est", "jan", "feb", "mar", "apr", "jun", "jul",
    "aug", "sep", "sept", "oct", "nov", "dec",
];

/// `text` cut into chunks that together are exactly `text`.
pub fn sentences(text: &str, limits: Limits) -> Vec<&str> {
    let mut chunks = Vec::new();
    let mut start = 0;
    for end in sentence_ends(text).into_iter().chain([text.len()]) {
        if end <= start {
            continue;
        }
        let mut rest = &text[start..end];
        loop {
            let limit = if chunks.is_empty() {
                limits.first
            } else {
                limits.max
            };
            match cut(rest, limit) {
                Some(at) => {
                    chunks.push(&rest[..at]);
                    rest = &rest[at..];
                }
                None => {
                    chunks.push(rest);
                    break;
                }
            }
        }
        start = end;
    }
    chunks
}

/// The byte offsets just past each sentence, with its closers and trailing spaces.
fn sentence_ends(text: &str) -> Vec<usize> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut ends = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let (_, c) = chars[i];
        let ender = CJK_ENDERS.contains(&c) || c == '\n' || ASCII_ENDERS.contains(&c);
        if !ender {
            i += 1;
            continue;
        }
        // Runs of enders and closers ("?!", "……", "。」") end one sentence.
        let mut j = i + 1;
        while j < chars.len()
            && (CJK_ENDERS.contains(&chars[j].1)
                || ASCII_ENDERS.contains(&chars[j].1)
                || CLOSERS.contains(&chars[j].1))
        {
            j += 1;
        }
        let followed_by_space = j == chars.len() || chars[j].1.is_whitespace();
        let ends_here = if ASCII_ENDERS.contains(&c) {
            followed_by_space && !(c == '.' && continues_after_full_stop(text, &chars, i, j))
        } else {
            true
        };
        if ends_here {
            while j < chars.len() && chars[j].1.is_whitespace() {
                j += 1;
            }
            ends.push(chars.get(j).map_or(text.len(), |&(at, _)| at));
        }
        i = j;
    }
    ends
}

/// Whether the full stop at `chars[stop]` (with closers up to `after`) belongs to an
/// abbreviation or an initial, or the next word starts in lower case.
fn continues_after_full_stop(
    text: &str,
    chars: &[(usize, char)],
    stop: usize,
    after: usize,
) -> bool {
    let word_start = chars[..stop]
        .iter()
        .rposition(|&(_, c)| c.is_whitespace() || c == '(' || c == '"')
        .map_or(0, |p| p + 1);
    let word: String = chars[word_start..stop].iter().map(|&(_, c)| c).collect();
    let lower = word.to_lowercase();
    let letters = word.chars().filter(|c| c.is_alphabetic()).count();
    let abbreviation = ABBREVIATIONS.contains(&lower.as_str())
        // "e.g", "U.S", "a.m": dotted abbreviations (not "3.5", a number).
        || (word.contains('.')
            && (1..=4).contains(&letters)
            && word.chars().all(|c| c.is_alphabetic() || c == '.'))
        // "J. K. Rowling": a single capital is an initial.
        || (letters == 1 && word.chars().all(char::is_uppercase));
    let next = text[chars.get(after).map_or(text.len(), |&(at, _)| at)..]
        .trim_start()
        .chars()
        .next();
    abbreviation || next.is_some_and(char::is_lowercase)
}

/// How good a place to cut is, best last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Place {
    /// Anywhere that splits neither a grapheme nor a number.
    Anywhere,
    /// After a space that follows a short word ("to", "the"), which belongs with the next.
    WeakSpace,
    /// Between two Chinese characters.
    Han,
    /// After a run of spaces.
    Space,
    /// After a clause mark and its spaces.
    Clause,
}

/// Where to cut `piece` so that its first part is at most about `limit` characters, or
/// `None` when it is short enough or has no safe place to cut.
fn cut(piece: &str, limit: usize) -> Option<usize> {
    let limit_at = piece.char_indices().nth(limit).map(|(at, _)| at)?;
    // A cut that leaves a sliver is worse than a slightly worse kind of place.
    let floor = piece
        .char_indices()
        .nth(limit / 4)
        .map_or(0, |(at, _)| at)
        .max(1);
    let places = places(piece);
    let best_before = [
        Place::Clause,
        Place::Space,
        Place::Han,
        Place::WeakSpace,
        Place::Anywhere,
    ]
    .into_iter()
    .find_map(|kind| {
        places
            .iter()
            .rev()
            .find(|&&(at, place)| place == kind && at <= limit_at && at >= floor)
    });
    best_before
        .or_else(|| places.iter().find(|&&(at, _)| at > limit_at))
        .map(|&(at, _)| at)
        .filter(|&at| at > 0 && at < piece.len())
}

/// Every safe place to cut `piece`, in order, with the best kind each one is.
fn places(piece: &str) -> Vec<(usize, Place)> {
    let chars: Vec<(usize, char)> = piece.char_indices().collect();
    let mut found = Vec::new();
    for i in 1..chars.len() {
        let (at, c) = chars[i];
        let before = chars[i - 1].1;
        if !safe(piece, &chars, i) {
            continue;
        }
        let place = if before.is_whitespace() && !c.is_whitespace() {
            let mark = chars[..i]
                .iter()
                .rev()
                .find(|&&(_, c)| !c.is_whitespace())
                .is_some_and(|&(_, c)| CLAUSE_MARKS.contains(&c));
            if mark {
                Place::Clause
            } else if short_word_before(&chars[..i]) {
                Place::WeakSpace
            } else {
                Place::Space
            }
        } else if CLAUSE_MARKS.contains(&before) && !before.is_ascii() && !c.is_whitespace() {
            // A full-width clause mark needs no space after it.
            Place::Clause
        } else if script_of(before) == Some(Script::Han) && script_of(c) == Some(Script::Han) {
            Place::Han
        } else if c.is_whitespace() {
            // Spaces stay with the text before them: cut after them instead.
            continue;
        } else {
            Place::Anywhere
        };
        found.push((at, place));
    }
    found
}

/// Whether the word before the trailing spaces of `chars` has three letters or fewer:
/// "to", "the", "a" lean on the word after them.
fn short_word_before(chars: &[(usize, char)]) -> bool {
    let word = chars
        .iter()
        .rev()
        .skip_while(|(_, c)| c.is_whitespace())
        .take_while(|(_, c)| !c.is_whitespace())
        .count();
    word <= 3
}

/// Whether cutting before `chars[i]` keeps graphemes and numbers whole.
fn safe(piece: &str, chars: &[(usize, char)], i: usize) -> bool {
    let digit = |k: usize| chars.get(k).is_some_and(|&(_, c)| c.is_ascii_digit());
    let separator = |k: usize| chars.get(k).is_some_and(|&(_, c)| c == '.' || c == ',');
    let inside_number = (digit(i - 1) && digit(i))
        || (digit(i - 1) && separator(i) && digit(i + 1))
        || (i >= 2 && digit(i - 2) && separator(i - 1) && digit(i));
    !inside_number && is_grapheme_boundary(piece, chars[i].0)
}

fn is_grapheme_boundary(text: &str, at: usize) -> bool {
    GraphemeCursor::new(at, text.len(), true)
        .is_boundary(text, 0)
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(text: &str) -> Vec<&str> {
        sentences(
            text,
            Limits {
                first: 1000,
                max: 1000,
            },
        )
    }

    #[test]
    fn english_sentences_end_at_full_stops_but_not_at_abbreviations_or_decimals() {
        let text = "Dr. Smith paid 3.5 dollars, i.e. 1,000 cents. Then J. K. left! Why? e.g. this.";

        assert_eq!(
            split(text),
            [
                "Dr. Smith paid 3.5 dollars, i.e. 1,000 cents. ",
                "Then J. K. left! ",
                "Why? ",
                "e.g. this.",
            ]
        );
    }

    #[test]
    fn chinese_sentences_end_at_their_marks_with_closing_quotes() {
        assert_eq!(
            split("他說：「好。」今天很熱！真的嗎？……是的；走吧"),
            [
                "他說：「好。」",
                "今天很熱！",
                "真的嗎？……",
                "是的；",
                "走吧"
            ]
        );
    }

    #[test]
    fn each_chunk_says_how_it_ends() {
        assert_eq!(ending("Hello there. "), Ending::Sentence);
        assert_eq!(ending("他說：「好。」"), Ending::Sentence);
        assert_eq!(ending("Title\n"), Ending::Sentence);
        assert_eq!(ending("Welcome back, "), Ending::Clause);
        assert_eq!(ending("今天，"), Ending::Clause);
        assert_eq!(ending("Welcome back "), Ending::Word);
    }

    #[test]
    fn a_first_chunk_cut_between_words_does_not_end_on_a_short_word() {
        let text = "Welcome back to Podwise, the show about podcasts.";

        let chunks = sentences(text, Limits::default());

        assert_eq!(chunks[0], "Welcome back ");
        assert_eq!(chunks[1], "to Podwise, the show about podcasts.");
    }

    #[test]
    fn a_line_break_ends_a_sentence() {
        assert_eq!(split("Title\nBody text"), ["Title\n", "Body text"]);
    }

    #[test]
    fn the_first_chunk_is_cut_at_a_clause_so_audio_starts_early() {
        let text = "Welcome to Podwise, the podcast companion for listeners in Taiwan. Enjoy.";

        let chunks = sentences(
            text,
            Limits {
                first: 30,
                max: 240,
            },
        );

        assert_eq!(
            chunks,
            [
                "Welcome to Podwise, ",
                "the podcast companion for listeners in Taiwan. ",
                "Enjoy."
            ]
        );
    }

    #[test]
    fn a_long_sentence_without_marks_is_cut_between_words_or_characters() {
        let english = "one two three four five six seven eight nine ten";
        let chunks = sentences(english, Limits { first: 12, max: 12 });
        assert!(chunks.iter().all(|c| c.chars().count() <= 14), "{chunks:?}");
        assert_eq!(chunks.concat(), english);

        let chinese = "今天天氣很好我們一起去散步吧";
        let chunks = sentences(chinese, Limits { first: 5, max: 5 });
        assert_eq!(chunks, ["今天天氣很", "好我們一起", "去散步吧"]);
    }

    #[test]
    fn numbers_are_never_cut_even_when_they_are_long() {
        let chunks = sentences("12345678901234567890", Limits { first: 4, max: 4 });
        assert_eq!(chunks, ["12345678901234567890"]);
        let chunks = sentences("ab 1,234.56 cd", Limits { first: 5, max: 5 });
        assert!(chunks.iter().any(|c| c.contains("1,234.56")), "{chunks:?}");
    }
}
