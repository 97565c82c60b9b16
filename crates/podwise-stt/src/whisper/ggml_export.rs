//! Writes a Whisper model held as a CTranslate2 export in whisper.cpp's own file format, so
//! the transcription benchmark can run the very same weights through whisper.cpp. Built
//! only with the `whisper-cpp-reference` feature: the service never reads such a file.
//!
//! The file is what whisper.cpp's loader reads, little-endian throughout: the magic
//! `0x67676d6c`; eleven i32 hyper-parameters (vocabulary, audio context, width, heads and
//! layers of the encoder, the same four of the decoder, mel bands, weight type); the mel
//! filters as two i32 (bands, bins) and f32 rows; an i32 token count and each text token
//! as a u32 length and its raw bytes, in id order (whisper.cpp adds the special tokens
//! itself); then each tensor as i32 rank, i32 name length, i32 type (0 f32, 1 f16), the
//! dimensions innermost first, the name and the data. Tensors carry the names of OpenAI's
//! checkpoint (`encoder.blocks.0.attn.query.weight`); matrices and convolution kernels
//! are f16, biases, norms and positional tables f32, which is what the loader allocates.
//!
//! CTranslate2 fuses the projections whisper.cpp keeps apart: self-attention's queries,
//! keys and values are one `[3d, d]` matrix, cross-attention's keys and values one
//! `[2d, d]`. They are cut back into rows here.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use candle_core::Tensor;

use super::ct2::{Ct2Error, Ct2Model};
use super::dims::Dims;
use super::mel;

/// `ggml` in the order whisper.cpp compares it.
const MAGIC: u32 = 0x6767_6d6c;
/// whisper.cpp's code for "matrices in f16": `GGML_FTYPE_MOSTLY_F16`.
const FTYPE_MOSTLY_F16: i32 = 1;
/// Bumped whenever the written bytes change, so a cached file from an older exporter is
/// not reused.
const FORMAT_REVISION: u32 = 1;

/// Why a model could not be exported.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// A file could not be read or written.
    #[error("{}: {source}", .path.display())]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The CTranslate2 model or its tokenizer is not what a Whisper export needs; the
    /// message names the variable or token concerned.
    #[error("cannot export {}: {reason}", .path.display())]
    Invalid {
        /// The model directory.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exported {
    /// The ggml file.
    pub path: PathBuf,
    /// Tensors in it.
    pub tensors: usize,
    /// Text tokens in its vocabulary.
    pub tokens: usize,
    /// Whether an earlier export was reused rather than written again.
    pub reused: bool,
}

/// Exports `model_dir` (holding `model.bin` and `tokenizer.json`) into `cache_dir`, unless
/// a file exported from the same source (same sizes and modification times, same
/// exporter revision) is already there.
///
/// # Errors
/// [`ExportError::Io`] when a file cannot be read or written, [`ExportError::Invalid`]
/// naming the missing or misshapen variable or token.
pub fn export_cached(model_dir: &Path, cache_dir: &Path) -> Result<Exported, ExportError> {
    let name = model_dir
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("whisper");
    let path = cache_dir.join(format!("{name}-f16.ggml"));
    let stamp_path = cache_dir.join(format!("{name}-f16.ggml.source"));
    let stamp = source_stamp(model_dir)?;
    let previous = std::fs::read_to_string(&stamp_path).unwrap_or_default();
    if previous.starts_with(&stamp) && path.exists() {
        let (tensors, tokens) = previous_counts(&previous);
        return Ok(Exported {
            path,
            tensors,
            tokens,
            reused: true,
        });
    }
    std::fs::create_dir_all(cache_dir).map_err(io(cache_dir))?;
    // Written beside the target and renamed, so an interrupted export leaves no file that
    // looks complete.
    let partial = path.with_extension("partial");
    let (tensors, tokens) = export(model_dir, &partial)?;
    std::fs::rename(&partial, &path).map_err(io(&path))?;
    let stamp = format!("{stamp}\ntensors {tensors}\ntokens {tokens}\n");
    std::fs::write(&stamp_path, &stamp).map_err(io(&stamp_path))?;
    Ok(Exported {
        path,
        tensors,
        tokens,
        reused: false,
    })
}

