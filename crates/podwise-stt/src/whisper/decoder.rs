//! Whisper's text decoder: learned positions, pre-norm blocks of causal self-attention,
//! cross-attention over the audio features and a feed-forward layer, then logits through
//! the (tied) token embedding.
//!
//! A [`Session`] holds what one window's decoding accumulates: the cross-attention keys and
//! values, computed once from the audio features, and a self-attention cache that grows by
//! one entry per token, so each new token costs one step over one row.

use candle_core::{Result, Tensor};
use candle_nn::kv_cache::KvCache;

use super::attention;
use super::ct2::Ct2Error;
use super::dims::Dims;
use super::layers::{LayerNorm, Linear, Precision, Weights};

#[derive(Debug)]
struct Block {
    self_norm: LayerNorm,
    /// Queries, keys and values of self-attention in one `[d, 3d]` projection.
    self_qkv: Linear,
    self_out: Linear,
    cross_norm: LayerNorm,
    cross_q: Linear,
    /// Keys and values of the audio features in one `[d, 2d]` projection: run once per
    /// window over 1500 rows, so f32.
    cross_kv: Linear,
    cross_out: Linear,
    mlp_norm: LayerNorm,
    up: Linear,
    down: Linear,
}

/// The decoder's weights.
#[derive(Debug)]
pub(crate) struct Decoder {
    embedding: Tensor,
    positions: Tensor,
    blocks: Vec<Block>,
    norm: LayerNorm,
    /// The embedding again, as the output projection.
    logits: Linear,
    heads: usize,
    text_ctx: usize,
}

/// The cached state of one window's decoding.
#[derive(Debug)]
pub(crate) struct Session {
    /// Per block: the audio's keys and values, each `[heads, frames, head_dim]`.
    cross: Vec<(Tensor, Tensor)>,
    cache: Vec<KvCache>,
    /// Tokens already run.
    position: usize,
}

impl Session {
    /// Forgets the tokens run so far but keeps the audio, for another try at the window.
    pub(crate) fn rewind(&mut self) {
        self.cache.iter_mut().for_each(KvCache::reset);
        self.position = 0;
    }

    pub(crate) fn position(&self) -> usize {
        self.position
    }
}

impl Decoder {
    pub(crate) fn load(
        w: &Weights<'_, '_>,
        dims: &Dims,
        precision: Precision,
    ) -> std::result::Result<Self, Ct2Error> {
        let d = dims.width;
        let scale = (dims.head_dim() as f64).powf(-0.5);
        let blocks = (0..dims.decoder_layers)
            .map(|i| {
                let p = format!("decoder/layer_{i}");
                let s = format!("{p}/self_attention");
                let c = format!("{p}/attention");
                Ok(Block {
                    self_norm: w.layer_norm(&format!("{s}/layer_norm"), d)?,
                    self_qkv: w.linear_scaled(
                        &format!("{s}/linear_0"),
                        3 * d,
                        d,
                        d,
                        scale,
                        precision,
                    )?,
                    self_out: w.linear(&format!("{s}/linear_1"), d, d, precision)?,
                    cross_norm: w.layer_norm(&format!("{c}/layer_norm"), d)?,
                    cross_q: w.linear_scaled(
                        &format!("{c}/linear_0"),
                        d,
                        d,
                        d,
                        scale,
                        precision,
                    )?,
                    cross_kv: w.linear(&format!("{c}/linear_1"), 2 * d, d, Precision::F32)?,
                    cross_out: w.linear(&format!("{c}/linear_2"), d, d, precision)?,
                    mlp_norm: w.layer_norm(&format!("{p}/ffn/layer_norm"), d)?,
                    up: w.linear(&format!("{p}/ffn/linear_0"), dims.mlp, d, precision)?,
                    down: w.linear(&format!("{p}/ffn/linear_1"), d, dims.mlp, precision)?,
                })
            })
            .collect::<std::result::Result<Vec<_>, Ct2Error>>()?;
        let embedding = w.tensor("decoder/embeddings/weight", &[dims.vocab, d])?;
        let logits = Linear::new(&embedding, None, precision)
            .map_err(|e| Ct2Error(format!("the output projection: {e}")))?;
        Ok(Self {
            embedding,
            positions: w.tensor("decoder/position_encodings/encodings", &[dims.text_ctx, d])?,
            blocks,
            norm: w.layer_norm("decoder/layer_norm", d)?,
            logits,
            heads: dims.heads,
            text_ctx: dims.text_ctx,
        })
    }

