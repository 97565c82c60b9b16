//! The forward pass of a Llama-family network (Llama, SmolLM, Qwen2) written for decoding
//! on one CPU core: pre-norm blocks of grouped-query attention and a SwiGLU MLP, over the
//! quantised kernels of [`super::kernels`].
//!
//! Inputs that share a matrix product are quantised once (the query, key and value
//! projections; the gate and up projections), every buffer is allocated once and reused,
//! and a prompt goes through in chunks of tokens, each weight tile serving the whole chunk
//! while it is in cache, so the time to the first token is a fraction of one pass per
//! prompt token.

use std::io::{Read, Seek};

use candle_core::quantized::gguf_file;

use super::attention::{KvCache, Queries, attend};
use super::kernels::{Activations, Matrix, Output};
use super::ops::{rms_norm, swiglu};
use super::weights::{self, Config, Weights};

/// Prompt tokens computed together: enough to reuse each loaded tile many times, few
/// enough that the chunk's activations stay in the L2 cache.
const CHUNK: usize = 64;

/// A loaded network with its attention cache and scratch buffers.
#[derive(Debug)]
pub(crate) struct Transformer {
    config: Config,
    weights: Weights,
    cache: KvCache,
    scratch: Scratch,
}

/// Buffers for one chunk of tokens, grown on first use and then reused.
#[derive(Debug, Default)]
struct Scratch {
    /// The residual stream, `[token][dim]`.
    x: Vec<f32>,
    normed: Vec<f32>,
    /// Queries, keys and values, `[token][q_dim + 2 kv_dim]`.
    qkv: Vec<f32>,
    attended: Vec<f32>,
    /// Gate then up values, `[token][2 ffn]`.
    gate_up: Vec<f32>,
    hidden: Vec<f32>,
    cos: Vec<f32>,
    sin: Vec<f32>,
    scores: Vec<f32>,
    acts: Activations,
    logits: Vec<f32>,
}

impl Transformer {
    /// Why `content` cannot run here (so candle should run it), or `None`.
    pub(crate) fn unsupported(content: &gguf_file::Content, architecture: &str) -> Option<String> {
        weights::unsupported(content, architecture)
    }

    /// Reads the network of a file [`Transformer::unsupported`] accepted.
    ///
    /// # Errors
    /// When the file is inconsistent or unreadable.
    pub(crate) fn load<R: Read + Seek>(
        content: &gguf_file::Content,
        reader: &mut R,
        architecture: &str,
    ) -> Result<Self, String> {
        let (config, weights) = weights::load(content, reader, architecture)?;
        let cache = KvCache::new(weights.layers.len(), config.heads.kv_dim());
        Ok(Self {
            config,
            weights,
            cache,
            scratch: Scratch::default(),
        })
    }

    /// The same network with every matrix dequantised, computing in f32 throughout.
    #[cfg(test)]
    pub(crate) fn dequantized(&self) -> Self {
        let w = &self.weights;
        let all = |ms: &[Matrix]| ms.iter().map(Matrix::dequantized).collect();
        let layers = w
            .layers
            .iter()
            .map(|l| weights::Layer {
                attn_norm: l.attn_norm.clone(),
                qkv: all(&l.qkv),
                qkv_bias: l.qkv_bias.clone(),
                attn_output: l.attn_output.dequantized(),
                ffn_norm: l.ffn_norm.clone(),
                gate_up: all(&l.gate_up),
                down: l.down.dequantized(),
            })
            .collect();
        let weights = Weights {
            embedding: w.embedding.dequantized(),
            output: w.output.as_ref().map(Matrix::dequantized),
            norm: w.norm.clone(),
            layers,
        };
        Self {
            config: self.config.clone(),
            cache: KvCache::new(weights.layers.len(), self.config.heads.kv_dim()),
            weights,
            scratch: Scratch::default(),
        }
    }

    /// Forgets the attention cache.
    pub(crate) fn reset(&mut self) {
        self.cache.truncate(0);
    }

    /// Runs `tokens`, placed at `position` in the sequence (earlier positions come from
    /// the cache; later ones are forgotten), and returns the logits of the next token.
    ///
    /// # Errors
    /// When `tokens` is empty, a token is outside the vocabulary, `position` is beyond
    /// the cache, or the sequence would outgrow the context.
    pub(crate) fn forward(&mut self, tokens: &[u32], position: usize) -> Result<&[f32], String> {
        if tokens.is_empty() {
            return Err("no tokens to run".to_owned());
        }
        if position > self.cache.len() {
            return Err(format!(
                "position {position} is beyond the {} cached",
                self.cache.len()
            ));
        }
        if position + tokens.len() > self.config.context_length {
            return Err(format!(
                "{} tokens exceed the context of {}",
                position + tokens.len(),
                self.config.context_length
            ));
        }
        if let Some(&bad) = tokens.iter().find(|&&t| t as usize >= self.config.vocab) {
            return Err(format!("token {bad} is outside the vocabulary"));
        }
        self.cache.truncate(position);
        for (i, chunk) in tokens.chunks(CHUNK).enumerate() {
            self.run(chunk, position + i * CHUNK);
        }
        self.head();
        Ok(&self.scratch.logits)
    }

