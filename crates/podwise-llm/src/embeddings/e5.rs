//! multilingual-e5-small: 384-dimensional embeddings for about a hundred languages,
//! Traditional Chinese and English among them, from its 4-bit `E5S1` file.
//!
//! The model was trained with `query: ` before queries and `passage: ` before passages;
//! the prefix is added here from the [`Purpose`], so callers pass the bare text.

use std::path::Path;

use super::e5_format::{E5File, FormatError};
use super::encoder::{Encoder, Layer, Linear, WordEmbeddings};
use super::math::LayerNorm;
use super::q4::Q4Matrix;
use super::unigram::Unigram;
use super::{EmbedError, Embedded, Embedder, LoadError, Purpose, invalid, read};

/// The id requests select this model by.
pub const ID: &str = "multilingual-e5-small";

/// The model file inside the model's directory.
pub const FILE: &str = "e5-small-q4.bin";

/// multilingual-e5-small on the CPU.
#[derive(Debug)]
pub struct E5Small {
    tokenizer: Unigram,
    encoder: Encoder,
}

impl E5Small {
    /// Loads the model from `model_dir/embeddings/multilingual-e5-small/`, computing on up
    /// to `threads` threads per batch.
    ///
    /// # Errors
    /// As [`super::load`].
    pub fn load(model_dir: &Path, threads: usize) -> Result<Self, LoadError> {
        let path = model_dir.join("embeddings").join(ID).join(FILE);
        let bytes = read(&path)?;
        Self::from_bytes(&bytes, threads).map_err(|e| invalid(&path, e))
    }

    /// Builds the model from the bytes of its `E5S1` file.
    fn from_bytes(bytes: &[u8], threads: usize) -> Result<Self, FormatError> {
        let mut file = E5File::parse(bytes)?;
        let s = file.shape;
        let (h, ff) = (s.hidden, s.intermediate);
        let norm = |file: &mut E5File, name: &str| -> Result<LayerNorm, FormatError> {
            Ok(LayerNorm {
                weight: file.take_f32(&format!("{name}.w"), h)?,
                bias: file.take_f32(&format!("{name}.b"), h)?,
                eps: s.layer_norm_eps,
            })
        };
        let linear = |file: &mut E5File, name: &str, rows: usize, cols: usize| {
            let blocks = file.take_q4(&format!("{name}.w"), rows * cols)?;
            let bias = file.take_f32(&format!("{name}.b"), rows)?;
            Ok::<_, FormatError>(Q4Matrix::new(&blocks, bias, rows, cols))
        };

        let mut layers = Vec::with_capacity(s.layers);
        for l in 0..s.layers {
            let qkv = ["q", "k", "v"]
                .into_iter()
                .map(|p| linear(&mut file, &format!("l{l}.{p}"), h, h))
                .collect::<Result<Vec<_>, _>>()?;
            layers.push(Layer {
                qkv: Linear::Q4(Q4Matrix::stack(qkv)),
                attention_out: Linear::Q4(linear(&mut file, &format!("l{l}.ao"), h, h)?),
                attention_norm: norm(&mut file, &format!("l{l}.aln"))?,
                ff_in: Linear::Q4(linear(&mut file, &format!("l{l}.fi"), ff, h)?),
                ff_out: Linear::Q4(linear(&mut file, &format!("l{l}.fo"), h, ff)?),
                output_norm: norm(&mut file, &format!("l{l}.oln"))?,
            });
        }
        let word = WordEmbeddings::Q4 {
            blocks: file.take_q4("emb.word", s.vocab * h)?,
            width: h,
        };
        let positions = file.take_f32("emb.pos", s.max_positions * h)?;
        // The table has a row per token type; a single text only ever uses type 0.
        let token_type = file.take_f32_rows("emb.type", h)?.0[..h].to_vec();
        let embedding_norm = norm(&mut file, "emb.ln")?;
        let tokenizer = Unigram::new(file.vocabulary.clone());
        if tokenizer.vocabulary_len() > word.len() {
            return Err(FormatError(format!(
                "{} pieces but only {} embedding rows",
                tokenizer.vocabulary_len(),
                word.len()
            )));
        }
        Ok(Self {
            tokenizer,
            encoder: Encoder {
                hidden: h,
                heads: s.heads,
                word,
                positions,
                token_type,
                embedding_norm,
                layers,
                threads: threads.max(1),
            },
        })
    }

    /// The ids the model reads for `text`: `<s>`, the pieces of the text behind the prefix
    /// of `purpose`, `</s>`.
    pub fn token_ids(&self, text: &str, purpose: Purpose) -> Vec<u32> {
        let prefix = match purpose {
            Purpose::Query => "query: ",
            Purpose::Passage => "passage: ",
        };
        let mut ids = vec![self.tokenizer.bos];
        ids.extend(self.tokenizer.encode(&format!("{prefix}{text}")));
        ids.push(self.tokenizer.eos);
        ids
    }
}

impl Embedder for E5Small {
    fn id(&self) -> &str {
        ID
    }

    fn dimensions(&self) -> usize {
        self.encoder.hidden
    }

    fn max_input_tokens(&self) -> usize {
        self.encoder.max_positions()
    }

    fn embed(&self, texts: &[&str], purpose: Purpose) -> Result<Embedded, EmbedError> {
        let sequences: Vec<_> = texts.iter().map(|t| self.token_ids(t, purpose)).collect();
        super::check_lengths(&sequences, self.max_input_tokens(), ID)?;
        let tokens = sequences.iter().map(Vec::len).sum::<usize>();
        Ok(Embedded {
            vectors: self.encoder.embed(&sequences),
            tokens: u32::try_from(tokens).unwrap_or(u32::MAX),
        })
    }
}
