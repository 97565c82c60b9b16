//! The forward pass next to candle's models on the same GGUF weights: SmolLM2 itself, and
//! small random networks written on the spot for what SmolLM2 does not exercise (Qwen2's
//! rotary layout and biases, Q4_0, F16, a separate output head).
//!
//! Neither engine computes exactly: both round every matrix input to 8 bits (candle also
//! rounds the block scales to f16), and the noise gathers over the layers. So each is
//! measured against a third network, ours with every weight dequantised to f32 and no
//! input rounding: the same weights in exact arithmetic. Our logits must stay within
//! [`TOLERANCE`] of it and no further from it than twice candle's distance. Measured, as
//! the worst logit error over the steps relative to the logits' range: SmolLM2 3.6%
//! (candle 4.0%), the random networks 1.1 to 1.5% (candle 1.1 to 1.7%), the Q4_K_M mix
//! 3.1% (candle 2.8%).

use std::fs::File;
use std::io::{BufReader, Cursor};
use std::path::PathBuf;

use candle_core::quantized::{GgmlDType, QTensor, gguf_file};
use candle_core::{Device, Tensor};
use candle_transformers::models::{quantized_llama, quantized_qwen2};

use super::Transformer;
use crate::local::kernels::testing::Rng;

/// The worst logit error allowed, as a fraction of the exact logits' range: 8-bit inputs
/// to some two hundred products leave about a few percent.
const TOLERANCE: f32 = 0.05;

pub(super) fn model_path(relative: &str) -> PathBuf {
    let dir = std::env::var_os("PODWISE_MODEL_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models"),
        PathBuf::from,
    );
    let path = dir.join(relative);
    assert!(
        path.exists(),
        "{} is missing: run scripts/fetch-models.sh",
        path.display()
    );
    path
}

pub(super) fn argmax(v: &[f32]) -> usize {
    v.iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map_or(0, |(i, _)| i)
}

trait CandleModel {
    fn logits(&mut self, tokens: &[u32], position: usize) -> Vec<f32>;
}

impl CandleModel for quantized_llama::ModelWeights {
    fn logits(&mut self, tokens: &[u32], position: usize) -> Vec<f32> {
        let input = Tensor::new(tokens, &Device::Cpu).and_then(|t| t.unsqueeze(0));
        input
            .and_then(|t| self.forward(&t, position))
            .and_then(|t| t.flatten_all())
            .and_then(|t| t.to_vec1())
            .expect("candle runs")
    }
}

impl CandleModel for quantized_qwen2::ModelWeights {
    fn logits(&mut self, tokens: &[u32], position: usize) -> Vec<f32> {
        let input = Tensor::new(tokens, &Device::Cpu).and_then(|t| t.unsqueeze(0));
        input
            .and_then(|t| self.forward(&t, position))
            .and_then(|t| t.flatten_all())
            .and_then(|t| t.to_vec1())
            .expect("candle runs")
    }
}

/// How far two engines' logits are from exact arithmetic on the same weights.
#[derive(Debug, Default, Clone, Copy)]
struct Errors {
    ours: f32,
    candle: f32,
    between: f32,
}

