//! Which writing system a character belongs to, as the cleaning, chunking and tokenising
//! steps need to know it.

/// A Han (Chinese) character: the unified ideographs, their extensions and the
/// compatibility block, plus 〇, which is written as a numeral in Chinese text.
pub(crate) fn is_han(c: char) -> bool {
    matches!(c,
        '\u{3007}'
        | '\u{3400}'..='\u{4DBF}'
        | '\u{4E00}'..='\u{9FFF}'
        | '\u{F900}'..='\u{FAFF}'
        | '\u{20000}'..='\u{2EBEF}'
        | '\u{2F800}'..='\u{2FA1F}'
        | '\u{30000}'..='\u{323AF}')
}

/// Punctuation of Chinese text that stays full-width: the marks a Traditional Chinese
/// reader expects (，。！？、「」 and their kin), which Unicode normalisation would
/// otherwise fold to ASCII.
pub(crate) fn is_cjk_punctuation(c: char) -> bool {
    matches!(
        c,
        '，' | '。'
            | '！'
            | '？'
            | '、'
            | '；'
            | '：'
            | '「'
            | '」'
            | '『'
            | '』'
            | '（'
            | '）'
            | '《'
            | '》'
            | '〈'
            | '〉'
            | '【'
            | '】'
            | '〔'
            | '〕'
            | '…'
            | '—'
            | '～'
            | '·'
            | '‧'
    )
}

/// Characters between which no space is written: Han characters and CJK punctuation.
pub(crate) fn is_cjk(c: char) -> bool {
    is_han(c) || is_cjk_punctuation(c)
}

/// A character of a Latin-script word or a number (letters of any alphabet other than
/// Han, and digits).
pub(crate) fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() && !is_han(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn han_characters_are_told_from_latin_letters_digits_and_punctuation() {
        assert!("台積電〇𠀋".chars().all(is_han));
        assert!(!"aZ9，。ーあ한".chars().any(is_han));
    }

    #[test]
    fn full_width_chinese_marks_are_cjk_punctuation_but_ascii_marks_are_not() {
        assert!("，。！？、「」；".chars().all(is_cjk_punctuation));
        assert!(!",.!?;\"'".chars().any(is_cjk_punctuation));
    }
}
