//! The building blocks both halves of Whisper share: linear layers (f32 or Q8_0), layer
//! norms and the weights reader that builds them from a CTranslate2 file.
//!
//! Matrices the encoder multiplies 1500 rows at a time stay f32, where candle's gemm is
//! fastest. The decoder multiplies one row per token, which is bound by reading the
//! weights from memory: those are requantized to Q8_0 (a quarter of the bytes of f32, half
//! of f16), at a cost below Whisper's own run-to-run noise.

use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
use candle_core::{Module as _, Result, Tensor};

use super::ct2::{Ct2Error, Ct2Model};
use super::kernels;

/// How a linear layer keeps its weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Precision {
    /// f32, transposed once to `[in, out]` for gemm.
    F32,
    /// Q8_0 blocks, for matrix-vector products.
    Q8,
}

#[derive(Debug)]
enum Weight {
    /// `[in, out]`, contiguous.
    Dense(Tensor),
    Quantized(QMatMul),
}

/// `y = x W^T + b` over the rows of a 2-D `x`.
#[derive(Debug)]
pub(crate) struct Linear {
    weight: Weight,
    bias: Option<Tensor>,
    /// The bias again as plain values, for the fused bias-and-GELU kernel.
    bias_values: Vec<f32>,
}

impl Linear {
    /// Builds the layer from a `[out, in]` weight, as PyTorch and CTranslate2 store it.
    pub(crate) fn new(weight: &Tensor, bias: Option<Tensor>, precision: Precision) -> Result<Self> {
        let weight = match precision {
            Precision::F32 => Weight::Dense(weight.t()?.contiguous()?),
            Precision::Q8 => Weight::Quantized(QMatMul::from_qtensor(QTensor::quantize(
                weight,
                GgmlDType::Q8_0,
            )?)?),
        };
        let bias_values = match &bias {
            Some(b) => b.to_vec1()?,
            None => vec![0.0; weight_outputs(&weight)?],
        };
        Ok(Self {
            weight,
            bias,
            bias_values,
        })
    }

    /// `gelu(x W^T + b)`, the bias and activation applied in one pass over the output.
    pub(crate) fn forward_gelu(&self, x: &Tensor) -> Result<Tensor> {
        let y = match &self.weight {
            Weight::Dense(w) => x.matmul(w)?,
            Weight::Quantized(w) => w.forward(x)?,
        };
        kernels::bias_gelu(&y, &self.bias_values)?;
        Ok(y)
    }

    pub(crate) fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let y = match &self.weight {
            Weight::Dense(w) => x.matmul(w)?,
            Weight::Quantized(w) => w.forward(x)?,
        };
        match &self.bias {
            Some(b) => y.broadcast_add(b),
            None => Ok(y),
        }
    }
}

fn weight_outputs(weight: &Weight) -> Result<usize> {
    match weight {
        Weight::Dense(w) => w.dim(1),
        Weight::Quantized(QMatMul::QTensor(q)) => Ok(q.shape().dims()[0]),
        Weight::Quantized(_) => candle_core::bail!("a quantized weight that is not quantized"),
    }
}

/// Layer normalisation over the last dimension, with Whisper's epsilon.
#[derive(Debug)]
pub(crate) struct LayerNorm {
    gamma: Tensor,
    beta: Tensor,
}

impl LayerNorm {
    pub(crate) fn forward(&self, x: &Tensor) -> Result<Tensor> {
        candle_nn::ops::layer_norm(x, &self.gamma, &self.beta, 1e-5)
    }
}

/// Reads named parts of a Whisper spec, checking each shape.
#[derive(Debug)]
pub(crate) struct Weights<'f, 'a> {
    pub(crate) file: &'f Ct2Model<'a>,
}

impl Weights<'_, '_> {
    pub(crate) fn tensor(
        &self,
        name: &str,
        shape: &[usize],
    ) -> std::result::Result<Tensor, Ct2Error> {
        self.file.tensor(name, shape)
    }

    pub(crate) fn layer_norm(
        &self,
        prefix: &str,
        dim: usize,
    ) -> std::result::Result<LayerNorm, Ct2Error> {
        Ok(LayerNorm {
            gamma: self.tensor(&format!("{prefix}/gamma"), &[dim])?,
            beta: self.tensor(&format!("{prefix}/beta"), &[dim])?,
        })
    }

    /// The `[out, in]` weight and optional `[out]` bias of a linear layer.
    pub(crate) fn linear_parts(
        &self,
        prefix: &str,
        out: usize,
        inputs: usize,
    ) -> std::result::Result<(Tensor, Option<Tensor>), Ct2Error> {
        let weight = self.tensor(&format!("{prefix}/weight"), &[out, inputs])?;
        let bias_name = format!("{prefix}/bias");
        let bias = if self.file.has(&bias_name) {
            Some(self.tensor(&bias_name, &[out])?)
        } else {
            None
        };
        Ok((weight, bias))
    }

    pub(crate) fn linear(
        &self,
        prefix: &str,
        out: usize,
        inputs: usize,
        precision: Precision,
    ) -> std::result::Result<Linear, Ct2Error> {
        let (weight, bias) = self.linear_parts(prefix, out, inputs)?;
        Linear::new(&weight, bias, precision).map_err(|e| Ct2Error(format!("{prefix}: {e}")))
    }

    /// A fused projection whose first `scaled` output rows are multiplied by `scale`:
    /// the query rows carry attention's `1 / sqrt(head_dim)` so the scores need no pass.
    pub(crate) fn linear_scaled(
        &self,
        prefix: &str,
        out: usize,
        inputs: usize,
        scaled: usize,
        scale: f64,
        precision: Precision,
    ) -> std::result::Result<Linear, Ct2Error> {
        let err = |e: candle_core::Error| Ct2Error(format!("{prefix}: {e}"));
        let (weight, bias) = self.linear_parts(prefix, out, inputs)?;
        let rows = |t: &Tensor| -> Result<Tensor> {
            let head = (t.narrow(0, 0, scaled)? * scale)?;
            if scaled == out {
                return Ok(head);
            }
            Tensor::cat(&[&head, &t.narrow(0, scaled, out - scaled)?], 0)
        };
        let weight = rows(&weight).map_err(err)?;
        let bias = bias.map(|b| rows(&b)).transpose().map_err(err)?;
        Linear::new(&weight, bias, precision).map_err(err)
    }
}
