//! Word-level timestamps from cross-attention, the way Whisper's `find_alignment` does it.
//!
//! A few decoder heads (the model's `alignment_heads`) attend to the audio frame being
//! spoken. Their scores over the window's text tokens, softmaxed over the frames that hold
//! audio, standardised per frame and median-filtered over time, form a token-by-frame
//! matrix; dynamic time warping finds the monotonic path through it, and where the path
//! moves to the next token is when that token starts. Tokens are then grouped into words:
//! at spaces for most languages, one character at a time for scripts written without them.

use super::Model;
use super::decoder::Session;
use super::tokens::{TIME_STEP, Vocabulary};

/// Median filter width over frames, as Whisper uses.
const MEDIAN_WIDTH: usize = 7;

/// Languages written without spaces between words.
const UNSPACED: [&str; 7] = ["zh", "ja", "th", "lo", "my", "yue", "km"];

/// Punctuation that belongs to the word after it, and to the word before it.
const OPENING: &str = "\"'“¿([{-«「『（";
const CLOSING: &str = "\"'.。,，!！?？:：”)]}、»」』）";

/// One word with its time in the window.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TimedWord {
    pub text: String,
    pub start: f64,
    pub end: f64,
    /// Indices into the aligned text tokens.
    pub tokens: std::ops::Range<usize>,
}

/// Times every word of `text_tokens` (timestamps removed), decoding after `start` (the
/// start-of-transcript sequence, without prompt) in a fresh pass of `session`.
pub(crate) fn align(
    model: &Model,
    session: &mut Session,
    start: &[u32],
    text_tokens: &[u32],
    audio_frames: usize,
    language: &str,
) -> candle_core::Result<Vec<TimedWord>> {
    let (decoder, vocab, heads) = (&model.decoder, &model.vocab, &model.alignment_heads);
    if text_tokens.is_empty() || heads.is_empty() || audio_frames == 0 {
        return Ok(Vec::new());
    }
    let mut tokens = start.to_vec();
    tokens.push(vocab.no_timestamps);
    tokens.extend_from_slice(text_tokens);
    tokens.push(vocab.eot);
    let mut layers: Vec<usize> = heads.iter().map(|&[l, _]| l).collect();
    layers.sort_unstable();
    layers.dedup();
    session.rewind();
    let (_, scores) = decoder.forward_with_cross_scores(&tokens, session, &layers)?;

    // Rows: the positions whose outputs are the text tokens and the end of text.
    let first = start.len();
    let rows = text_tokens.len() + 1;
    let mut matrix = vec![0f32; rows * audio_frames];
    for &[layer, head] in heads {
        let at = layers.iter().position(|&l| l == layer).unwrap_or(0);
        let head_scores = scores[at]
            .narrow(0, head, 1)?
            .squeeze(0)?
            .narrow(0, first, rows)?
            .narrow(1, 0, audio_frames)?;
        let mut weights: Vec<Vec<f32>> = head_scores.to_vec2()?;
        weights.iter_mut().for_each(|row| softmax(row));
        standardise_columns(&mut weights);
        for (r, row) in weights.iter().enumerate() {
            let filtered = median_filter(row, MEDIAN_WIDTH);
            for (m, v) in matrix[r * audio_frames..].iter_mut().zip(filtered) {
                *m += v / heads.len() as f32;
            }
        }
    }
    let path = dtw(&matrix, rows, audio_frames);
    // The frame where the path first reaches each row.
    let mut starts = vec![0usize; rows];
    let mut seen = vec![false; rows];
    for &(row, frame) in &path {
        if !seen[row] {
            seen[row] = true;
            starts[row] = frame;
        }
    }
    let time = |frame: usize| frame as f64 * TIME_STEP;
    let words = if UNSPACED.contains(&language) {
        split_by_character(vocab, text_tokens)
    } else {
        split_at_spaces(vocab, text_tokens)
    };
    Ok(words
        .into_iter()
        .map(|(text, range)| TimedWord {
            start: time(starts[range.start]),
            end: time(starts[range.end]),
            text,
            tokens: range,
        })
        .collect())
}

