//! Conversions between Simplified and Traditional Chinese.
//!
//! Two directions serve two purposes. Text for listeners goes to Traditional characters
//! with Taiwan's vocabulary (OpenCC's S2twp: 软件 → 軟體), keeping 台 where OpenCC
//! writes the formal 臺, as everyday writing in Taiwan and the STT service do. Text for
//! the word segmenter goes the other way, one character at a time, because the
//! segmenter's dictionary is Simplified and its words must map back to the exact
//! characters they came from.

use std::collections::HashMap;
use std::sync::{LazyLock, RwLock};

use ferrous_opencc::OpenCC;
use ferrous_opencc::config::BuiltinConfig;

use super::script::is_han;

/// The most conversion rounds: one converts, a second confirms, and a few characters
/// need a third (see [`to_taiwanese`]).
const MAX_CONVERSION_ROUNDS: usize = 4;

/// `text` in Traditional characters with Taiwan's vocabulary; characters other than
/// Han pass through unchanged. Text already converted comes back as it is.
///
/// One OpenCC pass is not always a fixed point: S2twp turns 幺 into Taiwan's 么, which a
/// second pass reads as Simplified and turns into 麼. Cleaning must be idempotent and a
/// query must meet the cleaned transcript, so the conversion is repeated until the
/// text no longer changes.
pub(crate) fn to_taiwanese(text: &str) -> String {
    let mut current = text.to_owned();
    for _ in 0..MAX_CONVERSION_ROUNDS {
        let next = convert_once(&current);
        if next == current {
            break;
        }
        current = next;
    }
    current
}

fn convert_once(text: &str) -> String {
    static CONVERTER: LazyLock<Option<OpenCC>> =
        LazyLock::new(|| load(BuiltinConfig::S2twp, "Simplified-to-Taiwanese"));
    if !text.chars().any(is_han) {
        return text.to_owned();
    }
    match CONVERTER.as_ref() {
        Some(converter) => converter.convert(text).replace('臺', "台"),
        None => text.to_owned(),
    }
}

/// The Simplified form of one Han character (itself when it has none, or when its
/// Simplified form is not a single character).
pub(crate) fn simplified_char(c: char) -> char {
    static CONVERTER: LazyLock<Option<OpenCC>> =
        LazyLock::new(|| load(BuiltinConfig::Tw2s, "Taiwanese-to-Simplified"));
    // A transcript uses a few thousand distinct characters; remembering them saves a
    // dictionary lookup per character on every document and query.
    static KNOWN: LazyLock<RwLock<HashMap<char, char>>> = LazyLock::new(Default::default);
    if !is_han(c) {
        return c;
    }
    if let Some(&known) = KNOWN.read().unwrap_or_else(|e| e.into_inner()).get(&c) {
        return known;
    }
    let simplified = match CONVERTER.as_ref() {
        Some(converter) => single_char(&converter.convert(c.encode_utf8(&mut [0; 4]))).unwrap_or(c),
        None => c,
    };
    KNOWN
        .write()
        .unwrap_or_else(|e| e.into_inner())
        .insert(c, simplified);
    simplified
}

fn single_char(text: &str) -> Option<char> {
    let mut chars = text.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) => Some(c),
        _ => None,
    }
}

fn load(config: BuiltinConfig, name: &str) -> Option<OpenCC> {
    match OpenCC::from_config(config) {
        Ok(converter) => Some(converter),
        Err(error) => {
            // The dictionaries are compiled into the binary, so this is a build defect;
            // text still flows, only unconverted.
            tracing::error!(%error, conversion = name, "OpenCC dictionaries did not load");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simplified_text_becomes_taiwanese_with_the_everyday_tai() {
        assert_eq!(
            to_taiwanese("这个视频讲软件和内存"),
            "這個影片講軟體和記憶體"
        );
        assert_eq!(to_taiwanese("台湾的半导体产业"), "台灣的半導體產業");
    }

    #[test]
    fn converting_converted_text_changes_nothing() {
        let once = to_taiwanese("幺");

        assert_eq!(to_taiwanese(&once), once);
    }

    #[test]
    fn traditional_and_latin_text_is_left_alone() {
        let text = "我們在台北聽 Podcast，討論半導體。";

        assert_eq!(to_taiwanese(text), text);
        assert_eq!(to_taiwanese("plain English"), "plain English");
    }

    #[test]
    fn characters_are_simplified_one_by_one() {
        let simplified: String = "半導體產業與創業投資"
            .chars()
            .map(simplified_char)
            .collect();

        assert_eq!(simplified, "半导体产业与创业投资");
        assert_eq!(simplified_char('a'), 'a');
        assert_eq!(simplified_char('，'), '，');
    }
}