/// The worst difference between `a` and `b` relative to the range of `exact`.
fn distance(a: &[f32], b: &[f32], exact: &[f32]) -> f32 {
    let (lo, hi) = exact
        .iter()
        .fold((f32::MAX, f32::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    let worst = a
        .iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0f32, f32::max);
    worst / (hi - lo)
}

/// Runs `prompt` through our network, its dequantised twin and candle's, then `steps` more
/// tokens one at a time (the exact network's greedy choices), comparing at every step.
fn compare(
    ours: &mut Transformer,
    theirs: &mut dyn CandleModel,
    prompt: &[u32],
    steps: usize,
) -> Errors {
    let mut exact_model = ours.dequantized();
    let mut errors = Errors::default();
    let mut position = 0;
    let mut input = prompt.to_vec();
    for _ in 0..=steps {
        let exact = exact_model
            .forward(&input, position)
            .expect("runs")
            .to_vec();
        let candle = theirs.logits(&input, position);
        let got = ours.forward(&input, position).expect("runs");
        errors.ours = errors.ours.max(distance(got, &exact, &exact));
        errors.candle = errors.candle.max(distance(&candle, &exact, &exact));
        errors.between = errors.between.max(distance(got, &candle, &exact));
        position += input.len();
        input = vec![argmax(&exact) as u32];
    }
    assert!(errors.ours < TOLERANCE, "{errors:?}");
    assert!(errors.ours <= 2.0 * errors.candle, "{errors:?}");
    assert!(errors.between < TOLERANCE, "{errors:?}");
    errors
}

#[test]
fn smollm2_logits_match_candles_on_the_same_file() {
    let path = model_path("llm/SmolLM2-135M-Instruct.Q4_1.gguf");
    let mut reader = BufReader::new(File::open(&path).expect("the model opens"));
    let content = gguf_file::Content::read(&mut reader).expect("a GGUF file");
    assert_eq!(Transformer::unsupported(&content, "llama"), None);
    let mut ours = Transformer::load(&content, &mut reader, "llama").expect("ours loads");
    // candle on the Q4_1 weights as stored (its slow path), so both use the same weights.
    let mut theirs = quantized_llama::ModelWeights::from_gguf(content, &mut reader, &Device::Cpu)
        .expect("candle loads");
    let chat = crate::local::model::ChatModel::load(&path).expect("the chat model loads");
    let question = crate::chat::Message {
        role: crate::chat::Role::User,
        content: "What is the capital of France?".to_owned(),
    };
    let prompt = chat
        .tokenizer
        .encode(&chat.template.render(&[question]).expect("renders"));
    let errors = compare(&mut ours, &mut theirs, &prompt, 4);
    eprintln!("SmolLM2: {errors:?}");
}

/// A random network written as GGUF, of architecture `arch`, with its matrices in `dtype`
/// (or, for `Q4K`, in the mix of a Q4_K_M file: Q6_K for the value and down projections
/// and the output head).
struct Synthetic {
    arch: &'static str,
    dtype: GgmlDType,
    output_head: Option<GgmlDType>,
    qkv_bias: bool,
}

const HEADS: usize = 4;
const KV_HEADS: usize = 2;
const VOCAB: usize = 200;
const LAYERS: usize = 2;

impl Synthetic {
    /// The width of the network: k-quant rows are whole 256-column blocks.
    fn dim(&self) -> usize {
        if self.k_quants() { 256 } else { 64 }
    }

    fn k_quants(&self) -> bool {
        matches!(self.dtype, GgmlDType::Q4K | GgmlDType::Q6K)
    }

    /// The format of the matrix named `part` in each layer.
    fn dtype_of(&self, part: &str) -> GgmlDType {
        match (self.dtype, part) {
            (GgmlDType::Q4K, "attn_v.weight" | "ffn_down.weight") => GgmlDType::Q6K,
            (dtype, _) => dtype,
        }
    }

    fn write(&self, seed: u64) -> Vec<u8> {
        let (dim, ffn) = (self.dim(), 2 * self.dim());
        let embedding = if self.k_quants() {
            GgmlDType::Q4K
        } else {
            GgmlDType::Q8_0
        };
        let mut rng = Rng::new(seed);
        let mut tensor = |shape: &[usize], dtype: GgmlDType, spread: f32, centre: f32| {
            let n: usize = shape.iter().product();
            let values: Vec<f32> = (0..n).map(|_| centre + spread * rng.unit()).collect();
            let t = Tensor::from_slice(&values, shape, &Device::Cpu).expect("a tensor");
            QTensor::quantize(&t, dtype).expect("candle quantises")
        };
        let kv = dim / HEADS * KV_HEADS;
        let mut tensors: Vec<(String, QTensor)> = vec![
            (
                "token_embd.weight".into(),
                tensor(&[VOCAB, dim], embedding, 1.0, 0.0),
            ),
            (
                "output_norm.weight".into(),
                tensor(&[dim], GgmlDType::F32, 0.2, 1.0),
            ),
        ];
        if let Some(dtype) = self.output_head {
            tensors.push((
                "output.weight".into(),
                tensor(&[VOCAB, dim], dtype, 0.3, 0.0),
            ));
        }
        for l in 0..LAYERS {
            let name = |part: &str| format!("blk.{l}.{part}");
            tensors.push((
                name("attn_norm.weight"),
                tensor(&[dim], GgmlDType::F32, 0.2, 1.0),
            ));
            tensors.push((
                name("ffn_norm.weight"),
                tensor(&[dim], GgmlDType::F32, 0.2, 1.0),
            ));
            tensors.push((
                name("attn_q.weight"),
                tensor(&[dim, dim], self.dtype_of("attn_q.weight"), 0.3, 0.0),
            ));
            tensors.push((
                name("attn_k.weight"),
                tensor(&[kv, dim], self.dtype_of("attn_k.weight"), 0.3, 0.0),
            ));
            tensors.push((
                name("attn_v.weight"),
                tensor(&[kv, dim], self.dtype_of("attn_v.weight"), 0.3, 0.0),
            ));
            tensors.push((
                name("attn_output.weight"),
                tensor(&[dim, dim], self.dtype_of("attn_output.weight"), 0.2, 0.0),
            ));
            tensors.push((
                name("ffn_gate.weight"),
                tensor(&[ffn, dim], self.dtype_of("ffn_gate.weight"), 0.3, 0.0),
            ));
            tensors.push((
                name("ffn_up.weight"),
                tensor(&[ffn, dim], self.dtype_of("ffn_up.weight"), 0.3, 0.0),
            ));
            tensors.push((
                name("ffn_down.weight"),
                tensor(&[dim, ffn], self.dtype_of("ffn_down.weight"), 0.2, 0.0),
            ));
            if self.qkv_bias {
                tensors.push((
                    name("attn_q.bias"),
                    tensor(&[dim], GgmlDType::F32, 0.5, 0.0),
                ));
                tensors.push((name("attn_k.bias"), tensor(&[kv], GgmlDType::F32, 0.5, 0.0)));
                tensors.push((name("attn_v.bias"), tensor(&[kv], GgmlDType::F32, 0.5, 0.0)));
            }
        }
        let a = self.arch;
        let u32s = [
            ("embedding_length", dim),
            ("block_count", LAYERS),
            ("attention.head_count", HEADS),
            ("attention.head_count_kv", KV_HEADS),
            ("rope.dimension_count", dim / HEADS),
            ("context_length", 512),
        ];
        let mut metadata: Vec<(String, gguf_file::Value)> = u32s
            .iter()
            .map(|(k, v)| (format!("{a}.{k}"), gguf_file::Value::U32(*v as u32)))
            .collect();
        metadata.push((
            "general.architecture".into(),
            gguf_file::Value::String(a.into()),
        ));
        metadata.push((
            format!("{a}.attention.layer_norm_rms_epsilon"),
            gguf_file::Value::F32(1e-6),
        ));
        metadata.push((
            format!("{a}.rope.freq_base"),
            gguf_file::Value::F32(50_000.0),
        ));
        let metadata: Vec<(&str, &gguf_file::Value)> =
            metadata.iter().map(|(k, v)| (k.as_str(), v)).collect();
        let tensors: Vec<(&str, &QTensor)> = tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
        let mut image = Cursor::new(Vec::new());
        gguf_file::write(&mut image, &metadata, &tensors).expect("candle writes GGUF");
        image.into_inner()
    }

    fn check(&self, seed: u64) {
        let bytes = self.write(seed);
        let mut reader = Cursor::new(bytes);
        let content = gguf_file::Content::read(&mut reader).expect("a GGUF image");
        assert_eq!(Transformer::unsupported(&content, self.arch), None);
        let mut ours = Transformer::load(&content, &mut reader, self.arch).expect("ours loads");
        let prompt = [3, 17, 199, 42, 42, 8, 120, 5, 77];
        let errors = if self.arch == "qwen2" {
            let mut theirs =
                quantized_qwen2::ModelWeights::from_gguf(content, &mut reader, &Device::Cpu)
                    .expect("candle loads");
            compare(&mut ours, &mut theirs, &prompt, 5)
        } else {
            let mut theirs =
                quantized_llama::ModelWeights::from_gguf(content, &mut reader, &Device::Cpu)
                    .expect("candle loads");
            compare(&mut ours, &mut theirs, &prompt, 5)
        };
        eprintln!("{} {:?}: {errors:?}", self.arch, self.dtype);
    }
}

#[test]
fn a_qwen2_network_with_biases_and_q4_0_weights_matches_candle() {
    let synthetic = Synthetic {
        arch: "qwen2",
        dtype: GgmlDType::Q4_0,
        output_head: Some(GgmlDType::F32),
        qkv_bias: true,
    };
    synthetic.check(21);
}

#[test]
fn a_llama_network_with_q8_0_weights_and_an_f16_head_matches_candle() {
    let synthetic = Synthetic {
        arch: "llama",
        dtype: GgmlDType::Q8_0,
        output_head: Some(GgmlDType::F16),
        qkv_bias: false,
    };
    synthetic.check(22);
}

#[test]
fn a_llama_network_with_q4_1_weights_and_a_tied_head_matches_candle() {
    let synthetic = Synthetic {
        arch: "llama",
        dtype: GgmlDType::Q4_1,
        output_head: None,
        qkv_bias: false,
    };
    synthetic.check(23);
}

#[test]
fn a_q4_k_m_mix_of_q4_k_and_q6_k_weights_matches_candle() {
    let synthetic = Synthetic {
        arch: "qwen2",
        dtype: GgmlDType::Q4K,
        output_head: Some(GgmlDType::Q6K),
        qkv_bias: true,
    };
    synthetic.check(27);
}

#[test]
fn q5_weights_are_requantised_to_what_candle_computes_with() {
    let synthetic = Synthetic {
        arch: "llama",
        dtype: GgmlDType::Q5_1,
        output_head: None,
        qkv_bias: false,
    };
    synthetic.check(24);
}

#[test]
fn a_prompt_in_pieces_gives_the_logits_of_the_prompt_whole() {
    let bytes = Synthetic {
        arch: "llama",
        dtype: GgmlDType::Q4_1,
        output_head: None,
        qkv_bias: false,
    }
    .write(25);
    let mut reader = Cursor::new(bytes);
    let content = gguf_file::Content::read(&mut reader).expect("a GGUF image");
    let mut model = Transformer::load(&content, &mut reader, "llama").expect("loads");
    let prompt: Vec<u32> = (0..150).map(|i| (i * 7 % VOCAB) as u32).collect();
    let whole = model.forward(&prompt, 0).expect("runs").to_vec();
    model.reset();
    model.forward(&prompt[..70], 0).expect("runs");
    let pieces = model.forward(&prompt[70..], 70).expect("runs");
    assert_eq!(whole, pieces);
}

#[test]
fn bad_requests_are_errors_not_panics() {
    let bytes = Synthetic {
        arch: "llama",
        dtype: GgmlDType::Q8_0,
        output_head: None,
        qkv_bias: false,
    }
    .write(26);
    let mut reader = Cursor::new(bytes);
    let content = gguf_file::Content::read(&mut reader).expect("a GGUF image");
    let mut model = Transformer::load(&content, &mut reader, "llama").expect("loads");
    assert!(model.forward(&[], 0).is_err());
    assert!(model.forward(&[VOCAB as u32], 0).is_err());
    assert!(model.forward(&[1], 3).is_err());
    assert!(model.forward(&vec![1; 513], 0).is_err());
}
