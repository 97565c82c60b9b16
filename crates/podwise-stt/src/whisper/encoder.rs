//! Whisper's audio encoder: two convolutions with GELU (the second halves the frame rate
//! to 50 per second), fixed sinusoidal positions, then pre-norm transformer blocks.
//!
//! It runs once per 30 s window and dominates the window's cost, so every matrix stays
//! f32 for gemm and the attention scale is folded into the query weights at load time.

use candle_core::{Result, Tensor};

use super::ct2::Ct2Error;
use super::dims::Dims;
use super::kernels;
use super::layers::{LayerNorm, Linear, Precision, Weights};

#[derive(Debug)]
struct Block {
    attention_norm: LayerNorm,
    /// Queries, keys and values in one `[d, 3d]` projection.
    qkv: Linear,
    out: Linear,
    mlp_norm: LayerNorm,
    up: Linear,
    down: Linear,
}

/// The encoder's weights.
#[derive(Debug)]
pub(crate) struct Encoder {
    conv1: (Tensor, Tensor),
    conv2: (Tensor, Tensor),
    positions: Tensor,
    blocks: Vec<Block>,
    norm: LayerNorm,
    heads: usize,
}

impl Encoder {
    pub(crate) fn load(w: &Weights<'_, '_>, dims: &Dims) -> std::result::Result<Self, Ct2Error> {
        let d = dims.width;
        let conv = |name: &str, inputs: usize| -> std::result::Result<(Tensor, Tensor), Ct2Error> {
            let kernel = w.tensor(&format!("encoder/{name}/weight"), &[d, inputs, 3])?;
            let bias = w.tensor(&format!("encoder/{name}/bias"), &[d])?;
            let bias = bias
                .reshape((1, d, 1))
                .map_err(|e| Ct2Error(e.to_string()))?;
            Ok((kernel, bias))
        };
        let scale = (dims.head_dim() as f64).powf(-0.5);
        let blocks = (0..dims.encoder_layers)
            .map(|i| {
                let p = format!("encoder/layer_{i}");
                Ok(Block {
                    attention_norm: w.layer_norm(&format!("{p}/self_attention/layer_norm"), d)?,
                    qkv: w.linear_scaled(
                        &format!("{p}/self_attention/linear_0"),
                        3 * d,
                        d,
                        d,
                        scale,
                        Precision::F32,
                    )?,
                    out: w.linear(
                        &format!("{p}/self_attention/linear_1"),
                        d,
                        d,
                        Precision::F32,
                    )?,
                    mlp_norm: w.layer_norm(&format!("{p}/ffn/layer_norm"), d)?,
                    up: w.linear(&format!("{p}/ffn/linear_0"), dims.mlp, d, Precision::F32)?,
                    down: w.linear(&format!("{p}/ffn/linear_1"), d, dims.mlp, Precision::F32)?,
                })
            })
            .collect::<std::result::Result<Vec<_>, Ct2Error>>()?;
        Ok(Self {
            conv1: conv("conv1", dims.mels)?,
            conv2: conv("conv2", d)?,
            positions: w.tensor("encoder/position_encodings/encodings", &[dims.audio_ctx, d])?,
            blocks,
            norm: w.layer_norm("encoder/layer_norm", d)?,
            heads: dims.heads,
        })
    }

    /// Encodes a `[mels, 3000]` spectrogram into `[1500, width]` audio features.
    pub(crate) fn forward(&self, mel: &Tensor) -> Result<Tensor> {
        let x = mel.unsqueeze(0)?;
        let x = x
            .conv1d(&self.conv1.0, 1, 1, 1, 1)?
            .broadcast_add(&self.conv1.1)?;
        kernels::gelu_in_place(&x)?;
        let x = x
            .conv1d(&self.conv2.0, 1, 2, 1, 1)?
            .broadcast_add(&self.conv2.1)?;
        kernels::gelu_in_place(&x)?;
        let mut x = (x.squeeze(0)?.t()? + &self.positions)?;
        for block in &self.blocks {
            x = self.block(block, &x)?;
        }
        self.norm.forward(&x)
    }

    fn block(&self, b: &Block, x: &Tensor) -> Result<Tensor> {
        let (frames, d) = x.dims2()?;
        let (h, dh) = (self.heads, d / self.heads);

        let qkv = b.qkv.forward(&b.attention_norm.forward(x)?)?;
        let heads = |i: usize| qkv.narrow(1, i * d, d)?.reshape((frames, h, dh));
        let q = heads(0)?.transpose(0, 1)?.contiguous()?;
        let k_t = heads(1)?.permute((1, 2, 0))?.contiguous()?;
        let v = heads(2)?.transpose(0, 1)?.contiguous()?;
        // One head at a time: its 1500 x 1500 scores (9 MB) are written, softmaxed and
        // read again while still in cache, where all heads at once (72 MB) are not.
        let mixed = (0..h)
            .map(|i| {
                let weights = q.get(i)?.matmul(&k_t.get(i)?)?;
                kernels::softmax_in_place(&weights)?;
                weights.matmul(&v.get(i)?)
            })
            .collect::<Result<Vec<_>>>()?;
        let mixed = Tensor::cat(&mixed, 1)?;
        let x = b.out.forward_residual(&mixed, x)?;

        let hidden = b.up.forward_gelu(&b.mlp_norm.forward(&x)?)?;
        b.down.forward_residual(&hidden, &x)
    }
}