fn softmax(row: &mut [f32]) {
    let peak = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut total = 0.0;
    for v in row.iter_mut() {
        *v = (*v - peak).exp();
        total += *v;
    }
    row.iter_mut().for_each(|v| *v /= total);
}

/// Zero mean and unit variance down each column (over tokens, per frame).
fn standardise_columns(rows: &mut [Vec<f32>]) {
    let (n, width) = (rows.len() as f32, rows.first().map_or(0, Vec::len));
    for c in 0..width {
        let mean = rows.iter().map(|r| r[c]).sum::<f32>() / n;
        let var = rows.iter().map(|r| (r[c] - mean).powi(2)).sum::<f32>() / n;
        let std = var.sqrt().max(1e-10);
        rows.iter_mut().for_each(|r| r[c] = (r[c] - mean) / std);
    }
}

/// Median over a sliding window, the ends mirrored (not repeated) as Whisper pads them.
fn median_filter(row: &[f32], width: usize) -> Vec<f32> {
    let half = width / 2;
    if row.len() <= half {
        return row.to_vec();
    }
    let mirrored = |i: isize| -> f32 {
        let last = row.len() as isize - 1;
        let i = if i < 0 {
            -i
        } else if i > last {
            2 * last - i
        } else {
            i
        };
        row[i as usize]
    };
    let mut window = vec![0f32; width];
    (0..row.len() as isize)
        .map(|i| {
            for (k, w) in window.iter_mut().enumerate() {
                *w = mirrored(i + k as isize - half as isize);
            }
            window.sort_unstable_by(f32::total_cmp);
            window[half]
        })
        .collect()
}

/// The cheapest monotonic path from the top-left to the bottom-right of `-matrix`, as
/// (row, frame) pairs in order.
fn dtw(matrix: &[f32], rows: usize, frames: usize) -> Vec<(usize, usize)> {
    let at = |i: usize, j: usize| i * (frames + 1) + j;
    let mut cost = vec![f32::INFINITY; (rows + 1) * (frames + 1)];
    // How each cell was reached: 0 diagonally, 1 from the row above, 2 from the left.
    let mut trace = vec![0u8; (rows + 1) * (frames + 1)];
    cost[0] = 0.0;
    for j in 1..=frames {
        for i in 1..=rows {
            let options = [
                cost[at(i - 1, j - 1)],
                cost[at(i - 1, j)],
                cost[at(i, j - 1)],
            ];
            let (step, best) = options
                .iter()
                .enumerate()
                .min_by(|a, b| a.1.total_cmp(b.1))
                .map_or((0, f32::INFINITY), |(s, &c)| (s, c));
            cost[at(i, j)] = best - matrix[(i - 1) * frames + (j - 1)];
            trace[at(i, j)] = step as u8;
        }
    }
    let (mut i, mut j) = (rows, frames);
    let mut path = Vec::with_capacity(rows + frames);
    while i > 0 && j > 0 {
        path.push((i - 1, j - 1));
        match trace[at(i, j)] {
            0 => (i, j) = (i - 1, j - 1),
            1 => i -= 1,
            _ => j -= 1,
        }
    }
    path.reverse();
    path
}

/// Groups of tokens that each decode to whole characters (a Chinese character may span
/// two or three byte-level tokens).
fn character_groups(vocab: &Vocabulary, tokens: &[u32]) -> Vec<(String, std::ops::Range<usize>)> {
    let mut groups = Vec::new();
    let mut from = 0;
    for end in 1..=tokens.len() {
        let text = vocab.decode(&tokens[from..end]);
        if !text.contains('\u{fffd}') || end == tokens.len() {
            groups.push((text, from..end));
            from = end;
        }
    }
    groups
}

