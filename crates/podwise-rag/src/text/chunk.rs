//! Chunking: a timed transcript cut into overlapping pieces of a few hundred characters
//! for embedding and search, each with the time it starts and ends.
//!
//! Chunks end at sentence ends (。！？；and . ! ?, not the point of 3.5 or of "Dr.")
//! once they are long enough; speech recognition without punctuation is cut at its
//! segments instead, and a pause between segments counts as a sentence end. A chunk
//! starts with the last whole sentences of the one before it (the overlap), so a
//! question about a passage that straddles two chunks still finds one that holds it.
//! A sentence longer than a chunk is cut at its segments, then its clause marks
//! (，,、), then between characters outside words and numbers. Times inside a segment
//! are interpolated by characters.

mod units;

use units::{Boundary, Unit, last_clauses, units};

use super::TimedText;

/// Sizes of chunks, in characters (a Han character counts one, like a Latin letter).
#[derive(Debug, Clone)]
pub struct ChunkOptions {
    /// A chunk ends at the first sentence end once it is this long.
    pub min_chars: usize,
    /// No chunk is longer, overlap included.
    pub max_chars: usize,
    /// About how much of the previous chunk's end a chunk starts with.
    pub overlap_chars: usize,
    /// A gap between segments at least this long, in seconds, ends a sentence.
    pub pause_seconds: f64,
}

impl Default for ChunkOptions {
    fn default() -> Self {
        Self {
            min_chars: 300,
            max_chars: 500,
            overlap_chars: 80,
            pause_seconds: 1.0,
        }
    }
}

/// Why chunk options were refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid chunk options: {}", .problems.join("; "))]
pub struct ChunkOptionsError {
    pub problems: Vec<String>,
}

impl ChunkOptions {
    /// Checks the options, for callers that take them from settings.
    ///
    /// # Errors
    /// Every problem at once: a zero maximum, a minimum above the maximum, an overlap of
    /// half the maximum or more, a negative or non-finite pause.
    pub fn validate(&self) -> Result<(), ChunkOptionsError> {
        let mut problems = Vec::new();
        if self.max_chars == 0 {
            problems.push("max_chars must be at least 1".to_owned());
        }
        if self.min_chars > self.max_chars {
            problems.push(format!(
                "min_chars ({}) must not exceed max_chars ({})",
                self.min_chars, self.max_chars
            ));
        }
        if self.overlap_chars > 0 && self.overlap_chars * 2 >= self.max_chars {
            problems.push(format!(
                "overlap_chars ({}) must be under half of max_chars ({})",
                self.overlap_chars, self.max_chars
            ));
        }
        if !(self.pause_seconds.is_finite() && self.pause_seconds >= 0.0) {
            problems.push(format!(
                "pause_seconds ({}) must be zero or more",
                self.pause_seconds
            ));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ChunkOptionsError { problems })
        }
    }

    /// The options brought into range, as [`chunk`] uses them.
    fn in_range(&self) -> Self {
        let max_chars = self.max_chars.max(1);
        Self {
            min_chars: self.min_chars.min(max_chars),
            max_chars,
            overlap_chars: self.overlap_chars.min(max_chars.saturating_sub(1) / 2),
            pause_seconds: if self.pause_seconds.is_nan() {
                0.0
            } else {
                self.pause_seconds
            },
        }
    }
}

/// A span of a transcript, embedded and indexed as one search result.
#[derive(Debug, Clone, PartialEq)]
pub struct Chunk {
    pub index: u32,
    pub start: f64,
    pub end: f64,
    pub text: String,
}

/// Cuts `segments` (cleaned, see [`super::clean::clean_segments`]) into chunks, indexed
/// from 0 in order. Options out of range are brought into range (see
/// [`ChunkOptions::validate`] to refuse them instead). Segments with no text are
/// skipped; segments out of time order are put in order.
pub fn chunk(segments: &[TimedText], options: &ChunkOptions) -> Vec<Chunk> {
    chunks_with_overlap(segments, options)
        .into_iter()
        .map(|packed| packed.chunk)
        .collect()
}

/// A chunk and how many bytes at the start of its text repeat the previous chunk.
#[derive(Debug, Clone)]
struct Packed {
    chunk: Chunk,
    #[cfg_attr(
        not(test),
        expect(
            dead_code,
            reason = "the property tests check the overlap is all that repeats"
        )
    )]
    overlap_bytes: usize,
}

/// Of a chunk's characters, how far past `overlap_chars` the overlap may run so that it
/// can take one more whole sentence.
const OVERLAP_SLACK_PERCENT: usize = 50;

/// A last chunk with less new text than this share of `min_chars` joins the one
/// before, when it fits.
const SHORT_TAIL_PERCENT: usize = 50;

