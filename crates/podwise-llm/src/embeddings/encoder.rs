//! The BERT encoder both embedding models share: token, position and type embeddings,
//! post-norm transformer layers with exact-GELU feed-forward blocks, then mean pooling
//! and L2 normalisation.
//!
//! A batch is run as one activation matrix with every text's tokens one after another,
//! so each weight matrix is streamed once per batch; attention stays within each text.
//! Only the matrices differ between the models (Q4_0 for e5, f32 for MiniLM), which
//! [`Linear`] hides.

use super::dense::DenseMatrix;
use super::math::{self, LayerNorm};
use super::q4::{Q4Block, Q4Matrix};

/// Tokens per forward pass: bounds the activation buffers (the feed-forward one is
/// `tokens × intermediate` floats) whatever the batch size.
const TOKEN_BUDGET: usize = 2048;

/// A projection with its bias, in whichever precision the model ships.
#[derive(Debug)]
pub(crate) enum Linear {
    Q4(Q4Matrix),
    Dense(DenseMatrix),
}

impl Linear {
    fn rows(&self) -> usize {
        match self {
            Self::Q4(m) => m.rows(),
            Self::Dense(m) => m.rows(),
        }
    }

    fn forward(&self, x: &[f32], tokens: usize, threads: usize) -> Vec<f32> {
        let mut out = vec![0.0; tokens * self.rows()];
        match self {
            Self::Q4(m) => m.forward(x, &mut out, threads),
            Self::Dense(m) => m.forward(x, &mut out, threads),
        }
        out
    }
}

/// The token embedding table.
#[derive(Debug)]
pub(crate) enum WordEmbeddings {
    /// Q4_0 rows of `width / 32` blocks each.
    Q4 { blocks: Vec<Q4Block>, width: usize },
    /// f32 rows of `width` values each.
    Dense { table: Vec<f32>, width: usize },
}

impl WordEmbeddings {
    /// The number of token ids the table has rows for.
    pub fn len(&self) -> usize {
        match self {
            Self::Q4 { blocks, width } => blocks.len() * 32 / width,
            Self::Dense { table, width } => table.len() / width,
        }
    }

    fn add_row(&self, id: usize, out: &mut [f32]) {
        match self {
            Self::Q4 { blocks, width } => {
                let per_row = width / 32;
                for (block, chunk) in blocks[id * per_row..][..per_row]
                    .iter()
                    .zip(out.chunks_mut(32))
                {
                    block.add_to(chunk);
                }
            }
            Self::Dense { table, width } => {
                math::add_scaled(out, 1.0, &table[id * width..][..*width]);
            }
        }
    }
}

/// One transformer layer. The query, key and value projections are stacked into one
/// matrix because they read the same input.
#[derive(Debug)]
pub(crate) struct Layer {
    pub qkv: Linear,
    pub attention_out: Linear,
    pub attention_norm: LayerNorm,
    pub ff_in: Linear,
    pub ff_out: Linear,
    pub output_norm: LayerNorm,
}

/// A BERT encoder with mean pooling.
#[derive(Debug)]
pub(crate) struct Encoder {
    pub hidden: usize,
    pub heads: usize,
    pub word: WordEmbeddings,
    /// `max_positions × hidden`.
    pub positions: Vec<f32>,
    /// The embedding of token type 0, the only type a single text uses.
    pub token_type: Vec<f32>,
    pub embedding_norm: LayerNorm,
    pub layers: Vec<Layer>,
    pub threads: usize,
}

impl Encoder {
    /// The longest sequence the position table covers.
    pub fn max_positions(&self) -> usize {
        self.positions.len() / self.hidden
    }

