//! Text on its way to the engines: cleaned of what no engine should see, split by
//! [`script`] into Han and Latin runs, cut by [`chunk`] into sentences that are
//! synthesised one at a time, and, for Mandarin, given numbers espeak-ng reads well.

pub mod chunk;
pub mod script;

pub use chunk::{Ending, Limits, ending, sentences};
pub use script::{Run, Script, dominant_script, runs};

/// `text` with control characters (a NUL, an escape) turned into spaces: they mean
/// nothing to a listener and would confuse the programs the text is handed to. Line
/// breaks and tabs stay, since a line break ends a sentence.
pub fn clean(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() && c != '\n' && c != '\t' {
                ' '
            } else {
                c
            }
        })
        .collect()
}

/// Whether `text` holds anything an engine would say: a letter, a digit or a Han
/// character, not only spaces and punctuation.
pub fn speakable(text: &str) -> bool {
    text.chars().any(char::is_alphanumeric)
}

/// A Han run rewritten so espeak-ng's Mandarin voice reads its numbers: `1,000` loses the
/// thousands separator (read as digits and a pause otherwise) and `3.5` becomes `3點5`
/// (the decimal point is silently dropped otherwise, saying "35").
pub fn mandarin_numbers(run: &str) -> String {
    let chars: Vec<char> = run.chars().collect();
    let mut out = String::with_capacity(run.len());
    for (i, &c) in chars.iter().enumerate() {
        let between_digits = i > 0
            && chars[i - 1].is_ascii_digit()
            && chars.get(i + 1).is_some_and(char::is_ascii_digit);
        match c {
            ',' if between_digits => {}
            '.' if between_digits => out.push('點'),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_become_spaces_but_line_breaks_stay() {
        assert_eq!(clean("a\u{0}b\u{1b}c\nd\te"), "a b c\nd\te");
    }

    #[test]
    fn punctuation_alone_is_not_speakable() {
        assert!(!speakable(" ...！？ "));
        assert!(speakable("3"));
        assert!(speakable("好"));
    }

    #[test]
    fn mandarin_numbers_keep_their_decimal_point_and_lose_thousands_separators() {
        assert_eq!(
            mandarin_numbers("共1,000個，3.5公斤。"),
            "共1000個，3點5公斤。"
        );
        assert_eq!(mandarin_numbers("好,再見."), "好,再見.");
    }
}
