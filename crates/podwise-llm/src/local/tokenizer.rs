//! Byte-level BPE, the tokenizer of GPT-2-style models (SmolLM, Qwen2, Llama 3), built
//! from the vocabulary and merge list a GGUF file carries.
//!
//! Text is first cut at special tokens (`<|im_start|>` and the like), which map straight
//! to their ids; the rest is split by the model's [`Pretokenizer`], each piece's UTF-8
//! bytes are spelled with GPT-2's printable byte alphabet, and adjacent symbols are merged
//! in merge-list order until no listed pair remains.

use std::collections::HashMap;

use super::pretokenize::Pretokenizer;

/// GGUF token type of a control token (`tokenizer.ggml.token_type`).
const CONTROL: i32 = 3;
/// GGUF token type of a user-defined token, matched verbatim like a control token.
const USER_DEFINED: i32 = 4;

#[derive(Debug)]
pub(crate) struct Tokenizer {
    tokens: Vec<String>,
    ids: HashMap<String, u32>,
    /// Rank of each mergeable pair: lower merges first.
    ranks: HashMap<(String, String), usize>,
    /// Tokens matched verbatim in the text, longest first so prefixes lose.
    specials: Vec<(String, u32)>,
    /// Control tokens decode to nothing.
    control: Vec<bool>,
    pretokenizer: Pretokenizer,
    byte_to_char: [char; 256],
    char_to_byte: HashMap<char, u8>,
}

impl Tokenizer {
    /// Builds the tokenizer from the GGUF vocabulary.
    ///
    /// # Errors
    /// When a merge is not two space-separated symbols or the lists disagree in length.
    pub(crate) fn new(
        tokens: Vec<String>,
        token_types: &[i32],
        merges: &[String],
        pretokenizer: Pretokenizer,
    ) -> Result<Self, String> {
        if !token_types.is_empty() && token_types.len() != tokens.len() {
            return Err(format!(
                "{} token types for {} tokens",
                token_types.len(),
                tokens.len()
            ));
        }
        let mut ranks = HashMap::with_capacity(merges.len());
        for (rank, merge) in merges.iter().enumerate() {
            let (left, right) = merge
                .split_once(' ')
                .ok_or_else(|| format!("merge {rank} ({merge:?}) is not two symbols"))?;
            ranks.insert((left.to_owned(), right.to_owned()), rank);
        }
        let kind = |i: usize| token_types.get(i).copied().unwrap_or(1);
        let mut specials: Vec<(String, u32)> = tokens
            .iter()
            .enumerate()
            .filter(|&(i, _)| matches!(kind(i), CONTROL | USER_DEFINED))
            .filter(|(_, t)| !t.is_empty())
            .map(|(i, t)| (t.clone(), id(i)))
            .collect();
        specials.sort_by_key(|(t, _)| std::cmp::Reverse(t.len()));
        let control = (0..tokens.len()).map(|i| kind(i) == CONTROL).collect();
        let ids = tokens
            .iter()
            .enumerate()
            .map(|(i, t)| (t.clone(), id(i)))
            .collect();
        let byte_to_char = byte_alphabet();
        let char_to_byte = (0..=255u8)
            .map(|b| (byte_to_char[usize::from(b)], b))
            .collect();
        Ok(Self {
            tokens,
            ids,
            ranks,
            specials,
            control,
            pretokenizer,
            byte_to_char,
            char_to_byte,
        })
    }

    /// The id of a token spelled exactly `token`, if the vocabulary has it.
    pub(crate) fn token_id(&self, token: &str) -> Option<u32> {
        self.ids.get(token).copied()
    }

    /// Encodes `text`, turning special-token spellings into their ids.
    pub(crate) fn encode(&self, text: &str) -> Vec<u32> {
        let mut ids = Vec::new();
        let mut rest = text;
        while let Some((at, len, id)) = self.next_special(rest) {
            self.encode_plain(&rest[..at], &mut ids);
            ids.push(id);
            rest = &rest[at + len..];
        }
        self.encode_plain(rest, &mut ids);
        ids
    }

    /// The earliest special token in `text` (the longest where several start together):
    /// its byte offset, length and id.
    fn next_special(&self, text: &str) -> Option<(usize, usize, u32)> {
        self.specials
            .iter()
            .filter_map(|(token, id)| text.find(token.as_str()).map(|at| (at, token.len(), *id)))
            .min_by_key(|&(at, len, _)| (at, std::cmp::Reverse(len)))
    }

    fn encode_plain(&self, text: &str, ids: &mut Vec<u32>) {
        for piece in self.pretokenizer.split(text) {
            let spelled: String = piece
                .bytes()
                .map(|b| self.byte_to_char[usize::from(b)])
                .collect();
            if let Some(&id) = self.ids.get(&spelled) {
                ids.push(id);
                continue;
            }
            for symbol in self.merge(&spelled) {
                match self.ids.get(&symbol) {
                    Some(&id) => ids.push(id),
                    // A symbol missing from the vocabulary: fall back to its single bytes,
                    // which every byte-level vocabulary holds.
                    None => {
                        ids.extend(symbol.chars().filter_map(|c| {
                            self.ids.get(c.encode_utf8(&mut [0; 4]) as &str).copied()
                        }))
                    }
                }
            }
        }
    }

