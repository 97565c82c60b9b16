//! Splits text into the pieces that byte-level BPE merges within, following the splitting
//! rule the model was trained with (GGUF `tokenizer.ggml.pre`).
//!
//! The rules are regular expressions in the original tokenizers, with a look-ahead that the
//! `regex` crate does not support; a hand-written scanner over character classes does the
//! same job without a regex engine. Letters and digits are Unicode's: `char::is_alphabetic`
//! and `char::is_numeric` stand in for `\p{L}` and `\p{N}`.

/// The splitting rules this tokenizer knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pretokenizer {
    /// GPT-2: contractions, ` ?letters`, ` ?digits`, ` ?other`, whitespace runs that leave
    /// their last space to the next word.
    Gpt2,
    /// GPT-2 with every digit on its own (SmolLM).
    Gpt2SingleDigits,
    /// Qwen2 and Llama 3: case-insensitive contractions, letters with one leading
    /// non-letter, single digits, punctuation runs that keep their line breaks.
    Qwen2,
}

impl Pretokenizer {
    /// The rule for a GGUF `tokenizer.ggml.pre` value; `None` for one this code lacks.
    pub(crate) fn from_gguf_name(name: &str) -> Option<Self> {
        match name {
            "gpt2" | "default" | "" => Some(Self::Gpt2),
            "smollm" => Some(Self::Gpt2SingleDigits),
            "qwen2" | "llama3" | "llama-bpe" => Some(Self::Qwen2),
            _ => None,
        }
    }

    /// Splits `text` into pieces whose concatenation is `text`.
    pub(crate) fn split(self, text: &str) -> Vec<&str> {
        let chars: Vec<(usize, char)> = text.char_indices().collect();
        let mut pieces = Vec::new();
        let mut at = 0;
        while at < chars.len() {
            let len = match self {
                Self::Gpt2 => gpt2_piece(&chars, at, false),
                Self::Gpt2SingleDigits => gpt2_piece(&chars, at, true),
                Self::Qwen2 => qwen2_piece(&chars, at),
            };
            let start = chars[at].0;
            let end = chars.get(at + len).map_or(text.len(), |&(i, _)| i);
            pieces.push(&text[start..end]);
            at += len;
        }
        pieces
    }
}

fn is_letter(c: char) -> bool {
    c.is_alphabetic()
}

fn is_digit(c: char) -> bool {
    c.is_numeric()
}

fn is_other(c: char) -> bool {
    !c.is_whitespace() && !is_letter(c) && !is_digit(c)
}

/// Length of a contraction (`'s`, `'ll`...) starting at `at`, or 0.
fn contraction(chars: &[(usize, char)], at: usize, any_case: bool) -> usize {
    if chars[at].1 != '\'' {
        return 0;
    }
    let next = |k: usize| {
        chars
            .get(at + k)
            .map(|&(_, c)| if any_case { c.to_ascii_lowercase() } else { c })
    };
    match (next(1), next(2)) {
        (Some('r'), Some('e')) | (Some('v'), Some('e')) | (Some('l'), Some('l')) => 3,
        (Some('s' | 't' | 'm' | 'd'), _) => 2,
        _ => 0,
    }
}

/// How many characters from `at` satisfy `class`.
fn run(chars: &[(usize, char)], at: usize, class: impl Fn(char) -> bool) -> usize {
    chars[at..].iter().take_while(|&&(_, c)| class(c)).count()
}

/// `\s+(?!\S)|\s+`: a whitespace run gives its last character to a following word.
fn whitespace_piece(chars: &[(usize, char)], at: usize) -> usize {
    let len = run(chars, at, char::is_whitespace);
    if len > 1 && at + len < chars.len() {
        len - 1
    } else {
        len
    }
}

fn gpt2_piece(chars: &[(usize, char)], at: usize, single_digits: bool) -> usize {
    let contraction = contraction(chars, at, false);
    if contraction > 0 {
        return contraction;
    }
    let c = chars[at].1;
    // An optional single leading space belongs to the word, number or symbol run after it.
    let (lead, first) = match (c, chars.get(at + 1)) {
        (' ', Some(&(_, next))) if !next.is_whitespace() => (1, next),
        _ => (0, c),
    };
    let body = at + lead;
    if is_letter(first) {
        return lead + run(chars, body, is_letter);
    }
    if is_digit(first) {
        let digits = run(chars, body, is_digit);
        return lead + if single_digits { 1 } else { digits };
    }
    if is_other(first) {
        return lead + run(chars, body, is_other);
    }
    whitespace_piece(chars, at)
}

fn qwen2_piece(chars: &[(usize, char)], at: usize) -> usize {
    let contraction = contraction(chars, at, true);
    if contraction > 0 {
        return contraction;
    }
    let c = chars[at].1;
    let is_newline = |c: char| c == '\r' || c == '\n';
    // `[^\r\n\p{L}\p{N}]?\p{L}+`
    if is_letter(c) {
        return run(chars, at, is_letter);
    }
    if !is_newline(c) && !is_digit(c) && chars.get(at + 1).is_some_and(|&(_, next)| is_letter(next))
    {
        return 1 + run(chars, at + 1, is_letter);
    }
    // `\p{N}`
    if is_digit(c) {
        return 1;
    }
    // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
    let lead = usize::from(c == ' ' && chars.get(at + 1).is_some_and(|&(_, n)| is_other(n)));
    let symbols = run(chars, at + lead, is_other);
    if symbols > 0 {
        let end = at + lead + symbols;
        return lead + symbols + run(chars, end, is_newline);
    }
    // `\s*[\r\n]+`: whitespace up to and including the last line break of the run.
    let spaces = run(chars, at, char::is_whitespace);
    if let Some(last_break) = (at..at + spaces).rev().find(|&i| is_newline(chars[i].1)) {
        return last_break - at + 1;
    }
    whitespace_piece(chars, at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gpt2_keeps_a_leading_space_with_its_word_and_splits_contractions() {
        let pieces = Pretokenizer::Gpt2.split("Hello world, it's  42!");
        assert_eq!(
            pieces,
            ["Hello", " world", ",", " it", "'s", " ", " 42", "!"]
        );
    }

    #[test]
    fn smollm_puts_every_digit_on_its_own() {
        let pieces = Pretokenizer::Gpt2SingleDigits.split("in 2024");
        assert_eq!(pieces, ["in", " 2", "0", "2", "4"]);
    }

    #[test]
    fn a_trailing_whitespace_run_stays_whole() {
        assert_eq!(Pretokenizer::Gpt2.split("a  \n"), ["a", "  \n"]);
    }

    #[test]
    fn qwen2_keeps_line_breaks_with_punctuation_and_splits_digits() {
        let pieces = Pretokenizer::Qwen2.split("Hi!\n\nI'M 12");
        assert_eq!(pieces, ["Hi", "!\n\n", "I", "'M", " ", "1", "2"]);
    }

    #[test]
    fn chinese_text_is_one_letter_run_and_pieces_cover_the_text() {
        let text = "播客推薦：今天聽什麼？ Podcast 123";
        for rule in [Pretokenizer::Gpt2, Pretokenizer::Qwen2] {
            let pieces = rule.split(text);
            assert_eq!(pieces.concat(), text);
            assert_eq!(pieces[0], "播客推薦");
        }
    }
}
