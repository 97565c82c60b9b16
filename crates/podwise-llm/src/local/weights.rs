//! Reads a Llama- or Qwen2-family GGUF file into the forward pass's own structures: the
//! shape of the network from the metadata, and every weight matrix repacked for its
//! kernel straight from the file's bytes, without a detour through candle's tensors.
//!
//! Files this cannot run (other architectures, mixtures of experts, formats without a
//! kernel such as Q5_K) are recognised before anything is read, so the caller can hand
//! them to candle instead.

use std::io::{Read, Seek, SeekFrom};

use candle_core::Device;
use candle_core::quantized::{GgmlDType, gguf_file};

use super::attention::Heads;
use super::kernels::Matrix;
use super::kernels::dense::DenseMatrix;
use super::kernels::q4::Q4Matrix;
use super::kernels::q6::Q6Matrix;
use super::kernels::q8::Q8Matrix;
use super::metadata::Metadata;
use super::ops::{Rope, RopeStyle};

/// The shape of the network and its constants.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) dim: usize,
    pub(crate) heads: Heads,
    pub(crate) ffn: usize,
    pub(crate) vocab: usize,
    pub(crate) eps: f32,
    pub(crate) rope: Rope,
    pub(crate) context_length: usize,
}

/// One transformer block.
#[derive(Debug)]
pub(crate) struct Layer {
    pub(crate) attn_norm: Vec<f32>,
    /// The query, key and value projections, which read the same input.
    pub(crate) qkv: Vec<Matrix>,
    /// Qwen2's biases of the query, key and value projections, end to end.
    pub(crate) qkv_bias: Option<Vec<f32>>,
    pub(crate) attn_output: Matrix,
    pub(crate) ffn_norm: Vec<f32>,
    /// The gate and up projections, which read the same input.
    pub(crate) gate_up: Vec<Matrix>,
    pub(crate) down: Matrix,
}

/// Every weight of the network.
#[derive(Debug)]
pub(crate) struct Weights {
    pub(crate) embedding: Matrix,
    /// The output head, or `None` when it is the embedding matrix (tied weights).
    pub(crate) output: Option<Matrix>,
    pub(crate) norm: Vec<f32>,
    pub(crate) layers: Vec<Layer>,
}

/// Why this forward pass cannot run `content`, or `None` when it can.
pub(crate) fn unsupported(content: &gguf_file::Content, architecture: &str) -> Option<String> {
    if !matches!(architecture, "llama" | "qwen2") {
        return Some(format!("architecture {architecture:?}"));
    }
    let meta = Metadata(&content.metadata);
    if meta
        .u32(&format!("{architecture}.expert_count"))
        .unwrap_or(0)
        > 1
    {
        return Some("a mixture of experts".to_owned());
    }
    let mut names: Vec<&String> = content.tensor_infos.keys().collect();
    names.sort();
    names.into_iter().find_map(|name| {
        let dtype = content.tensor_infos[name].ggml_dtype;
        (!readable(dtype)).then(|| format!("tensor {name} in {dtype:?}"))
    })
}

/// Formats with a kernel here, or (Q5_0, Q5_1) requantised to one at load.
fn readable(dtype: GgmlDType) -> bool {
    use GgmlDType as D;
    matches!(
        dtype,
        D::F32 | D::F16 | D::Q4_0 | D::Q4_1 | D::Q5_0 | D::Q5_1 | D::Q8_0 | D::Q4K | D::Q6K
    )
}

/// Reads the network of `content`, which [`unsupported`] accepted.
///
/// # Errors
/// When a tensor or metadata key is missing or has an unexpected shape, or the file cannot
/// be read.
pub(crate) fn load<R: Read + Seek>(
    content: &gguf_file::Content,
    reader: &mut R,
    architecture: &str,
) -> Result<(Config, Weights), String> {
    let config = config_of(content, architecture)?;
    let mut file = TensorReader { content, reader };
    let embedding = file.matrix("token_embd.weight", config.vocab, config.dim)?;
    let output = if content.tensor_infos.contains_key("output.weight") {
        Some(file.matrix("output.weight", config.vocab, config.dim)?)
    } else {
        None
    };
    let norm = file.vector("output_norm.weight", config.dim)?;
    let layers = (0..content_layers(content, architecture)?)
        .map(|l| file.layer(l, &config))
        .collect::<Result<_, _>>()?;
    let weights = Weights {
        embedding,
        output,
        norm,
        layers,
    };
    Ok((config, weights))
}

