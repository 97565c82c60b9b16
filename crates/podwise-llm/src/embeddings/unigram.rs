//! The SentencePiece unigram tokenizer of XLM-RoBERTa, as multilingual-e5-small reads
//! text: per-code-point normalisation, runs of spaces collapsed, spaces replaced by the
//! metaspace `▁` (one prepended), then the most probable segmentation into pieces.
//!
//! It follows the reference engine shipped with the model step for step, including its
//! unknown-character fallback, so that both produce the same ids.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use super::e5_format::Vocabulary;

const METASPACE: char = '\u{2581}';

/// A unigram tokenizer over a fixed vocabulary.
#[derive(Debug)]
pub(crate) struct Unigram {
    ids: HashMap<Vec<u8>, u32, BuildHasherDefault<Fnv>>,
    scores: Vec<f32>,
    normalisation: Vec<(u32, Vec<u32>)>,
    /// Bytes of the longest piece: no longer span can match.
    longest: usize,
    /// Score of an unknown character: below any piece, so it is the last resort.
    unknown_score: f32,
    unk: u32,
    /// The id opening every sequence (`<s>`).
    pub bos: u32,
    /// The id closing every sequence (`</s>`).
    pub eos: u32,
}

impl Unigram {
    /// Builds the tokenizer from the model file's vocabulary.
    pub fn new(vocabulary: Vocabulary) -> Self {
        let mut ids = HashMap::with_capacity_and_hasher(vocabulary.pieces.len(), <_>::default());
        for (id, piece) in vocabulary.pieces.iter().enumerate() {
            // The first of duplicate pieces wins, as in the reference engine.
            if !piece.is_empty() {
                ids.entry(piece.clone()).or_insert(id as u32);
            }
        }
        let longest = vocabulary
            .pieces
            .iter()
            .map(Vec::len)
            .max()
            .unwrap_or(1)
            .max(1);
        let lowest = vocabulary
            .scores
            .iter()
            .copied()
            .fold(f32::INFINITY, f32::min);
        Self {
            ids,
            scores: vocabulary.scores,
            normalisation: vocabulary.normalisation,
            longest,
            unknown_score: lowest - 10.0,
            unk: vocabulary.unk,
            bos: vocabulary.bos,
            eos: vocabulary.eos,
        }
    }

    /// The number of ids the tokenizer can produce.
    pub fn vocabulary_len(&self) -> usize {
        self.scores.len()
    }

    /// The piece ids of `text`, without `<s>` and `</s>`.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let normalised = self.normalise(text);

        // The normalised text as UTF-8, with the byte offset where each character starts.
        let mut bytes = Vec::with_capacity(normalised.len() * 3 + 3);
        let mut starts = Vec::with_capacity(normalised.len() + 2);
        if normalised.first() != Some(&' ') {
            starts.push(0);
            push_utf8(&mut bytes, METASPACE);
        }
        for &c in &normalised {
            starts.push(bytes.len());
            push_utf8(&mut bytes, if c == ' ' { METASPACE } else { c });
        }
        starts.push(bytes.len());
        self.segment(&bytes, &starts)
    }

    /// Maps each code point through the normalisation table and collapses runs of spaces.
    fn normalise(&self, text: &str) -> Vec<char> {
        let mut out: Vec<char> = Vec::with_capacity(text.len());
        let mut push = |c: char| {
            if !(c == ' ' && out.last() == Some(&' ')) {
                out.push(c);
            }
        };
        for c in text.chars() {
            match self
                .normalisation
                .binary_search_by_key(&(c as u32), |(cp, _)| *cp)
            {
                Ok(i) => self.normalisation[i]
                    .1
                    .iter()
                    .filter_map(|&cp| char::from_u32(cp))
                    .for_each(&mut push),
                Err(_) => push(c),
            }
        }
        out
    }

    /// Viterbi over the characters whose byte starts are `starts` (plus the end).
    fn segment(&self, bytes: &[u8], starts: &[usize]) -> Vec<u32> {
        let n = starts.len() - 1;
        let mut best = vec![f32::NEG_INFINITY; n + 1];
        // For each end position: the piece that reaches it (None = unknown) and its start.
        let mut back: Vec<(Option<u32>, usize)> = vec![(None, 0); n + 1];
        best[0] = 0.0;
        for i in 0..n {
            if best[i] == f32::NEG_INFINITY {
                continue;
            }
            for e in i + 1..=n {
                let span = &bytes[starts[i]..starts[e]];
                if span.len() > self.longest {
                    break;
                }
                if let Some(&id) = self.ids.get(span).filter(|&&id| id != self.unk) {
                    let score = best[i] + self.scores[id as usize];
                    if score > best[e] {
                        best[e] = score;
                        back[e] = (Some(id), i);
                    }
                }
            }
            let score = best[i] + self.unknown_score;
            if score > best[i + 1] {
                best[i + 1] = score;
                back[i + 1] = (None, i);
            }
        }
        let mut ids = Vec::new();
        let mut at = n;
        while at > 0 {
            let (id, from) = back[at];
            ids.push(id.unwrap_or(self.unk));
            at = from;
        }
        ids.reverse();
        ids
    }
}

fn push_utf8(bytes: &mut Vec<u8>, c: char) {
    let mut buf = [0; 4];
    bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
}

/// FNV-1a: the piece table is hashed on every candidate span, and the default SipHash
/// would dominate tokenization for no benefit (the keys are not attacker-chosen).
#[derive(Debug)]
pub(crate) struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embeddings::e5_format::E5File;

    /// e5's tokenizer; the test fails, not skips, when the models are not fetched.
    fn e5() -> Unigram {
        let dir = std::env::var_os("PODWISE_MODEL_DIR").map_or_else(
            || std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models"),
            std::path::PathBuf::from,
        );
        let path = dir.join("embeddings/multilingual-e5-small/e5-small-q4.bin");
        let bytes = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("{}: {e}; run scripts/fetch-models.sh", path.display()));
        let file = E5File::parse(&bytes).expect("the model file parses");
        Unigram::new(file.vocabulary)
    }

    // Expected ids were printed by the reference engine's tokenizer
    // (benches/reference/e5_token_ids.c), without its <s> and </s>.
    #[test]
    fn english_matches_the_reference_tokenizer() {
        assert_eq!(
            e5().encode("passage: Hello, world! This is a podcast."),
            [46692, 12, 35378, 4, 8999, 38, 3293, 83, 10, 99653, 5]
        );
    }

    #[test]
    fn traditional_chinese_matches_the_reference_tokenizer() {
        assert_eq!(
            e5().encode(
                "passage: 今天的節目討論台灣的\
                 科技產業與半導體供應鏈。"
            ),
            [
                46692, 12, 6, 99706, 56905, 35480, 119376, 7355, 25992, 1109, 6193, 21267, 7820,
                89540, 90880, 30
            ]
        );
    }

    #[test]
    fn runs_of_spaces_and_compatibility_characters_match_the_reference_tokenizer() {
        assert_eq!(
            e5().encode("passage:   double  spaces and ÉCOLE café ①"),
            [
                46692, 12, 41929, 32628, 7, 136, 3050, 441, 71621, 26216, 106
            ]
        );
    }
}