    /// Passes `tokens` (at positions `first..`) through every layer, leaving the residual
    /// stream in `scratch.x`.
    fn run(&mut self, tokens: &[u32], first: usize) {
        let Self {
            config: c,
            weights: w,
            cache,
            scratch: s,
        } = self;
        let n = tokens.len();
        let (dim, ffn) = (c.dim, c.ffn);
        let (q_dim, kv_dim) = (c.heads.q_dim(), c.heads.kv_dim());
        let width = q_dim + 2 * kv_dim;
        let half = c.heads.head_dim / 2;
        s.x.resize(n * dim, 0.0);
        s.normed.resize(n * dim, 0.0);
        s.qkv.resize(n * width, 0.0);
        s.attended.resize(n * q_dim, 0.0);
        s.gate_up.resize(n * 2 * ffn, 0.0);
        s.hidden.resize(n * ffn, 0.0);
        s.cos.resize(n * half, 0.0);
        s.sin.resize(n * half, 0.0);
        for (t, &token) in tokens.iter().enumerate() {
            w.embedding
                .row(token as usize, &mut s.x[t * dim..(t + 1) * dim]);
            let (cos, sin) = (
                &mut s.cos[t * half..][..half],
                &mut s.sin[t * half..][..half],
            );
            c.rope.angles(first + t, cos, sin);
        }

        for (l, layer) in w.layers.iter().enumerate() {
            rms_norm(&s.x, &layer.attn_norm, c.eps, &mut s.normed);
            s.acts.quantize(&s.normed, dim);
            project(&layer.qkv, &s.normed, &s.acts, &mut s.qkv, width);
            for (t, row) in s.qkv.chunks_exact_mut(width).enumerate() {
                if let Some(bias) = &layer.qkv_bias {
                    for (v, b) in row.iter_mut().zip(bias) {
                        *v += b;
                    }
                }
                let (cos, sin) = (&s.cos[t * half..][..half], &s.sin[t * half..][..half]);
                let (q, kv) = row.split_at_mut(q_dim);
                let (k, v) = kv.split_at_mut(kv_dim);
                c.rope.apply(q, cos, sin);
                c.rope.apply(k, cos, sin);
                cache.push(l, k, v);
            }
            let (keys, values) = cache.layer(l);
            let queries = Queries {
                data: &s.qkv,
                stride: width,
                first,
                tokens: n,
            };
            attend(
                c.heads,
                keys,
                values,
                queries,
                &mut s.attended,
                &mut s.scores,
            );
            s.acts.quantize(&s.attended, q_dim);
            let residual = Output::adding(&mut s.x, dim);
            layer.attn_output.matmul(&s.attended, &s.acts, residual);

            rms_norm(&s.x, &layer.ffn_norm, c.eps, &mut s.normed);
            s.acts.quantize(&s.normed, dim);
            project(&layer.gate_up, &s.normed, &s.acts, &mut s.gate_up, 2 * ffn);
            swiglu(&s.gate_up, ffn, &mut s.hidden);
            s.acts.quantize(&s.hidden, ffn);
            let residual = Output::adding(&mut s.x, dim);
            layer.down.matmul(&s.hidden, &s.acts, residual);
        }
    }

    /// The logits of the last token in `scratch.x`.
    fn head(&mut self) {
        let Self {
            config: c,
            weights: w,
            scratch: s,
            ..
        } = self;
        let last = &s.x[s.x.len() - c.dim..];
        s.normed.resize(c.dim, 0.0);
        rms_norm(last, &w.norm, c.eps, &mut s.normed);
        s.acts.quantize(&s.normed, c.dim);
        let head = w.output.as_ref().unwrap_or(&w.embedding);
        s.logits.resize(c.vocab, 0.0);
        head.matmul(&s.normed, &s.acts, Output::new(&mut s.logits, c.vocab));
    }
}

/// Runs the matrices of `parts`, which read the same input, into consecutive outputs of
/// `out`, `width` (their rows together) per token.
fn project(parts: &[Matrix], x: &[f32], acts: &Activations, out: &mut [f32], width: usize) {
    let mut offset = 0;
    for part in parts {
        part.matmul(x, acts, Output::new(&mut out[offset..], width));
        offset += part.rows();
    }
}

#[cfg(test)]
mod speed;
#[cfg(test)]
mod tests;
