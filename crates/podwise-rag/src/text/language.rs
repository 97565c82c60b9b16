//! A rough language guess for text that arrives without one (a question typed by a
//! listener, a description of a show with no language tag).

use super::script::is_han;

/// "zh-TW" when the text is mostly Han characters, "en" otherwise (and for empty text).
///
/// A Han character carries about as much as a short English word, so Han characters are
/// weighed against Latin letters at one to three: "今天談 AI 和 GPU" is Chinese, a long
/// English sentence quoting one Chinese name is English.
pub fn detect(text: &str) -> &'static str {
    let han = text.chars().filter(|&c| is_han(c)).count();
    let letters = text
        .chars()
        .filter(|c| c.is_alphabetic() && !is_han(*c))
        .count();
    if han > 0 && han * LETTERS_PER_HAN_CHARACTER >= letters {
        "zh-TW"
    } else {
        "en"
    }
}

/// How many Latin letters weigh as much as one Han character when deciding which
/// language dominates.
const LETTERS_PER_HAN_CHARACTER: usize = 3;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_text_is_taiwanese_chinese_even_with_english_terms() {
        assert_eq!(detect("今天我們來聊半導體產業"), "zh-TW");
        assert_eq!(detect("今天談 AI 和 GPU"), "zh-TW");
        assert_eq!(detect("这个视频讲软件"), "zh-TW");
    }

    #[test]
    fn english_text_and_text_without_letters_are_english() {
        assert_eq!(detect("How do index funds work?"), "en");
        assert_eq!(
            detect("We visited TSMC, 台積電, in Hsinchu last spring."),
            "en"
        );
        assert_eq!(detect(""), "en");
        assert_eq!(detect("12:30 !!!"), "en");
    }
}