fn content_layers(content: &gguf_file::Content, architecture: &str) -> Result<usize, String> {
    let meta = Metadata(&content.metadata);
    Ok(meta.u32(&format!("{architecture}.block_count"))? as usize)
}

fn config_of(content: &gguf_file::Content, architecture: &str) -> Result<Config, String> {
    let meta = Metadata(&content.metadata);
    let key = |k: &str| format!("{architecture}.{k}");
    let dim = meta.u32(&key("embedding_length"))? as usize;
    let heads = meta.u32(&key("attention.head_count"))? as usize;
    let kv_heads = meta
        .u32(&key("attention.head_count_kv"))
        .map_or(heads, |n| n as usize);
    if heads == 0 || kv_heads == 0 || !dim.is_multiple_of(heads) || !heads.is_multiple_of(kv_heads)
    {
        return Err(format!(
            "{heads} heads, {kv_heads} key-value heads and width {dim} do not fit together"
        ));
    }
    let head_dim = dim / heads;
    let rope_dim = meta
        .u32(&key("rope.dimension_count"))
        .map_or(head_dim, |n| n as usize);
    if rope_dim != head_dim || !head_dim.is_multiple_of(2) {
        return Err(format!(
            "rotary embedding over {rope_dim} of {head_dim} head dimensions"
        ));
    }
    let style = if architecture == "qwen2" {
        RopeStyle::Halves
    } else {
        RopeStyle::Interleaved
    };
    let base = meta.f32(&key("rope.freq_base")).unwrap_or(10_000.0);
    let info = |name: &str| {
        content
            .tensor_infos
            .get(name)
            .ok_or_else(|| format!("tensor {name} is missing"))
    };
    let vocab = info("token_embd.weight")?.shape.dims()[0];
    let ffn = info("blk.0.ffn_gate.weight")?.shape.dims()[0];
    Ok(Config {
        dim,
        heads: Heads {
            heads,
            kv_heads,
            head_dim,
        },
        ffn,
        vocab,
        eps: meta.f32(&key("attention.layer_norm_rms_epsilon"))?,
        rope: Rope::new(style, head_dim, base),
        context_length: meta.u32(&key("context_length"))? as usize,
    })
}

/// Reads named tensors out of the file.
struct TensorReader<'a, R> {
    content: &'a gguf_file::Content,
    reader: &'a mut R,
}

impl<'a, R: Read + Seek> TensorReader<'a, R> {
    fn layer(&mut self, l: usize, config: &Config) -> Result<Layer, String> {
        let name = |part: &str| format!("blk.{l}.{part}");
        let (dim, ffn) = (config.dim, config.ffn);
        let (q_dim, kv_dim) = (config.heads.q_dim(), config.heads.kv_dim());
        let qkv = vec![
            self.matrix(&name("attn_q.weight"), q_dim, dim)?,
            self.matrix(&name("attn_k.weight"), kv_dim, dim)?,
            self.matrix(&name("attn_v.weight"), kv_dim, dim)?,
        ];
        let qkv_bias = if self.content.tensor_infos.contains_key(&name("attn_q.bias")) {
            let mut bias = self.vector(&name("attn_q.bias"), q_dim)?;
            bias.extend(self.vector(&name("attn_k.bias"), kv_dim)?);
            bias.extend(self.vector(&name("attn_v.bias"), kv_dim)?);
            Some(bias)
        } else {
            None
        };
        Ok(Layer {
            attn_norm: self.vector(&name("attn_norm.weight"), dim)?,
            qkv,
            qkv_bias,
            attn_output: self.matrix(&name("attn_output.weight"), dim, q_dim)?,
            ffn_norm: self.vector(&name("ffn_norm.weight"), dim)?,
            gate_up: vec![
                self.matrix(&name("ffn_gate.weight"), ffn, dim)?,
                self.matrix(&name("ffn_up.weight"), ffn, dim)?,
            ],
            down: self.matrix(&name("ffn_down.weight"), dim, ffn)?,
        })
    }