/// Exports `model_dir` into the ggml file `out`, returning how many tensors and text
/// tokens it wrote.
///
/// # Errors
/// As [`export_cached`].
pub fn export(model_dir: &Path, out: &Path) -> Result<(usize, usize), ExportError> {
    let model_path = model_dir.join("model.bin");
    let bytes = std::fs::read(&model_path).map_err(io(&model_path))?;
    let bad = |e: Ct2Error| invalid(model_dir, e.0);
    let file = Ct2Model::parse(&bytes).map_err(bad)?;
    let dims = Dims::of(&file).map_err(bad)?;
    let tokens =
        text_tokens(&model_dir.join("tokenizer.json")).map_err(|e| invalid(model_dir, e))?;
    let mut x = Export {
        file: &file,
        dir: model_dir,
        out: BufWriter::new(File::create(out).map_err(io(out))?),
        path: out,
        tensors: 0,
    };
    x.header(&dims)?;
    let (bins, filters) = mel::filter_matrix(dims.mels);
    x.i32s(&[x.int(dims.mels)?, x.int(bins)?])?;
    x.bytes(
        &filters
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect::<Vec<_>>(),
    )?;
    x.i32s(&[x.int(tokens.len())?])?;
    for token in &tokens {
        x.i32s(&[x.int(token.len())?])?;
        x.bytes(token)?;
    }
    x.encoder(&dims)?;
    x.decoder(&dims)?;
    x.out.flush().map_err(io(out))?;
    Ok((x.tensors, tokens.len()))
}

/// How a tensor is stored, by whisper.cpp's type code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    F32 = 0,
    F16 = 1,
}

/// One export in progress: the source model and the file being written.
struct Export<'f, 'a> {
    file: &'f Ct2Model<'a>,
    dir: &'f Path,
    out: BufWriter<File>,
    path: &'f Path,
    tensors: usize,
}

impl Export<'_, '_> {
    fn bytes(&mut self, b: &[u8]) -> Result<(), ExportError> {
        self.out.write_all(b).map_err(io(self.path))
    }

    fn i32s(&mut self, values: &[i32]) -> Result<(), ExportError> {
        let raw: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.bytes(&raw)
    }

    fn int(&self, v: usize) -> Result<i32, ExportError> {
        i32::try_from(v).map_err(|_| invalid(self.dir, format!("{v} does not fit an i32")))
    }

    fn get(&self, name: &str, shape: &[usize]) -> Result<Tensor, ExportError> {
        self.file
            .tensor(name, shape)
            .map_err(|e| invalid(self.dir, e.0))
    }

    /// The magic and the hyper-parameters.
    fn header(&mut self, dims: &Dims) -> Result<(), ExportError> {
        let heads = |side: &str| -> Result<usize, ExportError> {
            let name = format!("{side}/num_heads");
            if !self.file.has(&name) {
                return Ok(dims.heads);
            }
            let heads = self
                .file
                .integer(&name)
                .map_err(|e| invalid(self.dir, e.0))?;
            usize::try_from(heads).map_err(|_| invalid(self.dir, format!("{name} is {heads}")))
        };
        let values = [
            dims.vocab,
            dims.audio_ctx,
            dims.width,
            heads("encoder")?,
            dims.encoder_layers,
            dims.text_ctx,
            dims.width,
            heads("decoder")?,
            dims.decoder_layers,
            dims.mels,
        ];
        let mut ints = values
            .iter()
            .map(|&v| self.int(v))
            .collect::<Result<Vec<_>, _>>()?;
        ints.push(FTYPE_MOSTLY_F16);
        self.bytes(&MAGIC.to_le_bytes())?;
        self.i32s(&ints)
    }

