//! The sentence chunker over generated text: whatever the mix of scripts, numbers, emoji
//! and accents, the chunks put together are the text, no chunk starts inside a grapheme
//! or a number, and sentences end where they should.

use podwise_tts::text::{Limits, sentences};
use unicode_segmentation::UnicodeSegmentation as _;

/// A small deterministic generator (xorshift), so a failure reproduces from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

/// Pieces text is made of: words, Chinese, numbers with separators, astral characters,
/// emoji sequences, combining marks, and every kind of sentence end.
const PIECES: &[&str] = &[
    "word",
    "Podwise",
    "Dr.",
    "e.g.",
    "J.",
    "3.5",
    "1,000",
    "12,345.67",
    "2024",
    "我們",
    "臺灣",
    "咖啡",
    "𠀀𠀁",
    "👩‍👩‍👧",
    "👍🏽",
    "🇹🇼",
    "é",
    "e\u{301}",
    "a\u{308}\u{301}",
    ". ",
    "! ",
    "? ",
    "。",
    "！",
    "？",
    "；",
    "……",
    "，",
    "、",
    ", ",
    "; ",
    " ",
    " ",
    "\n",
    "「",
    "」",
    "\"",
    "(",
    ")",
    "—",
];

fn generated(rng: &mut Rng) -> String {
    let len = 1 + rng.next() % 120;
    (0..len).map(|_| rng.pick(PIECES)).collect()
}

/// Byte offsets inside numbers: between two digits, or at a separator between digits.
fn inside_number(text: &str, at: usize) -> bool {
    let before: Vec<char> = text[..at].chars().rev().take(2).collect();
    let after: Vec<char> = text[at..].chars().take(2).collect();
    let digit = |c: Option<&char>| c.is_some_and(char::is_ascii_digit);
    let sep = |c: Option<&char>| c.is_some_and(|c| *c == '.' || *c == ',');
    (digit(before.first()) && digit(after.first()))
        || (digit(before.first()) && sep(after.first()) && digit(after.get(1)))
        || (sep(before.first()) && digit(before.get(1)) && digit(after.first()))
}

#[test]
fn chunks_of_generated_text_keep_every_character_and_cut_no_grapheme_or_number() {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    for round in 0..3_000 {
        let text = generated(&mut rng);
        let limits = Limits {
            first: 1 + (rng.next() % 40) as usize,
            max: 4 + (rng.next() % 80) as usize,
        };

        let chunks = sentences(&text, limits);

        assert_eq!(chunks.concat(), text, "round {round}: {text:?}");
        let graphemes: Vec<usize> = text.grapheme_indices(true).map(|(at, _)| at).collect();
        let mut at = 0;
        for chunk in &chunks[..chunks.len().saturating_sub(1)] {
            at += chunk.len();
            assert!(
                graphemes.contains(&at),
                "round {round}: cut inside a grapheme at {at} of {text:?}: {chunks:?}"
            );
            assert!(
                !inside_number(&text, at),
                "round {round}: cut inside a number at {at} of {text:?}: {chunks:?}"
            );
        }
        assert!(
            chunks.iter().all(|c| !c.is_empty()),
            "round {round}: {chunks:?}"
        );
    }
}

#[test]
fn every_sentence_end_starts_a_new_chunk_when_chunks_may_be_long() {
    let generous = Limits {
        first: 10_000,
        max: 10_000,
    };
    let mut rng = Rng(0x0ddba11);
    for round in 0..500 {
        let sentences_in: Vec<String> = (0..1 + rng.next() % 6)
            .map(|_| {
                let words: Vec<&str> = (0..1 + rng.next() % 8)
                    .map(|_| rng.pick(&["Alpha", "Beta", "3.5", "1,000", "我們", "臺灣"]))
                    .collect();
                format!(
                    "{}{}",
                    words.join(" "),
                    rng.pick(&[". ", "! ", "? ", "。", "！"])
                )
            })
            .collect();
        let text = sentences_in.concat();

        let chunks = sentences(&text, generous);

        assert_eq!(chunks, sentences_in, "round {round}: {text:?}");
    }
}
