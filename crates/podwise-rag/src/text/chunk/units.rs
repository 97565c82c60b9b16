//! The units a transcript is packed into chunks from: whole sentences where they fit,
//! and where a sentence is too long for one chunk, its segments, clauses or, at last,
//! pieces cut between characters, each with its time and the strength of the boundary
//! before it.

use std::ops::Range;

use super::super::TimedText;
use super::super::script::{is_cjk, is_word_char};

/// How strongly the text is divided before a unit; chunks end at strong boundaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Boundary {
    /// Between two characters of a clause too long for one chunk.
    Inside,
    /// After a clause mark (，,、) of a sentence too long for one chunk.
    Clause,
    /// Between segments, with no sentence mark: unpunctuated speech recognition.
    Segment,
    /// After a sentence mark (。！？；.!?).
    Sentence,
    /// Between segments that are at least the pause apart.
    Pause,
}

/// A piece of text for the packer, never longer than the longest chunk.
#[derive(Debug, Clone)]
pub(super) struct Unit {
    pub(super) text: String,
    pub(super) chars: usize,
    pub(super) start: f64,
    pub(super) end: f64,
    /// What divides this unit from the one before it.
    pub(super) boundary: Boundary,
    /// Whether a space is written between this unit and the one before it.
    pub(super) space_before: bool,
}

/// Abbreviations whose full stop does not end a sentence (compared in lowercase).
const ABBREVIATIONS: [&str; 24] = [
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc", "e.g", "i.e", "inc", "ltd",
    "co", "corp", "no", "u.s", "u.k", "a.m", "p.m", "approx", "dept", "fig",
];

/// A segment with sane times and its text's characters, trimmed.
struct Segment {
    start: f64,
    end: f64,
    chars: Vec<char>,
}

/// A span of one segment's characters.
#[derive(Debug, Clone)]
struct Piece {
    segment: usize,
    range: Range<usize>,
    space_before: bool,
    /// Whether the piece ends with a sentence mark.
    ends_sentence: bool,
    /// What divides this piece from the next.
    boundary_after: Boundary,
}

/// The units of `segments`, in order, none longer than `max_chars` characters.
pub(super) fn units(segments: &[TimedText], max_chars: usize, pause_seconds: f64) -> Vec<Unit> {
    let segments = sanitized(segments);
    let pieces = sentence_pieces(&segments, pause_seconds);
    let mut units = Vec::new();
    let mut boundary = Boundary::Pause;
    for sentence in pieces.split_inclusive(|piece| piece.boundary_after != Boundary::Segment) {
        // Speech recognition without punctuation runs on until a pause; its segments
        // are the units then, so that chunks can end and overlap at any of them.
        let punctuated = sentence.last().is_some_and(|piece| piece.ends_sentence);
        if punctuated && joined_chars(sentence) <= max_chars {
            units.push(unit(&segments, sentence, boundary));
        } else {
            for (index, piece) in sentence.iter().enumerate() {
                let first = if index == 0 {
                    boundary
                } else {
                    Boundary::Segment
                };
                if piece.range.len() <= max_chars {
                    units.push(unit(&segments, std::slice::from_ref(piece), first));
                } else {
                    split_long_piece(&segments, piece, first, max_chars, &mut units);
                }
            }
        }
        boundary = sentence
            .last()
            .map_or(Boundary::Pause, |piece| piece.boundary_after);
    }
    monotonic(&mut units);
    units
}

/// Segments in time order, with text, finite times and an end no earlier than the start.
fn sanitized(segments: &[TimedText]) -> Vec<Segment> {
    let mut sane: Vec<Segment> = Vec::with_capacity(segments.len());
    for segment in segments {
        let chars: Vec<char> = segment.text.trim().chars().collect();
        if chars.is_empty() {
            continue;
        }
        // A segment without a usable time is placed where the previous one ended.
        let previous_end = sane.last().map_or(0.0, |previous| previous.end);
        let start = if segment.start.is_finite() {
            segment.start
        } else {
            previous_end
        };
        let end = if segment.end.is_finite() {
            segment.end.max(start)
        } else {
            start
        };
        sane.push(Segment { start, end, chars });
    }
    sane.sort_by(|a, b| a.start.total_cmp(&b.start));
    sane
}

