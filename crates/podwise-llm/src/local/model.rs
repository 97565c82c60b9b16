//! Loads a chat model from a GGUF file: the weights of a Llama- or Qwen2-family network,
//! its tokenizer and its chat template, all from the one file.
//!
//! Files whose weights are all in formats with a kernel of ours (F32, F16, Q4_0, Q4_1,
//! Q8_0, Q4_K, Q6_K; Q5_0 and Q5_1 requantised to Q8_0) run on our own forward pass
//! ([`super::forward`]). Others (Q5_K, Q2_K, Q3_K, ...) run on candle's models; candle has
//! fast kernels for Q4_0, Q8_0 and the k-quants but not for Q4_1, Q5_0 or Q5_1, so on that
//! path weights stored in those are requantized to Q8_0 once, in memory, while loading.

use std::fs::File;
use std::io::{BufReader, Cursor, Read, Seek};
use std::path::{Path, PathBuf};

use candle_core::quantized::{GgmlDType, QTensor, gguf_file};
use candle_core::{Device, Tensor};
use candle_transformers::models::{quantized_llama, quantized_qwen2};

use super::forward::Transformer;
use super::metadata::Metadata;
use super::pretokenize::Pretokenizer;
use super::template::ChatTemplate;
use super::tokenizer::Tokenizer;

/// Why a chat model could not be loaded. Each names the file.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("chat model {} is missing; run scripts/fetch-models.sh or set \
             PODWISE_LLM_CHAT_MODEL to a GGUF file", .0.display())]
    Missing(PathBuf),
    #[error("chat model {}: {reason}", path.display())]
    Invalid { path: PathBuf, reason: String },
}

/// The network itself: ours, or candle's by architecture.
enum Network {
    Own(Box<Transformer>),
    Llama(quantized_llama::ModelWeights),
    Qwen2(quantized_qwen2::ModelWeights),
}

/// A loaded chat model, ready to generate.
pub(crate) struct ChatModel {
    /// The file name without `.gguf`: what requests and the model list call it.
    pub(crate) id: String,
    network: Network,
    pub(crate) tokenizer: Tokenizer,
    pub(crate) template: ChatTemplate,
    /// Prompt plus reply tokens the model attends to.
    pub(crate) context_length: usize,
    /// Tokens that end the reply: end of text and end of turn.
    pub(crate) end_tokens: Vec<u32>,
}

impl std::fmt::Debug for ChatModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatModel")
            .field("id", &self.id)
            .field("context_length", &self.context_length)
            .finish_non_exhaustive()
    }
}

impl ChatModel {
    /// Loads `path`.
    ///
    /// # Errors
    /// When the file is missing, is not GGUF, is of an architecture this build lacks, or
    /// has no chat template.
    pub(crate) fn load(path: &Path) -> Result<Self, LoadError> {
        let invalid = |reason: String| LoadError::Invalid {
            path: path.to_owned(),
            reason,
        };
        let file = File::open(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => LoadError::Missing(path.to_owned()),
            _ => invalid(e.to_string()),
        })?;
        let mut reader = BufReader::new(file);
        let content = gguf_file::Content::read(&mut reader)
            .map_err(|e| invalid(format!("not a readable GGUF file: {e}")))?;
        let meta = Metadata(&content.metadata);

        let architecture = meta.string("general.architecture").map_err(&invalid)?;
        let context_length = meta
            .u32(&format!("{architecture}.context_length"))
            .map_err(&invalid)? as usize;
        let tokenizer = tokenizer_of(&meta).map_err(&invalid)?;
        let template = template_of(&meta, &tokenizer).map_err(&invalid)?;
        let end_tokens = end_tokens_of(&meta, &tokenizer);

        let network = match Transformer::unsupported(&content, &architecture) {
            None => Transformer::load(&content, &mut reader, &architecture)
                .map(|t| Network::Own(Box::new(t))),
            Some(reason) => {
                tracing::info!(%reason, "the chat model runs on candle's forward pass");
                if needs_requantizing(&content) {
                    let (content, mut image) =
                        requantize(content, &mut reader).map_err(&invalid)?;
                    network_of(&architecture, content, &mut image)
                } else {
                    network_of(&architecture, content, &mut reader)
                }
            }
        }
        .map_err(&invalid)?;

        let id = path.file_name().and_then(|n| n.to_str()).map_or_else(
            || "local".to_owned(),
            |n| n.trim_end_matches(".gguf").to_owned(),
        );
        Ok(Self {
            id,
            network,
            tokenizer,
            template,
            context_length,
            end_tokens,
        })
    }

    /// Runs `tokens` (placed at `position` in the sequence) and returns the logits of the
    /// next token.
    pub(crate) fn forward(
        &mut self,
        tokens: &[u32],
        position: usize,
    ) -> candle_core::Result<Tensor> {
        let input = || Tensor::new(tokens, &Device::Cpu)?.unsqueeze(0);
        let logits = match &mut self.network {
            Network::Own(m) => {
                let logits = m
                    .forward(tokens, position)
                    .map_err(candle_core::Error::msg)?;
                return Tensor::from_slice(logits, logits.len(), &Device::Cpu);
            }
            Network::Llama(m) => m.forward(&input()?, position)?,
            Network::Qwen2(m) => m.forward(&input()?, position)?,
        };
        logits.squeeze(0)
    }

    /// Which forward pass runs the model, for the load log.
    pub(crate) fn engine(&self) -> &'static str {
        match self.network {
            Network::Own(_) => "podwise",
            Network::Llama(_) | Network::Qwen2(_) => "candle",
        }
    }

    /// Forgets the previous conversation's attention cache.
    pub(crate) fn reset(&mut self) {
        match &mut self.network {
            Network::Own(m) => m.reset(),
            Network::Llama(m) => m.clear_kv_cache(),
            Network::Qwen2(m) => m.clear_kv_cache(),
        }
    }
}

