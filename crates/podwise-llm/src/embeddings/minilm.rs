//! all-MiniLM-L6-v2: 384-dimensional English sentence embeddings from a six-layer BERT,
//! read from its f32 `model.safetensors`, `config.json` and `vocab.txt`.
//!
//! Inputs are limited to 256 word pieces, special tokens included, although the position
//! table has 512 rows: the model was trained on inputs truncated to 256 word pieces, so
//! longer ones are refused as [`EmbedError::TooLong`] and the caller splits them.

use std::path::Path;

use serde_json::Value;

use super::dense::DenseMatrix;
use super::encoder::{Encoder, Layer, Linear, WordEmbeddings};
use super::math::LayerNorm;
use super::safetensors::Safetensors;
use super::wordpiece::WordPiece;
use super::{EmbedError, Embedded, Embedder, LoadError, Purpose, invalid, read};

/// The id requests select this model by.
pub const ID: &str = "all-MiniLM-L6-v2";

/// The most word pieces one input may have (see the module documentation).
const MAX_TOKENS: usize = 256;

/// all-MiniLM-L6-v2 on the CPU.
#[derive(Debug)]
pub struct MiniLm {
    tokenizer: WordPiece,
    encoder: Encoder,
}

/// The encoder's dimensions from `config.json`.
struct Config {
    hidden: usize,
    layers: usize,
    heads: usize,
    intermediate: usize,
    max_positions: usize,
    eps: f32,
}

impl Config {
    fn parse(text: &str) -> Result<Self, String> {
        let v: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let size = |key: &str| {
            v[key]
                .as_u64()
                .and_then(|n| usize::try_from(n).ok())
                .filter(|&n| n > 0)
                .ok_or_else(|| format!("{key} is missing or not a positive integer"))
        };
        let config = Self {
            hidden: size("hidden_size")?,
            layers: size("num_hidden_layers")?,
            heads: size("num_attention_heads")?,
            intermediate: size("intermediate_size")?,
            max_positions: size("max_position_embeddings")?,
            eps: v["layer_norm_eps"].as_f64().unwrap_or(1e-12) as f32,
        };
        if v["hidden_act"].as_str() != Some("gelu") || !config.hidden.is_multiple_of(config.heads) {
            return Err("only BERT with exact GELU and whole heads is supported".into());
        }
        Ok(config)
    }
}

impl MiniLm {
    /// Loads the model from `model_dir/embeddings/all-MiniLM-L6-v2/`, computing on up to
    /// `threads` threads per batch.
    ///
    /// # Errors
    /// As [`super::load`].
    pub fn load(model_dir: &Path, threads: usize) -> Result<Self, LoadError> {
        let dir = model_dir.join("embeddings").join(ID);
        let config_path = dir.join("config.json");
        let config = String::from_utf8_lossy(&read(&config_path)?).into_owned();
        let config = Config::parse(&config).map_err(|e| invalid(&config_path, e))?;

        let vocab_path = dir.join("vocab.txt");
        let vocab = String::from_utf8_lossy(&read(&vocab_path)?).into_owned();
        let tokenizer = WordPiece::from_vocab(&vocab)
            .ok_or_else(|| invalid(&vocab_path, "[UNK], [CLS] or [SEP] is missing"))?;

        let weights_path = dir.join("model.safetensors");
        let bytes = read(&weights_path)?;
        let file = Safetensors::parse(&bytes).map_err(|e| invalid(&weights_path, e))?;
        let encoder = build_encoder(&file, &config, threads, tokenizer.vocabulary_len())
            .map_err(|e| invalid(&weights_path, e))?;
        Ok(Self { tokenizer, encoder })
    }

    /// The ids the model reads for `text`: `[CLS]`, its word pieces, `[SEP]`.
    pub fn token_ids(&self, text: &str) -> Vec<u32> {
        let mut ids = vec![self.tokenizer.cls];
        ids.extend(self.tokenizer.encode(text));
        ids.push(self.tokenizer.sep);
        ids
    }
}

fn build_encoder(
    file: &Safetensors<'_>,
    c: &Config,
    threads: usize,
    vocabulary: usize,
) -> Result<Encoder, super::safetensors::SafetensorsError> {
    let h = c.hidden;
    let norm = |name: &str| {
        Ok::<_, super::safetensors::SafetensorsError>(LayerNorm {
            weight: file.f32(&format!("{name}.weight"), &[h])?,
            bias: file.f32(&format!("{name}.bias"), &[h])?,
            eps: c.eps,
        })
    };
    let dense = |name: &str, rows: usize, cols: usize| {
        Ok::<_, super::safetensors::SafetensorsError>(DenseMatrix::new(
            file.f32(&format!("{name}.weight"), &[rows, cols])?,
            file.f32(&format!("{name}.bias"), &[rows])?,
            rows,
            cols,
        ))
    };
    let mut layers = Vec::with_capacity(c.layers);
    for l in 0..c.layers {
        let p = format!("encoder.layer.{l}");
        let qkv = ["query", "key", "value"]
            .into_iter()
            .map(|m| dense(&format!("{p}.attention.self.{m}"), h, h))
            .collect::<Result<Vec<_>, _>>()?;
        layers.push(Layer {
            qkv: Linear::Dense(DenseMatrix::stack(qkv)),
            attention_out: Linear::Dense(dense(&format!("{p}.attention.output.dense"), h, h)?),
            attention_norm: norm(&format!("{p}.attention.output.LayerNorm"))?,
            ff_in: Linear::Dense(dense(
                &format!("{p}.intermediate.dense"),
                c.intermediate,
                h,
            )?),
            ff_out: Linear::Dense(dense(&format!("{p}.output.dense"), h, c.intermediate)?),
            output_norm: norm(&format!("{p}.output.LayerNorm"))?,
        });
    }
    let word = file.f32("embeddings.word_embeddings.weight", &[vocabulary, h])?;
    let types = file.f32("embeddings.token_type_embeddings.weight", &[2, h])?;
    Ok(Encoder {
        hidden: h,
        heads: c.heads,
        word: WordEmbeddings::Dense {
            table: word,
            width: h,
        },
        positions: file.f32(
            "embeddings.position_embeddings.weight",
            &[c.max_positions, h],
        )?,
        // A single text only ever uses token type 0.
        token_type: types[..h].to_vec(),
        embedding_norm: norm("embeddings.LayerNorm")?,
        layers,
        threads: threads.max(1),
    })
}

impl Embedder for MiniLm {
    fn id(&self) -> &str {
        ID
    }

    fn dimensions(&self) -> usize {
        self.encoder.hidden
    }

    fn max_input_tokens(&self) -> usize {
        MAX_TOKENS.min(self.encoder.max_positions())
    }

    /// The purpose is ignored: MiniLM embeds queries and passages alike.
    fn embed(&self, texts: &[&str], _purpose: Purpose) -> Result<Embedded, EmbedError> {
        let sequences: Vec<_> = texts.iter().map(|t| self.token_ids(t)).collect();
        super::check_lengths(&sequences, self.max_input_tokens(), ID)?;
        let tokens = sequences.iter().map(Vec::len).sum::<usize>();
        Ok(Embedded {
            vectors: self.encoder.embed(&sequences),
            tokens: u32::try_from(tokens).unwrap_or(u32::MAX),
        })
    }
}