/// Every segment cut after its sentence marks, with the boundary after each piece.
fn sentence_pieces(segments: &[Segment], pause_seconds: f64) -> Vec<Piece> {
    let mut pieces = Vec::new();
    for (index, segment) in segments.iter().enumerate() {
        let ends = sentence_ends(&segment.chars);
        let ranges = cut(&segment.chars, 0..segment.chars.len(), &ends);
        let pause = segments
            .get(index + 1)
            .is_none_or(|next| next.start - segment.end >= pause_seconds);
        let count = ranges.len();
        for (n, (range, space_before)) in ranges.into_iter().enumerate() {
            let ends_sentence = ends.contains(&range.end);
            let boundary_after = match (n + 1 == count, pause, ends_sentence) {
                (true, true, _) => Boundary::Pause,
                (_, _, true) => Boundary::Sentence,
                _ => Boundary::Segment,
            };
            let space_before = if n == 0 {
                index > 0 && !joins_without_space(&segments[index - 1], segment)
            } else {
                space_before
            };
            pieces.push(Piece {
                segment: index,
                range,
                space_before,
                ends_sentence,
                boundary_after,
            });
        }
    }
    pieces
}

fn joins_without_space(previous: &Segment, next: &Segment) -> bool {
    match (previous.chars.last(), next.chars.first()) {
        (Some(&last), Some(&first)) => is_cjk(last) && is_cjk(first),
        _ => false,
    }
}

/// Positions right after each sentence end in `chars`: after 。！？；!? and after a full
/// stop that a space or the end follows, unless it closes an abbreviation (Dr.) or an
/// initial (J.); closing quotes and further marks stay with the sentence (？！」).
fn sentence_ends(chars: &[char]) -> Vec<usize> {
    let mut ends = Vec::new();
    let mut at = 0;
    while at < chars.len() {
        let ends_here = match chars[at] {
            '。' | '！' | '？' | '；' | '!' | '?' => true,
            '.' => {
                let next = chars.get(at + 1).copied();
                next.is_none_or(|c| c.is_whitespace() || is_closing(c))
                    && !closes_abbreviation(chars, at)
            }
            _ => false,
        };
        at += 1;
        if ends_here {
            while chars
                .get(at)
                .is_some_and(|&c| is_closing(c) || is_end_mark(c))
            {
                at += 1;
            }
            ends.push(at);
        }
    }
    ends
}

fn is_closing(c: char) -> bool {
    matches!(c, '」' | '』' | '）' | ')' | '"' | '\'' | '”' | '’' | '》')
}

fn is_end_mark(c: char) -> bool {
    matches!(c, '。' | '！' | '？' | '!' | '?' | '.')
}

/// Whether the full stop at `dot` closes an abbreviation or a single-letter initial.
fn closes_abbreviation(chars: &[char], dot: usize) -> bool {
    let word_start = chars[..dot]
        .iter()
        .rposition(|&c| !(c.is_alphabetic() || c == '.'))
        .map_or(0, |n| n + 1);
    let word: String = chars[word_start..dot]
        .iter()
        .collect::<String>()
        .to_lowercase();
    let initial = word.chars().count() == 1 && chars[word_start].is_uppercase();
    initial || ABBREVIATIONS.contains(&word.as_str())
}

/// `range` cut at `positions`, each piece trimmed of whitespace (empty pieces dropped),
/// with whether whitespace separated it from the piece before.
fn cut(chars: &[char], range: Range<usize>, positions: &[usize]) -> Vec<(Range<usize>, bool)> {
    let mut pieces = Vec::new();
    let mut from = range.start;
    let mut space_before = false;
    let inner = positions
        .iter()
        .copied()
        .filter(|&p| p > range.start && p < range.end);
    for to in inner.chain([range.end]) {
        let start = from
            + chars[from..to]
                .iter()
                .take_while(|c| c.is_whitespace())
                .count();
        let end = to
            - chars[start..to]
                .iter()
                .rev()
                .take_while(|c| c.is_whitespace())
                .count();
        if start < end {
            pieces.push((start..end, space_before || start > from));
            space_before = false;
        }
        space_before |= end < to;
        from = to;
    }
    pieces
}