fn network_of<R: Read + Seek>(
    architecture: &str,
    content: gguf_file::Content,
    reader: &mut R,
) -> Result<Network, String> {
    let device = Device::Cpu;
    match architecture {
        "llama" => {
            quantized_llama::ModelWeights::from_gguf(content, reader, &device).map(Network::Llama)
        }
        "qwen2" => {
            quantized_qwen2::ModelWeights::from_gguf(content, reader, &device).map(Network::Qwen2)
        }
        other => {
            return Err(format!(
                "architecture {other:?} is not supported; use a llama or qwen2 GGUF"
            ));
        }
    }
    .map_err(|e| format!("cannot read the weights: {e}"))
}

/// Quantisations candle runs without a fast kernel.
fn slow_on_cpu(dtype: GgmlDType) -> bool {
    matches!(dtype, GgmlDType::Q4_1 | GgmlDType::Q5_0 | GgmlDType::Q5_1)
}

fn needs_requantizing(content: &gguf_file::Content) -> bool {
    content
        .tensor_infos
        .values()
        .any(|t| slow_on_cpu(t.ggml_dtype))
}

/// Rewrites the model into an in-memory GGUF image with every slow tensor in Q8_0, and
/// reads that image's header back.
fn requantize<R: Read + Seek>(
    content: gguf_file::Content,
    reader: &mut R,
) -> Result<(gguf_file::Content, Cursor<Vec<u8>>), String> {
    let device = Device::Cpu;
    let mut tensors: Vec<(String, QTensor)> = Vec::with_capacity(content.tensor_infos.len());
    let mut names: Vec<&String> = content.tensor_infos.keys().collect();
    names.sort();
    for name in names {
        let tensor = content
            .tensor(reader, name, &device)
            .map_err(|e| format!("cannot read tensor {name}: {e}"))?;
        let tensor = if slow_on_cpu(tensor.dtype()) {
            let values = tensor
                .dequantize(&device)
                .map_err(|e| format!("cannot dequantize {name}: {e}"))?;
            QTensor::quantize(&values, GgmlDType::Q8_0)
                .map_err(|e| format!("cannot requantize {name}: {e}"))?
        } else {
            tensor
        };
        tensors.push((name.clone(), tensor));
    }
    let metadata: Vec<(&str, &gguf_file::Value)> = content
        .metadata
        .iter()
        .map(|(k, v)| (k.as_str(), v))
        .collect();
    let tensors: Vec<(&str, &QTensor)> = tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
    let mut image = Cursor::new(Vec::new());
    gguf_file::write(&mut image, &metadata, &tensors)
        .map_err(|e| format!("cannot write the requantized image: {e}"))?;
    image.set_position(0);
    let content = gguf_file::Content::read(&mut image)
        .map_err(|e| format!("cannot read the requantized image: {e}"))?;
    Ok((content, image))
}

fn tokenizer_of(meta: &Metadata<'_>) -> Result<Tokenizer, String> {
    let kind = meta.string("tokenizer.ggml.model")?;
    if kind != "gpt2" {
        return Err(format!(
            "tokenizer {kind:?} is not supported; this build reads byte-level BPE (gpt2) models"
        ));
    }
    let pre = meta.string("tokenizer.ggml.pre").unwrap_or_default();
    let pretokenizer = Pretokenizer::from_gguf_name(&pre)
        .ok_or_else(|| format!("pre-tokenizer {pre:?} is not supported"))?;
    let tokens = meta.strings("tokenizer.ggml.tokens")?;
    let types = meta.i32s("tokenizer.ggml.token_type").unwrap_or_default();
    let merges = meta.strings("tokenizer.ggml.merges")?;
    Tokenizer::new(tokens, &types, &merges, pretokenizer)
}

fn token_text(meta: &Metadata<'_>, key: &str, tokenizer: &Tokenizer) -> Option<String> {
    let id = meta.u32(key).ok()?;
    tokenizer.spelling(id)
}

fn template_of(meta: &Metadata<'_>, tokenizer: &Tokenizer) -> Result<ChatTemplate, String> {
    let source = meta.string("tokenizer.chat_template").map_err(|_| {
        "it has no chat template (tokenizer.chat_template); use an instruct model".to_owned()
    })?;
    let bos = token_text(meta, "tokenizer.ggml.bos_token_id", tokenizer).unwrap_or_default();
    let eos = token_text(meta, "tokenizer.ggml.eos_token_id", tokenizer).unwrap_or_default();
    ChatTemplate::new(source, bos, eos)
        .map_err(|e| format!("the chat template does not compile: {e}"))
}

/// The end-of-text token and whichever end-of-turn tokens the vocabulary has: instruct
/// models end a reply with their turn marker, which is often not the GGUF's eos token.
fn end_tokens_of(meta: &Metadata<'_>, tokenizer: &Tokenizer) -> Vec<u32> {
    let mut ends: Vec<u32> = ["tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id"]
        .iter()
        .filter_map(|key| meta.u32(key).ok())
        .collect();
    for marker in ["<|im_end|>", "<|eot_id|>", "<|endoftext|>", "<|end|>"] {
        ends.extend(tokenizer.token_id(marker));
    }
    ends.sort_unstable();
    ends.dedup();
    ends
}