    /// Prepares a session over `[frames, width]` audio features.
    pub(crate) fn start(&self, audio: &Tensor) -> Result<Session> {
        let (frames, d) = audio.dims2()?;
        let (h, dh) = (self.heads, d / self.heads);
        let cross = self
            .blocks
            .iter()
            .map(|b| {
                let kv = b.cross_kv.forward(audio)?;
                let heads = |from: usize| -> Result<Tensor> {
                    kv.narrow(1, from, d)?
                        .reshape((frames, h, dh))?
                        .transpose(0, 1)?
                        .contiguous()
                };
                Ok((heads(0)?, heads(d)?))
            })
            .collect::<Result<Vec<_>>>()?;
        let cache = self
            .blocks
            .iter()
            .map(|_| KvCache::new(1, self.text_ctx))
            .collect();
        Ok(Session {
            cross,
            cache,
            position: 0,
        })
    }

    /// The most tokens one session can hold.
    pub(crate) fn text_ctx(&self) -> usize {
        self.text_ctx
    }

    /// Runs `tokens` after those the session has seen and returns their final hidden
    /// states, `[tokens, width]`; [`Decoder::logits`] turns chosen rows into logits.
    pub(crate) fn forward(&self, tokens: &[u32], session: &mut Session) -> Result<Tensor> {
        self.run(tokens, session, &[], &mut Vec::new())
    }

    /// Like [`Decoder::forward`], but also returns the cross-attention scores (before the
    /// softmax, `[heads, tokens, frames]`) of each block listed in `layers`, in that order:
    /// what word alignment reads.
    pub(crate) fn forward_with_cross_scores(
        &self,
        tokens: &[u32],
        session: &mut Session,
        layers: &[usize],
    ) -> Result<(Tensor, Vec<Tensor>)> {
        let mut captured = Vec::with_capacity(layers.len());
        let hidden = self.run(tokens, session, layers, &mut captured)?;
        let scores = layers
            .iter()
            .map(|l| {
                captured
                    .iter()
                    .find(|(layer, _)| layer == l)
                    .map(|(_, scores)| scores.clone())
                    .ok_or_else(|| candle_core::Error::Msg(format!("the decoder has no layer {l}")))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((hidden, scores))
    }

    /// Runs `tokens`, keeping the cross-attention scores of the blocks in `layers`.
    fn run(
        &self,
        tokens: &[u32],
        session: &mut Session,
        layers: &[usize],
        captured: &mut Vec<(usize, Tensor)>,
    ) -> Result<Tensor> {
        let n = tokens.len();
        let start = session.position;
        if start + n > self.text_ctx {
            candle_core::bail!(
                "{} tokens exceed the decoder's {}",
                start + n,
                self.text_ctx
            );
        }
        let ids = Tensor::new(tokens, self.embedding.device())?;
        let mut x =
            (self.embedding.index_select(&ids, 0)? + self.positions.narrow(0, start, n)?)?;
        for (i, ((block, cache), cross)) in self
            .blocks
            .iter()
            .zip(&mut session.cache)
            .zip(&session.cross)
            .enumerate()
        {
            let keep = layers.contains(&i);
            let (y, scores) = self.block(block, &x, cache, cross, start, keep)?;
            x = y;
            captured.extend(scores.map(|s| (i, s)));
        }
        session.position += n;
        self.norm.forward(&x)
    }

    /// Logits over the vocabulary for each row of `hidden`, `[rows, vocab]`.
    pub(crate) fn logits(&self, hidden: &Tensor) -> Result<Tensor> {
        self.logits.forward(hidden)
    }

    fn block(
        &self,
        b: &Block,
        x: &Tensor,
        cache: &mut KvCache,
        (cross_k, cross_v): &(Tensor, Tensor),
        start: usize,
        keep_scores: bool,
    ) -> Result<(Tensor, Option<Tensor>)> {
        let (n, d) = x.dims2()?;
        let (h, dh) = (self.heads, d / self.heads);
        let split = |t: Tensor| t.reshape((n, h, dh))?.transpose(0, 1)?.contiguous();

        let qkv = b.self_qkv.forward(&b.self_norm.forward(x)?)?;
        let q = split(qkv.narrow(1, 0, d)?)?;
        let (k, v) = cache.append(
            &split(qkv.narrow(1, d, d)?)?,
            &split(qkv.narrow(1, 2 * d, d)?)?,
        )?;
        let merge = |t: Tensor| t.transpose(0, 1)?.reshape((n, d));
        let mixed = merge(attention::attend(&q, &k, &v, Some(start))?)?;
        let x = b.self_out.forward_residual(&mixed, x)?;

        let q = split(b.cross_q.forward(&b.cross_norm.forward(&x)?)?)?;
        let kept = if keep_scores {
            Some(q.matmul(&cross_k.t()?)?)
        } else {
            None
        };
        let mixed = merge(attention::attend(&q, cross_k, cross_v, None)?)?;
        let x = b.cross_out.forward_residual(&mixed, &x)?;

        let hidden = b.up.forward_gelu(&b.mlp_norm.forward(&x)?)?;
        Ok((b.down.forward_residual(&hidden, &x)?, kept))
    }
}
