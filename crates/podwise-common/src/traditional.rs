//! Chinese text in the characters and words of Taiwan.
//!
//! Whisper often writes Mandarin in Simplified characters, whatever the speaker's region,
//! and so do language models. Podwise's listeners read Traditional characters, so Chinese
//! from a model (transcripts, written answers) goes through
//! OpenCC's Simplified-to-Taiwan conversion, which also swaps mainland vocabulary for the
//! words used in Taiwan (软件 → 軟體). Text already in Traditional characters passes
//! through unchanged.
//!
//! One choice is made on top: OpenCC writes 臺, the formal form, where everyday writing
//! in Taiwan (and names such as 台積電 or 台北) uses 台. Speech cannot tell them apart, so
//! the everyday form is kept.

use std::sync::OnceLock;

use ferrous_opencc::OpenCC;
use ferrous_opencc::config::BuiltinConfig;

/// `text` in Traditional characters with Taiwan's vocabulary.
pub fn convert(text: &str) -> String {
    static CONVERTER: OnceLock<Option<OpenCC>> = OnceLock::new();
    let converter = CONVERTER.get_or_init(|| match OpenCC::from_config(BuiltinConfig::S2twp) {
        Ok(converter) => Some(converter),
        Err(error) => {
            // The dictionaries are compiled into the binary, so this is a build defect;
            // the text is still worth returning as it is.
            tracing::error!(%error, "the Simplified-to-Traditional dictionaries did not load");
            None
        }
    });
    match converter {
        Some(converter) => converter.convert(text).replace('臺', "台"),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simplified_characters_and_mainland_words_become_taiwanese() {
        assert_eq!(convert("这个视频讲软件和内存"), "這個影片講軟體和記憶體");
        assert_eq!(convert("台积电在新竹"), "台積電在新竹");
    }

    #[test]
    fn traditional_text_and_latin_letters_are_left_alone() {
        let text = "我們在台北聽 Podcast，討論半導體。";

        assert_eq!(convert(text), text);
    }
}