    /// Mean-pooled, unit-length vectors of each sequence of token ids (specials
    /// included). Every sequence must be non-empty, no longer than
    /// [`Encoder::max_positions`], with ids below the table's length.
    pub fn embed(&self, sequences: &[Vec<u32>]) -> Vec<Vec<f32>> {
        let mut out = Vec::with_capacity(sequences.len());
        let mut start = 0;
        while start < sequences.len() {
            let mut end = start + 1;
            let mut tokens = sequences[start].len();
            while end < sequences.len() && tokens + sequences[end].len() <= TOKEN_BUDGET {
                tokens += sequences[end].len();
                end += 1;
            }
            out.extend(self.forward(&sequences[start..end]));
            start = end;
        }
        out
    }

    fn forward(&self, sequences: &[Vec<u32>]) -> Vec<Vec<f32>> {
        let h = self.hidden;
        let mut spans = Vec::with_capacity(sequences.len());
        let mut x = Vec::new();
        for ids in sequences {
            let start = x.len() / h;
            for (position, &id) in ids.iter().enumerate() {
                let mut row = self.positions[position * h..][..h].to_vec();
                math::add_scaled(&mut row, 1.0, &self.token_type);
                self.word.add_row(id as usize, &mut row);
                x.extend(row);
            }
            spans.push(start..start + ids.len());
        }
        let tokens = x.len() / h;
        self.embedding_norm.apply(&mut x, None);

        // For each token, the span of its own text: attention never crosses texts.
        let owner: Vec<_> = spans
            .iter()
            .flat_map(|s| s.clone().map(|_| s.clone()))
            .collect();
        for layer in &self.layers {
            let qkv = layer.qkv.forward(&x, tokens, self.threads);
            let context = self.attention(&qkv, &owner);
            let attended = layer.attention_out.forward(&context, tokens, self.threads);
            layer.attention_norm.apply(&mut x, Some(&attended));

            let mut mid = layer.ff_in.forward(&x, tokens, self.threads);
            math::gelu(&mut mid);
            let ff = layer.ff_out.forward(&mid, tokens, self.threads);
            layer.output_norm.apply(&mut x, Some(&ff));
        }

        spans
            .iter()
            .map(|span| {
                let mut pooled = vec![0.0; h];
                for t in span.clone() {
                    math::add_scaled(&mut pooled, 1.0, &x[t * h..][..h]);
                }
                let n = span.len().max(1) as f32;
                pooled.iter_mut().for_each(|v| *v /= n);
                math::l2_normalise(&mut pooled);
                pooled
            })
            .collect()
    }

    /// Scaled dot-product attention of every head; `qkv` rows hold the queries, keys and
    /// values side by side.
    fn attention(&self, qkv: &[f32], owner: &[std::ops::Range<usize>]) -> Vec<f32> {
        let h = self.hidden;
        let head = h / self.heads;
        let tokens = owner.len();
        let scale = 1.0 / (head as f32).sqrt();
        // The keys transposed (`[hidden][tokens]`), so that one query's scores against a
        // run of keys are computed eight keys at a time along contiguous memory.
        let mut keys = vec![0.0; h * tokens];
        for (s, row) in qkv.chunks_exact(3 * h).enumerate() {
            for (i, &k) in row[h..2 * h].iter().enumerate() {
                keys[i * tokens + s] = k;
            }
        }
        let mut context = vec![0.0; tokens * h];
        super::parallel::for_rows(&mut context, h, self.threads, |first, chunk| {
            let mut scores = Vec::new();
            for (i, out) in chunk.chunks_exact_mut(h).enumerate() {
                let t = first + i;
                let span = owner[t].clone();
                for hd in 0..self.heads {
                    let q = &qkv[t * 3 * h + hd * head..][..head];
                    scores.clear();
                    scores.resize(span.len(), 0.0);
                    for (e, &qe) in q.iter().enumerate() {
                        let k = &keys[(hd * head + e) * tokens + span.start..][..span.len()];
                        math::add_scaled(&mut scores, qe * scale, k);
                    }
                    math::softmax(&mut scores);
                    let out = &mut out[hd * head..][..head];
                    for (s, &p) in span.clone().zip(&scores) {
                        math::add_scaled(out, p, &qkv[s * 3 * h + 2 * h + hd * head..][..head]);
                    }
                }
            }
        });
        context
    }
}
