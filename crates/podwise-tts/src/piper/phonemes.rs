//! From English text to the ids a Piper model reads: espeak-ng's IPA for each clause, the
//! clause's punctuation put back (espeak-ng drops it, but the voice was trained with it and
//! pauses and intones by it), then each character looked up in the voice's id map.
//!
//! A sequence is `^`, then every phoneme followed by the pad `_`, then `$`, as the Piper
//! voices were trained. A character the voice has no id for is left out.

use super::config::VoiceConfig;

/// Punctuation that ends a clause for espeak-ng when a space or the end follows it.
const CLAUSE_PUNCTUATION: &[char] = &[',', '.', ';', ':', '!', '?'];

/// The punctuation ending each clause of `text`, in order, as espeak-ng splits it: a mark
/// from [`CLAUSE_PUNCTUATION`] (the last of a run like `?!` or `...`) before a space or the
/// end, closing quotes and brackets skipped over.
pub fn clause_marks(text: &str) -> Vec<char> {
    let chars: Vec<char> = text.chars().collect();
    let mut marks = Vec::new();
    for (i, &c) in chars.iter().enumerate() {
        if !CLAUSE_PUNCTUATION.contains(&c) {
            continue;
        }
        let next = chars[i + 1..]
            .iter()
            .find(|c| !matches!(c, '"' | '\'' | ')' | ']' | '”' | '’'));
        let ends_clause = next.is_none_or(|c| c.is_whitespace());
        let last_of_run = chars
            .get(i + 1)
            .is_none_or(|c| !CLAUSE_PUNCTUATION.contains(c));
        if ends_clause && last_of_run {
            marks.push(c);
        }
    }
    marks
}

/// One phoneme string for the clauses espeak-ng returned, with their punctuation: each
/// clause's mark where espeak-ng split where `text` says it would, otherwise the clauses
/// joined by spaces and the text's final mark at the end. A text that ends without a
/// mark (a chunk cut between words) gets none, as Piper does, so its last word is not
/// said as the end of a sentence.
pub fn with_punctuation(clauses: &[String], text: &str) -> String {
    let marks = clause_marks(text);
    let ends_with_mark = text
        .trim_end()
        .trim_end_matches(['"', '\'', ')', ']', '”', '’'])
        .ends_with(CLAUSE_PUNCTUATION);
    let expected = marks.len() + usize::from(!ends_with_mark);
    let mut out = String::new();
    if clauses.len() == expected {
        for (i, clause) in clauses.iter().enumerate() {
            out.push_str(clause);
            if let Some(&mark) = marks.get(i) {
                out.push(mark);
            }
            if i + 1 < clauses.len() {
                out.push(' ');
            }
        }
    } else {
        out = clauses.join(" ");
        out.push(
            marks
                .last()
                .copied()
                .filter(|_| ends_with_mark)
                .unwrap_or('.'),
        );
    }
    out
}

/// The model's input ids for `phonemes`, and how many characters had no id.
pub fn ids(config: &VoiceConfig, phonemes: &str) -> (Vec<i64>, usize) {
    let mut out = Vec::with_capacity(phonemes.len() * 2 + 3);
    out.extend_from_slice(&config.bos);
    out.extend_from_slice(&config.pad);
    let mut unknown = 0;
    for c in phonemes.chars() {
        match config.ids.get(&c) {
            Some(id) => {
                out.extend_from_slice(id);
                out.extend_from_slice(&config.pad);
            }
            None => unknown += 1,
        }
    }
    out.extend_from_slice(&config.eos);
    (out, unknown)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config() -> VoiceConfig {
        let ids: HashMap<char, Vec<i64>> = [('_', 0), ('^', 1), ('$', 2), (' ', 3), (',', 8)]
            .into_iter()
            .chain([('.', 10), ('h', 20), ('i', 21), ('ˈ', 120)])
            .map(|(c, id)| (c, vec![id]))
            .collect();
        VoiceConfig {
            sample_rate: 22_050,
            espeak_voice: "en-us".to_owned(),
            noise_scale: 0.667,
            length_scale: 1.0,
            noise_w: 0.8,
            bos: vec![1],
            eos: vec![2],
            pad: vec![0],
            ids,
            speakers: 1,
        }
    }

    fn lines(lines: &[&str]) -> Vec<String> {
        lines.iter().map(|l| (*l).to_owned()).collect()
    }

    #[test]
    fn each_clause_gets_back_the_mark_that_ended_it() {
        let text = "Hello, world. Isn't it?";
        assert_eq!(clause_marks(text), [',', '.', '?']);

        let joined = with_punctuation(&lines(&["həlˈoʊ", "wˈɜːld", "ˈɪzənt ɪt"]), text);

        assert_eq!(joined, "həlˈoʊ, wˈɜːld. ˈɪzənt ɪt?");
    }

    #[test]
    fn decimals_and_runs_of_marks_count_once_and_a_mismatch_still_ends_the_text() {
        assert_eq!(
            clause_marks("It is 3.5 m... really?! \"Yes,\" ok"),
            ['.', '!', ',']
        );

        let joined = with_punctuation(&lines(&["ə", "b", "c", "d"]), "One, two.");

        assert_eq!(joined, "ə b c d.");
        let unfinished = with_punctuation(&lines(&["wˈɛlkʌm bˈæk"]), "Welcome back ");
        assert_eq!(unfinished, "wˈɛlkʌm bˈæk");
    }

    #[test]
    fn ids_start_pad_and_end_as_piper_voices_were_trained() {
        let (ids, unknown) = ids(&config(), "hˈi, ŋ.");

        assert_eq!(ids, [1, 0, 20, 0, 120, 0, 21, 0, 8, 0, 3, 0, 10, 0, 2]);
        assert_eq!(unknown, 1);
    }
}