    fn info(&self, name: &str) -> Result<&'a gguf_file::TensorInfo, String> {
        self.content
            .tensor_infos
            .get(name)
            .ok_or_else(|| format!("tensor {name} is missing"))
    }

    /// The stored bytes of `name`, after checking that it has `shape` (outer first).
    fn bytes(&mut self, name: &str, shape: &[usize]) -> Result<(GgmlDType, Vec<u8>), String> {
        let info = self.info(name)?;
        if info.shape.dims() != shape {
            return Err(format!(
                "tensor {name} has shape {:?}, expected {shape:?}",
                info.shape.dims()
            ));
        }
        let dtype = info.ggml_dtype;
        let size = info.shape.elem_count() / dtype.block_size() * dtype.type_size();
        let start = self.content.tensor_data_offset + info.offset;
        let mut bytes = vec![0; size];
        self.reader
            .seek(SeekFrom::Start(start))
            .and_then(|_| self.reader.read_exact(&mut bytes))
            .map_err(|e| format!("cannot read tensor {name}: {e}"))?;
        Ok((dtype, bytes))
    }

    /// A weight matrix of `rows` outputs by `cols` inputs, repacked for its kernel.
    fn matrix(&mut self, name: &str, rows: usize, cols: usize) -> Result<Matrix, String> {
        let (dtype, bytes) = self.bytes(name, &[rows, cols])?;
        if !cols.is_multiple_of(dtype.block_size()) {
            return Err(format!(
                "tensor {name}: rows of {cols} are not whole {dtype:?} blocks"
            ));
        }
        Ok(match dtype {
            GgmlDType::Q4_0 => Matrix::Q4(Q4Matrix::from_q4_0(&bytes, rows, cols)),
            GgmlDType::Q4_1 => Matrix::Q4(Q4Matrix::from_q4_1(&bytes, rows, cols)),
            GgmlDType::Q8_0 => Matrix::Q8(Q8Matrix::from_q8_0(&bytes, rows, cols)),
            GgmlDType::Q4K => Matrix::Q4K(Q4Matrix::from_q4_k(&bytes, rows, cols)),
            GgmlDType::Q6K => Matrix::Q6(Q6Matrix::from_q6_k(&bytes, rows, cols)),
            GgmlDType::F32 | GgmlDType::F16 => {
                Matrix::Dense(DenseMatrix::new(floats(dtype, &bytes), rows, cols))
            }
            // No kernel of their own: candle's Q8_0 of their values, as before this pass.
            GgmlDType::Q5_0 | GgmlDType::Q5_1 => {
                let values = self.dequantized(name)?;
                Matrix::Q8(Q8Matrix::quantize(&values, rows, cols))
            }
            other => return Err(format!("tensor {name} is in {other:?}")),
        })
    }

    /// A vector of `len` floats (a norm's weights, a bias).
    fn vector(&mut self, name: &str, len: usize) -> Result<Vec<f32>, String> {
        let (dtype, bytes) = self.bytes(name, &[len])?;
        match dtype {
            GgmlDType::F32 | GgmlDType::F16 => Ok(floats(dtype, &bytes)),
            _ => self.dequantized(name),
        }
    }

    fn dequantized(&mut self, name: &str) -> Result<Vec<f32>, String> {
        let info = self.info(name)?;
        let offset = self.content.tensor_data_offset;
        info.read(self.reader, offset, &Device::Cpu)
            .and_then(|t| t.dequantize(&Device::Cpu))
            .and_then(|t| t.flatten_all())
            .and_then(|t| t.to_vec1())
            .map_err(|e| format!("cannot dequantize tensor {name}: {e}"))
    }
}

/// Little-endian F32 or F16 values as f32.
fn floats(dtype: GgmlDType, bytes: &[u8]) -> Vec<f32> {
    if dtype == GgmlDType::F16 {
        bytes.chunks_exact(2).map(super::kernels::f16_at).collect()
    } else {
        bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect()
    }
}