    /// Writes one tensor; its dimensions go innermost first, as ggml counts them.
    fn put(&mut self, name: &str, t: &Tensor, kind: Kind) -> Result<(), ExportError> {
        let candle = |e: candle_core::Error| invalid(self.dir, format!("{name}: {e}"));
        let values: Vec<f32> = t.flatten_all().and_then(|t| t.to_vec1()).map_err(candle)?;
        let mut head = vec![self.int(t.rank())?, self.int(name.len())?, kind as i32];
        for &d in t.dims().iter().rev() {
            head.push(self.int(d)?);
        }
        let data: Vec<u8> = match kind {
            Kind::F32 => values.iter().flat_map(|v| v.to_le_bytes()).collect(),
            Kind::F16 => values
                .iter()
                .flat_map(|&v| half::f16::from_f32(v).to_le_bytes())
                .collect(),
        };
        self.i32s(&head)?;
        self.bytes(name.as_bytes())?;
        self.bytes(&data)?;
        self.tensors += 1;
        Ok(())
    }

    /// A layer norm: `gamma` and `beta` become `weight` and `bias`.
    fn norm(&mut self, to: &str, from: &str, width: usize) -> Result<(), ExportError> {
        let gamma = self.get(&format!("{from}/gamma"), &[width])?;
        let beta = self.get(&format!("{from}/beta"), &[width])?;
        self.put(&format!("{to}.weight"), &gamma, Kind::F32)?;
        self.put(&format!("{to}.bias"), &beta, Kind::F32)
    }

    /// A linear layer whose output rows are split evenly into `parts`, each named with its
    /// bias or without. whisper.cpp's key projections have no bias: CTranslate2 stores
    /// zeros there, and a key bias would shift all of a query's scores alike, which the
    /// softmax cancels, so leaving it out is exact either way.
    fn linear(
        &mut self,
        from: &str,
        inputs: usize,
        parts: &[(&str, bool)],
    ) -> Result<(), ExportError> {
        let weight_name = format!("{from}/weight");
        let shape = self
            .file
            .shape(&weight_name)
            .map_err(|e| invalid(self.dir, e.0))?
            .to_vec();
        let rows = shape.first().copied().unwrap_or(0) / parts.len();
        let dir = self.dir;
        let weight = self.get(&weight_name, &[rows * parts.len(), inputs])?;
        let bias = self.get(&format!("{from}/bias"), &[rows * parts.len()])?;
        for (i, &(to, has_bias)) in parts.iter().enumerate() {
            let cut = |t: &Tensor| {
                t.narrow(0, i * rows, rows)
                    .map_err(|e| invalid(dir, format!("{from}: {e}")))
            };
            self.put(&format!("{to}.weight"), &cut(&weight)?, Kind::F16)?;
            if has_bias {
                self.put(&format!("{to}.bias"), &cut(&bias)?, Kind::F32)?;
            }
        }
        Ok(())
    }

    fn encoder(&mut self, dims: &Dims) -> Result<(), ExportError> {
        let d = dims.width;
        for (conv, inputs) in [("conv1", dims.mels), ("conv2", d)] {
            let kernel = self.get(&format!("encoder/{conv}/weight"), &[d, inputs, 3])?;
            // whisper.cpp adds the bias as a `[1, d]` column.
            let bias = self.get(&format!("encoder/{conv}/bias"), &[d])?;
            let bias = bias
                .reshape((d, 1))
                .map_err(|e| invalid(self.dir, e.to_string()))?;
            self.put(&format!("encoder.{conv}.weight"), &kernel, Kind::F16)?;
            self.put(&format!("encoder.{conv}.bias"), &bias, Kind::F32)?;
        }
        let positions = self.get("encoder/position_encodings/encodings", &[dims.audio_ctx, d])?;
        self.put("encoder.positional_embedding", &positions, Kind::F32)?;
        for i in 0..dims.encoder_layers {
            let (to, from) = (format!("encoder.blocks.{i}"), format!("encoder/layer_{i}"));
            self.norm(
                &format!("{to}.attn_ln"),
                &format!("{from}/self_attention/layer_norm"),
                d,
            )?;
            self.self_attention(&to, &from, d)?;
            self.mlp(&to, &from, dims)?;
        }
        self.norm("encoder.ln_post", "encoder/layer_norm", d)
    }