/// Words at spaces: a group starting with a space, or made of punctuation, starts a word.
fn split_at_spaces(vocab: &Vocabulary, tokens: &[u32]) -> Vec<(String, std::ops::Range<usize>)> {
    let mut words: Vec<(String, std::ops::Range<usize>)> = Vec::new();
    for (text, range) in character_groups(vocab, tokens) {
        let starts_word = text.starts_with(' ') || is_punctuation(text.trim());
        match words.last_mut() {
            Some((word, r)) if !starts_word => {
                word.push_str(&text);
                r.end = range.end;
            }
            _ => words.push((text, range)),
        }
    }
    merge_punctuation(words)
}

fn split_by_character(vocab: &Vocabulary, tokens: &[u32]) -> Vec<(String, std::ops::Range<usize>)> {
    merge_punctuation(character_groups(vocab, tokens))
}

fn is_punctuation(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| OPENING.contains(c) || CLOSING.contains(c))
}

/// Attaches opening punctuation to the next word and closing punctuation to the previous
/// one, so a comma is not a word of its own with its own time.
fn merge_punctuation(
    words: Vec<(String, std::ops::Range<usize>)>,
) -> Vec<(String, std::ops::Range<usize>)> {
    let mut out: Vec<(String, std::ops::Range<usize>)> = Vec::with_capacity(words.len());
    let mut pending: Option<(String, std::ops::Range<usize>)> = None;
    for (text, range) in words {
        let bare = text.trim();
        if is_punctuation(bare)
            && bare.chars().all(|c| CLOSING.contains(c))
            && let Some((word, r)) = out.last_mut()
        {
            word.push_str(&text);
            r.end = range.end;
            continue;
        }
        if is_punctuation(bare) && bare.chars().all(|c| OPENING.contains(c)) {
            pending = Some(match pending {
                Some((t, r)) => (t + &text, r.start..range.end),
                None => (text, range),
            });
            continue;
        }
        match pending.take() {
            Some((t, r)) => out.push((t + &text, r.start..range.end)),
            None => out.push((text, range)),
        }
    }
    out.extend(pending);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_path_follows_a_diagonal_of_high_scores() {
        // Three tokens over nine frames, each token loud on three frames.
        let (rows, frames) = (3, 9);
        let matrix: Vec<f32> = (0..rows * frames)
            .map(|k| {
                if (k % frames) / 3 == k / frames {
                    1.0
                } else {
                    -1.0
                }
            })
            .collect();
        let path = dtw(&matrix, rows, frames);
        assert_eq!(path.first(), Some(&(0, 0)));
        assert_eq!(path.last(), Some(&(2, 8)));
        let entry: Vec<usize> = (0..rows)
            .map(|r| path.iter().find(|p| p.0 == r).map_or(0, |p| p.1))
            .collect();
        assert_eq!(entry, vec![0, 3, 6]);
    }

    #[test]
    fn the_median_filter_removes_a_spike_and_keeps_a_step() {
        let spike = [0.0, 0.0, 0.0, 9.0, 0.0, 0.0, 0.0, 0.0];
        assert!(median_filter(&spike, 7).iter().all(|&v| v == 0.0));
        let step = [0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0];
        assert_eq!(median_filter(&step, 3), step.to_vec());
    }

    #[test]
    fn punctuation_joins_its_neighbouring_word() {
        let words = vec![
            ("\u{201c}".to_owned(), 0..1),
            ("Hello".to_owned(), 1..2),
            (",".to_owned(), 2..3),
            (" world".to_owned(), 3..4),
            (".".to_owned(), 4..5),
        ];
        let merged: Vec<(String, std::ops::Range<usize>)> = merge_punctuation(words);
        assert_eq!(
            merged,
            vec![
                ("\u{201c}Hello,".to_owned(), 0..3),
                (" world.".to_owned(), 3..5)
            ]
        );
    }

    #[test]
    fn standardised_columns_have_zero_mean() {
        let mut rows = vec![vec![1.0, 5.0], vec![3.0, 5.0]];
        standardise_columns(&mut rows);
        assert_eq!(rows, vec![vec![-1.0, 0.0], vec![1.0, 0.0]]);
    }
}