fn split_long_piece(
    segments: &[Segment],
    piece: &Piece,
    boundary: Boundary,
    max_chars: usize,
    units: &mut Vec<Unit>,
) {
    let chars = &segments[piece.segment].chars;
    let clause_ends: Vec<usize> = (piece.range.start..piece.range.end)
        .filter(|&at| is_clause_mark(chars, at))
        .map(|at| at + 1)
        .collect();
    let clauses = cut(chars, piece.range.clone(), &clause_ends);
    for (n, (clause, space_before)) in clauses.into_iter().enumerate() {
        let (first_boundary, first_space) = match n {
            0 => (boundary, piece.space_before),
            _ => (Boundary::Clause, space_before),
        };
        let parts = if clause.len() <= max_chars {
            vec![(clause, first_space)]
        } else {
            let cuts = character_cuts(chars, clause.clone(), max_chars);
            let mut parts = cut(chars, clause, &cuts);
            if let Some(first) = parts.first_mut() {
                first.1 = first_space;
            }
            parts
        };
        for (m, (range, space_before)) in parts.into_iter().enumerate() {
            let boundary = if m == 0 {
                first_boundary
            } else {
                Boundary::Inside
            };
            let part = Piece {
                range,
                space_before,
                ..piece.clone()
            };
            units.push(unit(segments, std::slice::from_ref(&part), boundary));
        }
    }
}

/// A clause mark: ，、 or a comma that does not separate thousands (1,000).
fn is_clause_mark(chars: &[char], at: usize) -> bool {
    match chars[at] {
        '，' | '、' => true,
        ',' => {
            !(at > 0
                && chars[at - 1].is_ascii_digit()
                && chars.get(at + 1).is_some_and(char::is_ascii_digit))
        }
        _ => false,
    }
}

/// Cut positions that keep every piece of `range` within `max_chars`: at a space in the
/// second half of the allowance, else at the latest boundary that is not inside a
/// Latin word or a number, else (a single word longer than a chunk) at the limit.
fn character_cuts(chars: &[char], range: Range<usize>, max_chars: usize) -> Vec<usize> {
    let mut cuts = Vec::new();
    let mut from = range.start;
    while range.end - from > max_chars {
        let limit = from + max_chars;
        let half = from + max_chars / 2 + 1;
        let at_space = (half..=limit).rev().find(|&at| chars[at].is_whitespace());
        let between = (from + 1..=limit).rev().find(|&at| !glued(chars, at));
        let at = at_space.or(between).unwrap_or(limit);
        cuts.push(at);
        from = at + chars[at..].iter().take_while(|c| c.is_whitespace()).count();
    }
    cuts
}

/// Whether the boundary before `at` is inside a Latin word or a number (3.5, 1,000).
fn glued(chars: &[char], at: usize) -> bool {
    let word = |i: usize| chars.get(i).is_some_and(|&c| is_word_char(c));
    let digit = |i: usize| chars.get(i).is_some_and(char::is_ascii_digit);
    let separator = |i: usize| chars.get(i).is_some_and(|&c| c == '.' || c == ',');
    (at > 0 && word(at - 1) && word(at))
        || (at > 0 && separator(at) && digit(at - 1) && digit(at + 1))
        || (at > 1 && separator(at - 1) && digit(at - 2) && digit(at))
}

fn joined_chars(pieces: &[Piece]) -> usize {
    pieces
        .iter()
        .enumerate()
        .map(|(n, piece)| piece.range.len() + usize::from(n > 0 && piece.space_before))
        .sum()
}

/// One unit of consecutive pieces, timed from the characters they cover.
fn unit(segments: &[Segment], pieces: &[Piece], boundary: Boundary) -> Unit {
    let mut text = String::new();
    for (n, piece) in pieces.iter().enumerate() {
        if n > 0 && piece.space_before {
            text.push(' ');
        }
        text.extend(&segments[piece.segment].chars[piece.range.clone()]);
    }
    let (first, last) = (&pieces[0], &pieces[pieces.len() - 1]);
    Unit {
        chars: joined_chars(pieces),
        text,
        start: time_at(&segments[first.segment], first.range.start),
        end: time_at(&segments[last.segment], last.range.end),
        boundary,
        space_before: first.space_before,
    }
}

