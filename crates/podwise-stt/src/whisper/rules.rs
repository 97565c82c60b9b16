//! The rules Whisper applies to each step's logits before a token is chosen, so the output
//! stays well formed: no blank first token, no non-speech symbols or control tokens, and
//! timestamps that come in pairs, never go backwards and open the text within 1 s.

use super::tokens::Vocabulary;

/// The latest first timestamp allowed, in steps of 0.02 s: 1 s.
const MAX_INITIAL_TIMESTAMP: u32 = 50;

/// Edits `logits` (over the whole vocabulary) for the step after `sampled`, the tokens
/// decoded so far in this window (prompt and start sequence excluded).
pub(crate) fn apply(logits: &mut [f32], sampled: &[u32], vocab: &Vocabulary) {
    let ban = |logits: &mut [f32], ids: std::ops::Range<usize>| {
        let end = ids.end.min(logits.len());
        logits[ids.start.min(end)..end].fill(f32::NEG_INFINITY);
    };
    if sampled.is_empty() {
        for &t in &vocab.suppress_at_start {
            ban(logits, t as usize..t as usize + 1);
        }
    }
    for &t in &vocab.suppress {
        ban(logits, t as usize..t as usize + 1);
    }

    let begin = vocab.timestamp_begin as usize;
    let eot = vocab.eot as usize;
    let is_time = |t: u32| t >= vocab.timestamp_begin;
    let last_was_time = sampled.last().is_some_and(|&t| is_time(t));
    let before_last_was_time = sampled.len() < 2 || is_time(sampled[sampled.len() - 2]);
    if last_was_time {
        if before_last_was_time {
            // A closed pair (or the opening stamp): text must come next.
            ban(logits, begin..logits.len());
        } else {
            // An open segment just got its closing stamp: another stamp or the end.
            ban(logits, 0..eot);
        }
    }
    if let Some(&last) = sampled.iter().rev().find(|&&t| is_time(t)) {
        // Time never runs backwards, and a segment that just opened cannot close at once.
        let floor = if last_was_time && !before_last_was_time {
            last
        } else {
            last + 1
        };
        ban(logits, begin..floor as usize);
    }
    if sampled.is_empty() {
        ban(logits, 0..begin);
        ban(
            logits,
            begin + MAX_INITIAL_TIMESTAMP as usize + 1..logits.len(),
        );
    }

    // When timestamps together are likelier than any single text token, take a timestamp.
    let (text, times) = logits.split_at(begin);
    let peak = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if peak.is_finite() {
        let best_text = text.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let time_mass: f32 = times.iter().map(|&l| (l - peak).exp()).sum();
        if time_mass.ln() + peak > best_text {
            ban(logits, 0..begin);
        }
    }
}

/// `log_softmax(logits)[token]`, computed without building the whole distribution.
pub(crate) fn log_probability(logits: &[f32], token: usize) -> f32 {
    let peak = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mass: f32 = logits.iter().map(|&l| (l - peak).exp()).sum();
    logits[token] - peak - mass.ln()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::whisper::tokens::tests_support::vocabulary;

    const TEXT: u32 = 100;

    /// Text tokens far likelier than any one timestamp, and than all 1501 together, so
    /// only the rules under test ban anything.
    fn flat(vocab: &Vocabulary) -> Vec<f32> {
        let begin = vocab.timestamp_begin as usize;
        (0..begin + 1501)
            .map(|t| if t < begin { 10.0 } else { 0.0 })
            .collect()
    }

    #[test]
    fn timestamps_win_when_together_they_outweigh_every_text_token() {
        let vocab = vocabulary();
        let mut logits = vec![0.0; vocab.timestamp_begin as usize + 1501];
        apply(&mut logits, &[vocab.timestamp_begin, TEXT], &vocab);
        let ok = allowed(&logits);
        assert!(!ok(TEXT) && !ok(vocab.eot) && ok(vocab.timestamp_begin + 1));
    }

    fn allowed(logits: &[f32]) -> impl Fn(u32) -> bool + '_ {
        |t| logits[t as usize].is_finite()
    }

    #[test]
    fn the_first_token_is_a_timestamp_within_the_first_second() {
        let vocab = vocabulary();
        let mut logits = flat(&vocab);
        apply(&mut logits, &[], &vocab);
        let ok = allowed(&logits);
        let t0 = vocab.timestamp_begin;
        assert!(ok(t0) && ok(t0 + 50), "0.00 and 1.00 are allowed");
        assert!(!ok(t0 + 51), "1.02 is too late to open");
        assert!(
            !ok(TEXT) && !ok(vocab.eot),
            "no text and no end before a timestamp"
        );
    }

    #[test]
    fn an_opening_timestamp_is_followed_by_text_and_a_closing_one_by_a_timestamp_or_the_end() {
        let vocab = vocabulary();
        let t0 = vocab.timestamp_begin;
        let mut logits = flat(&vocab);
        apply(&mut logits, &[t0], &vocab);
        assert!(allowed(&logits)(TEXT) && !allowed(&logits)(t0 + 10));

        let mut logits = flat(&vocab);
        apply(&mut logits, &[t0, TEXT, t0 + 40], &vocab);
        let ok = allowed(&logits);
        assert!(!ok(TEXT), "no text right after a closing timestamp");
        assert!(
            ok(vocab.eot) && ok(t0 + 40),
            "the end, or the next segment at the same time"
        );
        assert!(!ok(t0 + 39), "time does not go backwards");
    }

    #[test]
    fn a_segment_cannot_close_at_the_time_it_opened() {
        let vocab = vocabulary();
        let t0 = vocab.timestamp_begin;
        let mut logits = flat(&vocab);
        apply(&mut logits, &[t0 + 5, TEXT], &vocab);
        let ok = allowed(&logits);
        assert!(!ok(t0 + 5) && ok(t0 + 6) && ok(TEXT));
    }

    #[test]
    fn control_tokens_are_never_emitted() {
        let vocab = vocabulary();
        let mut logits = flat(&vocab);
        apply(&mut logits, &[vocab.timestamp_begin, TEXT], &vocab);
        let ok = allowed(&logits);
        assert!(!ok(vocab.sot) && !ok(vocab.timestamp_begin - 1) && !ok(vocab.no_speech));
        assert!(ok(vocab.eot));
    }

    #[test]
    fn log_probability_matches_the_softmax() {
        let logits = [1.0f32, 2.0, 3.0];
        let expected = (3f32.exp() / (1f32.exp() + 2f32.exp() + 3f32.exp())).ln();
        assert!((log_probability(&logits, 2) - expected).abs() < 1e-6);
    }
}