    fn decoder(&mut self, dims: &Dims) -> Result<(), ExportError> {
        let d = dims.width;
        let embedding = self.get("decoder/embeddings/weight", &[dims.vocab, d])?;
        self.put("decoder.token_embedding.weight", &embedding, Kind::F16)?;
        let positions = self.get("decoder/position_encodings/encodings", &[dims.text_ctx, d])?;
        self.put("decoder.positional_embedding", &positions, Kind::F32)?;
        for i in 0..dims.decoder_layers {
            let (to, from) = (format!("decoder.blocks.{i}"), format!("decoder/layer_{i}"));
            self.norm(
                &format!("{to}.attn_ln"),
                &format!("{from}/self_attention/layer_norm"),
                d,
            )?;
            self.self_attention(&to, &from, d)?;
            let cross = format!("{to}.cross_attn");
            self.norm(
                &format!("{cross}_ln"),
                &format!("{from}/attention/layer_norm"),
                d,
            )?;
            self.linear(
                &format!("{from}/attention/linear_0"),
                d,
                &[(&format!("{cross}.query"), true)],
            )?;
            self.linear(
                &format!("{from}/attention/linear_1"),
                d,
                &[
                    (&format!("{cross}.key"), false),
                    (&format!("{cross}.value"), true),
                ],
            )?;
            self.linear(
                &format!("{from}/attention/linear_2"),
                d,
                &[(&format!("{cross}.out"), true)],
            )?;
            self.mlp(&to, &from, dims)?;
        }
        self.norm("decoder.ln", "decoder/layer_norm", d)
    }

    fn self_attention(&mut self, to: &str, from: &str, d: usize) -> Result<(), ExportError> {
        let attn = format!("{to}.attn");
        self.linear(
            &format!("{from}/self_attention/linear_0"),
            d,
            &[
                (&format!("{attn}.query"), true),
                (&format!("{attn}.key"), false),
                (&format!("{attn}.value"), true),
            ],
        )?;
        self.linear(
            &format!("{from}/self_attention/linear_1"),
            d,
            &[(&format!("{attn}.out"), true)],
        )
    }

    fn mlp(&mut self, to: &str, from: &str, dims: &Dims) -> Result<(), ExportError> {
        self.norm(
            &format!("{to}.mlp_ln"),
            &format!("{from}/ffn/layer_norm"),
            dims.width,
        )?;
        self.linear(
            &format!("{from}/ffn/linear_0"),
            dims.width,
            &[(&format!("{to}.mlp.0"), true)],
        )?;
        self.linear(
            &format!("{from}/ffn/linear_1"),
            dims.mlp,
            &[(&format!("{to}.mlp.2"), true)],
        )
    }
}

/// The text tokens of `tokenizer.json` (every id below `<|endoftext|>`) as raw bytes.
fn text_tokens(path: &Path) -> Result<Vec<Vec<u8>>, String> {
    let tokenizer =
        tokenizers::Tokenizer::from_file(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let end = tokenizer
        .token_to_id("<|endoftext|>")
        .ok_or_else(|| format!("{} has no <|endoftext|> token", path.display()))?;
    let table = ByteLevel::new();
    (0..end)
        .map(|id| {
            // An id with no entry (multilingual models leave one gap) is an empty token,
            // as whisper.cpp expects it.
            let spelling = tokenizer.id_to_token(id).unwrap_or_default();
            table
                .bytes_of(&spelling)
                .ok_or_else(|| format!("token {id} ({spelling:?}) is not byte-level BPE"))
        })
        .collect()
}

/// GPT-2's byte-level alphabet: each byte is spelt as one printable character. Bytes that
/// are printable Latin-1 already stand for themselves; the rest (controls, space, and a
/// few others) are given the characters from U+0100 on, in byte order.
struct ByteLevel {
    chars: [char; 256],
}

impl ByteLevel {
    fn new() -> Self {
        let printable = |b: u8| matches!(b, b'!'..=b'~' | 0xa1..=0xac | 0xae..=0xff);
        let mut chars = ['\0'; 256];
        let mut next = 0x100u32;
        for b in 0..=255u8 {
            chars[usize::from(b)] = if printable(b) {
                char::from(b)
            } else {
                next += 1;
                char::from_u32(next - 1).unwrap_or('\0')
            };
        }
        Self { chars }
    }

    /// The bytes a token's spelling stands for, or `None` for a character outside the
    /// alphabet.
    fn bytes_of(&self, spelling: &str) -> Option<Vec<u8>> {
        spelling
            .chars()
            .map(|c| {
                let at = self.chars.iter().position(|&k| k == c)?;
                u8::try_from(at).ok()
            })
            .collect()
    }
}

/// Sizes and modification times of the source files, with the exporter's revision.
fn source_stamp(model_dir: &Path) -> Result<String, ExportError> {
    let mut stamp = format!("revision {FORMAT_REVISION}\n");
    for name in ["model.bin", "tokenizer.json"] {
        let path = model_dir.join(name);
        let meta = std::fs::metadata(&path).map_err(io(&path))?;
        let modified = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |t| t.as_nanos());
        stamp.push_str(&format!("{name} {} {modified}\n", meta.len()));
    }
    Ok(stamp)
}