/// The time of a character position, interpolated by characters across the segment.
fn time_at(segment: &Segment, position: usize) -> f64 {
    let share = position as f64 / segment.chars.len() as f64;
    segment.start + (segment.end - segment.start) * share
}

/// The longest end of `unit` that starts after one of its clause marks (，、,) and is at
/// most `max_chars` long, timed by characters within the unit.
pub(super) fn last_clauses(unit: &Unit, max_chars: usize) -> Option<Unit> {
    let chars: Vec<char> = unit.text.chars().collect();
    let from = (1..chars.len())
        .filter(|&at| is_clause_mark(&chars, at - 1))
        .map(|at| at + chars[at..].iter().take_while(|c| c.is_whitespace()).count())
        .find(|&start| start < chars.len() && chars.len() - start <= max_chars)?;
    let share = from as f64 / chars.len() as f64;
    Some(Unit {
        text: chars[from..].iter().collect(),
        chars: chars.len() - from,
        start: unit.start + (unit.end - unit.start) * share,
        end: unit.end,
        boundary: Boundary::Clause,
        space_before: false,
    })
}

/// Makes unit times run forward even where segments overlap in time, so chunk starts
/// never go back.
fn monotonic(units: &mut [Unit]) {
    let mut latest_start = f64::NEG_INFINITY;
    for unit in units {
        unit.start = unit.start.max(latest_start);
        unit.end = unit.end.max(unit.start);
        latest_start = unit.start;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sentences(text: &str) -> Vec<String> {
        let chars: Vec<char> = text.chars().collect();
        let ends = sentence_ends(&chars);
        cut(&chars, 0..chars.len(), &ends)
            .into_iter()
            .map(|(range, _)| chars[range].iter().collect())
            .collect()
    }

    #[test]
    fn chinese_sentence_marks_end_sentences_with_their_closing_quotes() {
        assert_eq!(
            sentences("他說：「好！」然後呢？？我們走吧；好。"),
            ["他說：「好！」", "然後呢？？", "我們走吧；", "好。"]
        );
    }

    #[test]
    fn english_full_stops_end_sentences_except_in_numbers_abbreviations_and_initials() {
        assert_eq!(
            sentences("J. K. Rowling met Dr. Chen at 3.5 p.m. today. Really? Yes! e.g. this."),
            [
                "J. K. Rowling met Dr. Chen at 3.5 p.m. today.",
                "Really?",
                "Yes!",
                "e.g. this."
            ]
        );
    }

    #[test]
    fn the_last_clauses_of_a_unit_are_its_longest_end_after_a_clause_mark_within_the_limit() {
        let unit = Unit {
            text: "One, two, three and four".to_owned(),
            chars: 24,
            start: 0.0,
            end: 24.0,
            boundary: Boundary::Sentence,
            space_before: false,
        };

        let last = last_clauses(&unit, 16);

        assert_eq!(
            last.as_ref().map(|u| (u.text.as_str(), u.chars)),
            Some(("three and four", 14))
        );
        assert!(last.is_some_and(|u| (u.start - 10.0).abs() < 1e-9 && (u.end - 24.0).abs() < 1e-9));
        assert!(last_clauses(&unit, 5).is_none());
    }

    #[test]
    fn a_comma_between_digits_is_not_a_clause_mark() {
        let chars: Vec<char> = "1,000, 2、3，4".chars().collect();

        let marks: Vec<usize> = (0..chars.len())
            .filter(|&at| is_clause_mark(&chars, at))
            .collect();

        assert_eq!(marks, [5, 8, 10]);
    }

    #[test]
    fn character_cuts_prefer_spaces_then_boundaries_outside_words_and_numbers() {
        let chars: Vec<char> = "alpha beta gamma".chars().collect();
        assert_eq!(character_cuts(&chars, 0..chars.len(), 12), [10]);

        let chars: Vec<char> = "成長12.5個百分點".chars().collect();
        let cuts = character_cuts(&chars, 0..chars.len(), 4);
        assert!(cuts.iter().all(|&at| !glued(&chars, at)), "{cuts:?}");
    }
}
