//! Cleaning of transcripts and descriptions before they are chunked and indexed.
//!
//! In order: HTML is reduced to its text; full-width letters, digits and spaces and other
//! compatibility forms become their plain forms (NFKC), except the punctuation of Chinese
//! text, which stays full-width (，stays ，); URLs, e-mail addresses, emoji, invisible
//! characters and sound annotations such as [音樂] go; Chinese is written in Traditional
//! characters with Taiwan's vocabulary; boilerplate clauses go; whitespace is collapsed.
//! Cleaning is idempotent: cleaning clean text changes nothing.

mod boilerplate;
mod markup;

use std::sync::LazyLock;

use regex::Regex;
use unicode_normalization::UnicodeNormalization as _;

use super::TimedText;
use super::convert::to_taiwanese;
use super::script::is_cjk_punctuation;

/// Cleans transcript or description text for indexing. `language` is a BCP 47 tag
/// ("zh-TW", "zh", "en", ...).
pub fn clean(text: &str, language: &str) -> String {
    let text = without_markup_and_noise(text);
    let text = if is_chinese(language) {
        to_taiwanese(&text)
    } else {
        text
    };
    // Boilerplate is judged on tidy text, so that a clause's length does not depend on
    // the spaces it happened to carry.
    let text = boilerplate::remove(&collapse_whitespace(&text));
    collapse_whitespace(&text)
}

/// Cleans every segment, dropping segments left empty, keeping times.
pub fn clean_segments(segments: &[TimedText], language: &str) -> Vec<TimedText> {
    segments
        .iter()
        .filter_map(|segment| {
            let text = clean(&segment.text, language);
            (!text.is_empty()).then(|| TimedText {
                text,
                ..segment.clone()
            })
        })
        .collect()
}

fn is_chinese(language: &str) -> bool {
    let primary = language.split(['-', '_']).next().unwrap_or_default();
    ["zh", "cmn", "yue"]
        .iter()
        .any(|chinese| primary.eq_ignore_ascii_case(chinese))
}

/// The most rounds of markup and noise removal: a round that changes the text shortens
/// it, and real feeds are escaped at most two or three times.
const MAX_MARKUP_ROUNDS: usize = 8;

/// Decodes references, removes noise, normalises width and strips tags until nothing
/// changes, since each step can reveal work for the others: &lt;b&gt; is a tag once
/// decoded, ＜b＞ once normalised, &lt;🎉b&gt; once the emoji is gone, and removing an
/// emoji can bring a letter and a combining mark together.
fn without_markup_and_noise(text: &str) -> String {
    let mut current = text.to_owned();
    for _ in 0..MAX_MARKUP_ROUNDS {
        let decoded = markup::decode_entities(&current);
        let next = markup::strip_tags(&normalize_width(&without_noise(&decoded)));
        if next == current {
            break;
        }
        current = next;
    }
    current
}

/// `text` without emoji and pictographs, invisible and control characters, URLs,
/// e-mail addresses and sound annotations.
fn without_noise(text: &str) -> String {
    static INVISIBLE: LazyLock<Regex> = LazyLock::new(|| {
        noise_pattern(&[
            r"[\p{Extended_Pictographic}\p{Emoji_Modifier}\p{Regional_Indicator}]",
            r"|[\x{FE0E}\x{FE0F}\x{200B}-\x{200D}\x{2060}\x{20E3}\x{FEFF}\x{00AD}]",
            r"|[\x{E0020}-\x{E007F}]",
        ])
    });
    // Applied once emoji are gone: a variation selector is a word character to the
    // regex engine and would hide the word boundary before www.
    static VISIBLE: LazyLock<Regex> = LazyLock::new(|| {
        noise_pattern(&[
            // A URL ends before trailing punctuation, which belongs to the sentence. No
            // word boundary is asked before the scheme: text runs into URLs (看這裡https://).
            r"(?i)(?:https?://|\bwww\.)[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]*",
            r"[A-Za-z0-9\-_~/#=&%+]",
            r"|[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}",
            r"|(?i)[\[(（【](?:music|applause|laughter|laughs|silence|inaudible",
            r"|音樂|掌聲|笑聲|笑)[\])）】]",
        ])
    });
    let text: String = INVISIBLE
        .replace_all(text, "")
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    VISIBLE.replace_all(&text, "").into_owned()
}

fn noise_pattern(pieces: &[&str]) -> Regex {
    // The patterns are constants of this file, exercised by its tests.
    Regex::new(&pieces.concat()).expect("valid noise patterns")
}

/// NFKC (full-width ＡＢＣ１２３ and the ideographic space become ABC123 and a space,
/// ﬁ becomes fi) on everything but Chinese punctuation, which NFKC would turn into
/// ASCII.
fn normalize_width(text: &str) -> String {
    let mut normalized = String::with_capacity(text.len());
    for piece in text.split_inclusive(is_cjk_punctuation) {
        let (body, mark) = match piece.chars().next_back() {
            Some(last) if is_cjk_punctuation(last) => piece.split_at(piece.len() - last.len_utf8()),
            _ => (piece, ""),
        };
        normalized.extend(body.nfkc());
        normalized.push_str(mark);
    }
    normalized
}

/// One space for every run of whitespace, none at the ends, beside Chinese
/// punctuation (「今天。 明天」 reads 「今天。明天」) or before closing ASCII
/// punctuation (where a removed emoji or URL leaves one).
fn collapse_whitespace(text: &str) -> String {
    let mut collapsed = String::with_capacity(text.len());
    let mut pending_space = false;
    for c in text.chars() {
        if c.is_whitespace() {
            pending_space = !collapsed.is_empty();
            continue;
        }
        let after_punctuation = collapsed
            .chars()
            .next_back()
            .is_some_and(is_cjk_punctuation);
        let closing = matches!(c, '.' | ',' | '!' | '?' | ';' | ':' | ')' | ']' | '}');
        if pending_space && !after_punctuation && !is_cjk_punctuation(c) && !closing {
            collapsed.push(' ');
        }
        pending_space = false;
        collapsed.push(c);
    }
    collapsed
}

#[cfg(test)]
mod tests;
