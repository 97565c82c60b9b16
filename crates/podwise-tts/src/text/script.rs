//! Which writing system each stretch of a text is in, so that Han runs go to a Mandarin
//! engine and Latin runs to an English one.
//!
//! Digits, spaces, punctuation and symbols belong to no script: they join the run before
//! them (or, at the start of the text, the first run after), so "我有 3 個" stays one
//! Mandarin run and "Google, " one English run. Letters of other alphabets (Greek,
//! Cyrillic, kana) count as Latin: the English engine is the one that can spell them out.

/// A writing system an engine reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Script {
    /// Chinese characters (and bopomofo), read by a Mandarin voice.
    Han,
    /// Latin letters and other alphabets, read by an English voice.
    Latin,
}

/// A stretch of text in one script, borrowed from the text it was cut from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Run<'a> {
    pub script: Script,
    pub text: &'a str,
}

/// The script of a character, or `None` for one that belongs to none.
pub fn script_of(c: char) -> Option<Script> {
    if is_han(c) {
        Some(Script::Han)
    } else if c.is_alphabetic() && !is_cjk_symbol(c) {
        Some(Script::Latin)
    } else {
        None
    }
}

/// Chinese ideographs (the basic block, extensions A to I, compatibility forms) and
/// bopomofo, which zh-TW text uses for pronunciation.
fn is_han(c: char) -> bool {
    matches!(c,
        '\u{3400}'..='\u{4DBF}'
        | '\u{4E00}'..='\u{9FFF}'
        | '\u{F900}'..='\u{FAFF}'
        | '\u{3100}'..='\u{312F}'
        | '\u{31A0}'..='\u{31BF}'
        | '\u{20000}'..='\u{323AF}'
        | '\u{3005}'..='\u{3007}'
    )
}

/// CJK punctuation and full-width forms, some of which Unicode calls alphabetic.
fn is_cjk_symbol(c: char) -> bool {
    matches!(c, '\u{3000}'..='\u{303F}' | '\u{FF00}'..='\u{FFEF}')
}

/// `text` cut into runs of one script each. The runs cover the text exactly, in order; a
/// text with no letters at all is one Latin run.
pub fn runs(text: &str) -> Vec<Run<'_>> {
    let mut runs: Vec<Run<'_>> = Vec::new();
    // The script of the run being built, once a letter has said which.
    let mut current: Option<Script> = None;
    let mut start = 0;
    for (at, c) in text.char_indices() {
        let Some(script) = script_of(c) else {
            continue;
        };
        match current {
            None => current = Some(script),
            Some(open) if open != script => {
                // Punctuation and digits since the last letter stay with the run they
                // follow; the spaces just before the new letter go with it, since that
                // is where the voice changes.
                let end = text[..at].trim_end().len().max(start);
                runs.push(Run {
                    script: open,
                    text: &text[start..end],
                });
                start = end;
                current = Some(script);
            }
            Some(_) => {}
        }
    }
    if start < text.len() || runs.is_empty() {
        runs.push(Run {
            script: current.unwrap_or(Script::Latin),
            text: &text[start..],
        });
    }
    runs
}

/// The script most of `text` is in: Han when it has more Chinese characters than Latin
/// words, so "我在 Google 工作" is Mandarin and "I love 台灣" is English.
pub fn dominant_script(text: &str) -> Script {
    let han = text.chars().filter(|&c| is_han(c)).count();
    let words = text
        .split(|c: char| script_of(c) != Some(Script::Latin))
        .filter(|word| !word.is_empty())
        .count();
    if han > words {
        Script::Han
    } else {
        Script::Latin
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(text: &str) -> Vec<(Script, &str)> {
        runs(text).into_iter().map(|r| (r.script, r.text)).collect()
    }

    #[test]
    fn mixed_text_splits_at_the_change_of_script_and_keeps_every_character() {
        let text = "我在 Google 工作，薪水 3.5 萬。OK!";

        let found = pieces(text);

        assert_eq!(
            found,
            [
                (Script::Han, "我在"),
                (Script::Latin, " Google"),
                (Script::Han, " 工作，薪水 3.5 萬。"),
                (Script::Latin, "OK!"),
            ]
        );
        assert_eq!(found.iter().map(|p| p.1).collect::<String>(), text);
    }

    #[test]
    fn leading_digits_and_punctuation_join_the_first_run() {
        assert_eq!(pieces("「2024年」"), [(Script::Han, "「2024年」")]);
        assert_eq!(pieces("42"), [(Script::Latin, "42")]);
        assert_eq!(pieces(""), [(Script::Latin, "")]);
    }

    #[test]
    fn the_dominant_script_counts_characters_against_words() {
        assert_eq!(dominant_script("我在 Google 工作"), Script::Han);
        assert_eq!(dominant_script("I love 台灣"), Script::Latin);
        assert_eq!(dominant_script("Hello there"), Script::Latin);
        assert_eq!(dominant_script("𠀀𠀁"), Script::Han);
    }
}