/// The counts an earlier export wrote after its stamp.
fn previous_counts(stamp: &str) -> (usize, usize) {
    let find = |key: &str| {
        stamp
            .lines()
            .find_map(|l| l.strip_prefix(key)?.trim().parse().ok())
            .unwrap_or(0)
    };
    (find("tensors "), find("tokens "))
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ExportError + '_ {
    move |source| ExportError::Io {
        path: path.to_owned(),
        source,
    }
}

fn invalid(dir: &Path, reason: String) -> ExportError {
    ExportError::Invalid {
        path: dir.to_owned(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_level_spellings_turn_back_into_their_bytes() {
        let table = ByteLevel::new();
        assert_eq!(table.bytes_of("hello").as_deref(), Some(&b"hello"[..]));
        // U+0120 spells a space and U+010A a line feed.
        assert_eq!(
            table.bytes_of("\u{120}the\u{10a}").as_deref(),
            Some(&b" the\n"[..])
        );
        // "你" is E4 BD A0 in UTF-8; GPT-2 spells those bytes as three Latin-1 letters.
        assert_eq!(table.bytes_of("ä½ł").as_deref(), Some("你".as_bytes()));
        assert_eq!(
            table.bytes_of("\u{4f60}"),
            None,
            "a raw CJK character is no byte"
        );
    }

    #[test]
    fn every_byte_has_its_own_spelling() {
        let table = ByteLevel::new();
        let mut chars = table.chars.to_vec();
        chars.sort_unstable();
        chars.dedup();
        assert_eq!(chars.len(), 256);
        assert_eq!(table.chars[usize::from(b' ')], '\u{120}');
        assert_eq!(
            table.chars[0xad], '\u{143}',
            "the soft hyphen is the last remapped byte"
        );
    }

    #[test]
    fn the_dense_filters_hold_the_engines_own_slaney_weights() {
        let (bins, dense) = mel::filter_matrix(80);
        assert_eq!((bins, dense.len()), (201, 80 * 201));
        // The same reference values the spectrogram's own tests check.
        assert!((dense[1] - 0.024_862_594).abs() < 1e-7, "{}", dense[1]);
        assert!((dense[40 * bins + 43] - 0.014_735_566).abs() < 1e-7);
        assert_eq!(dense[79 * bins + 200], 0.0);
        for m in 0..80 {
            let area: f32 = dense[m * bins..(m + 1) * bins].iter().sum::<f32>() * 40.0;
            assert!((area - 1.0).abs() < 0.2, "band {m} has area {area}");
        }
    }

    #[test]
    fn a_model_directory_without_a_model_names_the_missing_file() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let err = export(dir.path(), &dir.path().join("out.ggml")).expect_err("nothing to export");
        assert!(err.to_string().contains("model.bin"), "{err}");
    }

    #[test]
    fn a_cached_export_is_reused_only_while_its_source_is_unchanged() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        for name in ["model.bin", "tokenizer.json"] {
            std::fs::write(dir.path().join(name), name).expect("written");
        }
        let first = source_stamp(dir.path()).expect("stamped");
        assert_eq!(first, source_stamp(dir.path()).expect("stamped"));
        std::fs::write(dir.path().join("model.bin"), "a longer model").expect("rewritten");
        assert_ne!(first, source_stamp(dir.path()).expect("stamped"));
        assert_eq!(
            previous_counts("revision 1\ntensors 245\ntokens 50257\n"),
            (245, 50257)
        );
    }
}