fn chunks_with_overlap(segments: &[TimedText], options: &ChunkOptions) -> Vec<Packed> {
    let options = options.in_range();
    let mut packer = Packer {
        options: &options,
        chunks: Vec::new(),
    };
    // The units of the chunk being filled; the first `overlap` repeat the last chunk.
    let mut current: Vec<Unit> = Vec::new();
    let mut overlap = 0;
    for unit in units(segments, options.max_chars, options.pause_seconds) {
        let has_new = current.len() > overlap;
        let long_enough =
            length(&current) >= options.min_chars && unit.boundary >= Boundary::Sentence;
        if has_new && (long_enough || !packer.fits(&current, &unit)) {
            packer.close(&current, overlap);
            current = packer.overlap_of(&current);
            overlap = current.len();
        }
        // The overlap gives way to new text when both do not fit.
        while overlap > 0 && !packer.fits(&current, &unit) {
            current.remove(0);
            overlap -= 1;
        }
        current.push(unit);
    }
    if current.len() > overlap {
        let tail = &current[overlap..];
        let merged = !packer.chunks.is_empty()
            && length(tail) * 100 < options.min_chars * SHORT_TAIL_PERCENT
            && packer.extend_last(tail);
        if !merged {
            packer.close(&current, overlap);
        }
    }
    packer.chunks
}

/// The length in characters of the units joined.
fn length(units: &[Unit]) -> usize {
    units
        .iter()
        .enumerate()
        .map(|(n, unit)| unit.chars + usize::from(n > 0 && unit.space_before))
        .sum()
}

/// The units joined, and the byte length of the first `overlap` of them with the space
/// after them.
fn joined(units: &[Unit], overlap: usize) -> (String, usize) {
    let mut text = String::new();
    let mut overlap_bytes = 0;
    for (n, unit) in units.iter().enumerate() {
        if n > 0 && unit.space_before {
            text.push(' ');
        }
        if n == overlap {
            overlap_bytes = text.len();
        }
        text.push_str(&unit.text);
    }
    (text, overlap_bytes)
}

fn latest_end(units: &[Unit], from: f64) -> f64 {
    units.iter().map(|unit| unit.end).fold(from, f64::max)
}

struct Packer<'a> {
    options: &'a ChunkOptions,
    chunks: Vec<Packed>,
}

impl Packer<'_> {
    fn close(&mut self, units: &[Unit], overlap: usize) {
        let (text, overlap_bytes) = joined(units, overlap);
        let start = units[0].start;
        let end = latest_end(units, start);
        let index = u32::try_from(self.chunks.len()).unwrap_or(u32::MAX);
        self.chunks.push(Packed {
            chunk: Chunk {
                index,
                start,
                end,
                text,
            },
            overlap_bytes,
        });
    }

    /// What the next chunk starts with: about `overlap_chars` of whole units from the
    /// end of the closed chunk, never all of it. When its last sentence alone is too
    /// long, its last clauses, so that long English sentences still overlap.
    fn overlap_of(&self, closed: &[Unit]) -> Vec<Unit> {
        let wanted = self.options.overlap_chars;
        let allowed = wanted + wanted * OVERLAP_SLACK_PERCENT / 100;
        let mut taken = 0;
        let mut taken_chars = 0;
        for unit in closed.iter().skip(1).rev() {
            let grown = taken_chars + unit.chars + usize::from(taken > 0);
            if taken_chars >= wanted || grown > allowed {
                break;
            }
            taken_chars = grown;
            taken += 1;
        }
        if taken == 0 && closed.len() > 1 {
            let last = closed.last().and_then(|unit| last_clauses(unit, allowed));
            return last.into_iter().collect();
        }
        closed[closed.len() - taken..].to_vec()
    }

    /// Appends the units to the last chunk if it stays within the maximum.
    fn extend_last(&mut self, units: &[Unit]) -> bool {
        let (tail, _) = joined(units, 0);
        let space = units[0].space_before;
        let tail_chars = length(units) + usize::from(space);
        let max_chars = self.options.max_chars;
        let Some(last) = self.chunks.last_mut() else {
            return false;
        };
        if last.chunk.text.chars().count() + tail_chars > max_chars {
            return false;
        }
        if space {
            last.chunk.text.push(' ');
        }
        last.chunk.text.push_str(&tail);
        last.chunk.end = latest_end(units, last.chunk.end);
        true
    }

    /// Whether `unit` still fits after `units`.
    fn fits(&self, units: &[Unit], unit: &Unit) -> bool {
        let space = usize::from(!units.is_empty() && unit.space_before);
        length(units) + space + unit.chars <= self.options.max_chars
    }
}

#[cfg(test)]
mod tests;