    /// Applies the merges to one spelled piece, lowest rank first.
    fn merge(&self, spelled: &str) -> Vec<String> {
        let mut symbols: Vec<String> = spelled.chars().map(String::from).collect();
        while symbols.len() > 1 {
            let best = symbols
                .windows(2)
                .enumerate()
                .filter_map(|(i, pair)| {
                    self.ranks
                        .get(&(pair[0].clone(), pair[1].clone()))
                        .map(|&rank| (rank, i))
                })
                .min();
            let Some((_, i)) = best else { break };
            let right = symbols.remove(i + 1);
            symbols[i].push_str(&right);
        }
        symbols
    }

    /// The token's entry in the vocabulary, as stored (byte alphabet and all).
    pub(crate) fn spelling(&self, id: u32) -> Option<String> {
        self.tokens.get(id as usize).cloned()
    }

    /// The bytes a token stands for; control tokens stand for none.
    pub(crate) fn token_bytes(&self, id: u32) -> Vec<u8> {
        let index = id as usize;
        if self.control.get(index).copied().unwrap_or(true) {
            return Vec::new();
        }
        let token = &self.tokens[index];
        token
            .chars()
            .map(|c| match self.char_to_byte.get(&c) {
                Some(&b) => vec![b],
                // User-defined tokens are stored as plain text, not in the byte alphabet.
                None => c.to_string().into_bytes(),
            })
            .collect::<Vec<_>>()
            .concat()
    }

    /// Decodes ids to text, replacing any invalid UTF-8 left at the end.
    #[cfg(test)]
    pub(crate) fn decode(&self, ids: &[u32]) -> String {
        let bytes: Vec<u8> = ids.iter().flat_map(|&id| self.token_bytes(id)).collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

fn id(index: usize) -> u32 {
    u32::try_from(index).unwrap_or(u32::MAX)
}

/// GPT-2's map from bytes to printable characters: printable Latin-1 bytes stand for
/// themselves, the others are moved to code points from U+0100 up, in byte order.
fn byte_alphabet() -> [char; 256] {
    let printable = |b: u8| matches!(b, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF);
    let mut alphabet = ['\0'; 256];
    let mut shifted = 0u32;
    for b in 0..=255u8 {
        alphabet[usize::from(b)] = if printable(b) {
            char::from(b)
        } else {
            shifted += 1;
            char::from_u32(255 + shifted).unwrap_or('\u{FFFD}')
        };
    }
    alphabet
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A vocabulary with every byte, the merges of "hello" and one control token.
    fn tiny() -> Tokenizer {
        let alphabet = byte_alphabet();
        let mut tokens: Vec<String> = alphabet.iter().map(|c| c.to_string()).collect();
        let merges: Vec<String> = ["h e", "l l", "he ll", "hell o", "Ġ w"]
            .iter()
            .map(|m| (*m).to_owned())
            .collect();
        for merged in ["he", "ll", "hell", "hello", "Ġw"] {
            tokens.push(merged.to_owned());
        }
        tokens.push("<|im_end|>".to_owned());
        let mut types = vec![1; tokens.len()];
        types[tokens.len() - 1] = CONTROL;
        Tokenizer::new(tokens, &types, &merges, Pretokenizer::Gpt2).expect("valid vocabulary")
    }

    #[test]
    fn merges_apply_in_rank_order() {
        let tokenizer = tiny();
        let ids = tokenizer.encode("hello");
        assert_eq!(ids, [tokenizer.token_id("hello").expect("merged token")]);
    }

    #[test]
    fn special_tokens_are_matched_verbatim_and_decode_to_nothing() {
        let tokenizer = tiny();
        let ids = tokenizer.encode("hello<|im_end|> w");
        let end = tokenizer.token_id("<|im_end|>").expect("control token");
        assert_eq!(ids.len(), 3);
        assert_eq!(ids[1], end);
        assert_eq!(tokenizer.decode(&ids), "hello w");
    }

    #[test]
    fn any_text_round_trips_through_bytes() {
        let tokenizer = tiny();
        let text = "台灣 podcast 🎧 第3集\n";
        assert_eq!(tokenizer.decode(&tokenizer.encode(text)), text);
    }

    #[test]
    fn the_byte_alphabet_is_a_bijection() {
        let alphabet = byte_alphabet();
        let distinct: std::collections::HashSet<_> = alphabet.iter().collect();
        assert_eq!(distinct.len(), 256);
        assert_eq!(alphabet[usize::from(b' ')], 'Ġ');
    }
}
