//! Reader for the packed `E5S1` model file that multilingual-e5-small ships in: the
//! encoder's shape, its SentencePiece unigram vocabulary and normalisation map, and a
//! directory of named tensors (f32 or Q4_0).
//!
//! The whole file is read into memory and every tensor is copied out, so a truncated or
//! inconsistent file is reported at load time rather than met halfway through a request.

use super::q4::Q4Block;

const MAGIC: &[u8; 4] = b"E5S1";
const DTYPE_F32: u8 = 0;
const DTYPE_Q4_0: u8 = 1;

/// Why an `E5S1` file could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FormatError(pub String);

/// The encoder's dimensions, as the file's header states them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Shape {
    pub hidden: usize,
    pub layers: usize,
    pub heads: usize,
    pub intermediate: usize,
    pub vocab: usize,
    pub max_positions: usize,
    pub layer_norm_eps: f32,
}

/// The tokenizer data: pieces in id order with their unigram log-probabilities, the
/// special ids, and the per-code-point normalisation map.
#[derive(Debug, Clone)]
pub(crate) struct Vocabulary {
    pub pieces: Vec<Vec<u8>>,
    pub scores: Vec<f32>,
    pub bos: u32,
    pub eos: u32,
    pub unk: u32,
    /// Sorted by code point; each maps to its replacement code points.
    pub normalisation: Vec<(u32, Vec<u32>)>,
}

/// One tensor of the directory, its data still in the file's encoding.
#[derive(Debug, Clone)]
pub(crate) enum Tensor {
    F32(Vec<f32>),
    Q4(Vec<Q4Block>),
}

/// A parsed `E5S1` file.
#[derive(Debug)]
pub(crate) struct E5File {
    pub shape: Shape,
    pub vocabulary: Vocabulary,
    tensors: Vec<(String, Tensor)>,
}

impl E5File {
    /// Parses a whole file image.
    pub fn parse(bytes: &[u8]) -> Result<Self, FormatError> {
        let mut r = Reader { bytes, at: 0 };
        if r.take(4)? != MAGIC {
            return Err(FormatError("not an E5S1 model file (bad magic)".into()));
        }
        let version = r.u32()?;
        if version != 1 {
            return Err(FormatError(format!("unsupported E5S1 version {version}")));
        }
        let hidden = r.count()?;
        let layers = r.count()?;
        let heads = r.count()?;
        let intermediate = r.count()?;
        let vocab = r.count()?;
        let max_positions = r.count()?;
        let _type_vocab = r.count()?;
        let layer_norm_eps = r.f32()?;
        let block = r.count()?;
        if block != 32 || hidden % 32 != 0 || intermediate % 32 != 0 || heads == 0 {
            return Err(FormatError(format!(
                "unsupported shape: block {block}, hidden {hidden}, intermediate \
                 {intermediate}, heads {heads}"
            )));
        }
        if hidden % heads != 0 {
            return Err(FormatError(format!("{heads} heads do not divide {hidden}")));
        }
        let shape = Shape {
            hidden,
            layers,
            heads,
            intermediate,
            vocab,
            max_positions,
            layer_norm_eps,
        };
        let vocabulary = read_vocabulary(&mut r)?;
        let tensors = read_tensors(&mut r, bytes)?;
        Ok(Self {
            shape,
            vocabulary,
            tensors,
        })
    }

    /// Takes the named f32 tensor out of the file, checking its length.
    pub fn take_f32(&mut self, name: &str, len: usize) -> Result<Vec<f32>, FormatError> {
        match self.take(name)? {
            Tensor::F32(v) if v.len() == len => Ok(v),
            Tensor::F32(v) => Err(wrong_len(name, v.len(), len)),
            Tensor::Q4(_) => Err(FormatError(format!("tensor {name} is Q4_0, expected f32"))),
        }
    }

    /// Takes the named f32 tensor of whole rows of `width` (at least one) and the number
    /// of rows.
    pub fn take_f32_rows(
        &mut self,
        name: &str,
        width: usize,
    ) -> Result<(Vec<f32>, usize), FormatError> {
        match self.take(name)? {
            Tensor::F32(v) if !v.is_empty() && v.len() % width == 0 => {
                let rows = v.len() / width;
                Ok((v, rows))
            }
            Tensor::F32(v) => Err(wrong_len(name, v.len(), width)),
            Tensor::Q4(_) => Err(FormatError(format!("tensor {name} is Q4_0, expected f32"))),
        }
    }

    /// Takes the named Q4_0 tensor out of the file, checking its length in weights.
    pub fn take_q4(&mut self, name: &str, len: usize) -> Result<Vec<Q4Block>, FormatError> {
        match self.take(name)? {
            Tensor::Q4(v) if v.len() * 32 == len => Ok(v),
            Tensor::Q4(v) => Err(wrong_len(name, v.len() * 32, len)),
            Tensor::F32(_) => Err(FormatError(format!("tensor {name} is f32, expected Q4_0"))),
        }
    }

    fn take(&mut self, name: &str) -> Result<Tensor, FormatError> {
        let at = self.tensors.iter().position(|(n, _)| n == name);
        let at = at.ok_or_else(|| FormatError(format!("tensor {name} is missing")))?;
        Ok(self.tensors.swap_remove(at).1)
    }
}

fn wrong_len(name: &str, found: usize, expected: usize) -> FormatError {
    FormatError(format!(
        "tensor {name} has {found} values, expected {expected}"
    ))
}

fn read_vocabulary(r: &mut Reader<'_>) -> Result<Vocabulary, FormatError> {
    let n = r.count()?;
    let bos = r.id(n)?;
    let eos = r.id(n)?;
    let _pad = r.id(n)?;
    let unk = r.id(n)?;
    let blob_len = usize::try_from(r.u64()?).map_err(|_| FormatError("blob too big".into()))?;
    let offsets = (0..=n).map(|_| r.u32()).collect::<Result<Vec<_>, _>>()?;
    let scores = (0..n).map(|_| r.f32()).collect::<Result<Vec<_>, _>>()?;
    let blob = r.take(blob_len)?;
    let pieces = offsets
        .windows(2)
        .map(|w| {
            blob.get(w[0] as usize..w[1] as usize)
                .map(<[u8]>::to_vec)
                .ok_or_else(|| FormatError("piece offsets run outside the blob".into()))
        })
        .collect::<Result<Vec<_>, _>>()?;

    let entries = r.count()?;
    let map_len = r.u32()? as usize;
    let mut m = Reader {
        bytes: r.take(map_len)?,
        at: 0,
    };
    let mut normalisation = Vec::with_capacity(entries);
    for _ in 0..entries {
        let cp = m.u32()?;
        let outs = m.take(1)?[0];
        let replacement = (0..outs).map(|_| m.u32()).collect::<Result<Vec<_>, _>>()?;
        normalisation.push((cp, replacement));
    }
    if !normalisation.is_sorted_by_key(|(cp, _)| *cp) {
        return Err(FormatError("normalisation map is not sorted".into()));
    }
    Ok(Vocabulary {
        pieces,
        scores,
        bos,
        eos,
        unk,
        normalisation,
    })
}

fn read_tensors(r: &mut Reader<'_>, file: &[u8]) -> Result<Vec<(String, Tensor)>, FormatError> {
    let n = r.count()?;
    let mut tensors = Vec::with_capacity(n);
    for _ in 0..n {
        let name_len = usize::from(u16::from_le_bytes([r.take(1)?[0], r.take(1)?[0]]));
        let name = String::from_utf8_lossy(r.take(name_len)?).into_owned();
        let dtype = r.take(1)?[0];
        let count = r.u32()? as usize;
        let offset = usize::try_from(r.u64()?).map_err(|_| FormatError("offset".into()))?;
        let _bytes = r.u64()?;
        let data = |len: usize| {
            file.get(offset..)
                .and_then(|rest| rest.get(..len))
                .ok_or_else(|| FormatError(format!("tensor {name} runs past the end of the file")))
        };
        let tensor = match dtype {
            DTYPE_F32 => Tensor::F32(
                data(count * 4)?
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect(),
            ),
            DTYPE_Q4_0 if count.is_multiple_of(32) => Tensor::Q4(
                data(count / 32 * Q4Block::BYTES)?
                    .chunks_exact(Q4Block::BYTES)
                    .map(Q4Block::from_bytes)
                    .collect(),
            ),
            other => {
                return Err(FormatError(format!(
                    "tensor {name} has dtype {other} and {count} values"
                )));
            }
        };
        tensors.push((name, tensor));
    }
    Ok(tensors)
}

/// A little-endian cursor that reports running off the end instead of panicking.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], FormatError> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or_else(|| FormatError(format!("truncated at byte {}", self.at)))?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], FormatError> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u32(&mut self) -> Result<u32, FormatError> {
        self.array().map(u32::from_le_bytes)
    }

    fn u64(&mut self) -> Result<u64, FormatError> {
        self.array().map(u64::from_le_bytes)
    }

    fn f32(&mut self) -> Result<f32, FormatError> {
        self.array().map(f32::from_le_bytes)
    }

    /// A non-negative i32 size field.
    fn count(&mut self) -> Result<usize, FormatError> {
        let v = i32::from_le_bytes(self.array()?);
        usize::try_from(v).map_err(|_| FormatError(format!("negative size {v}")))
    }

    /// A token id that must name one of `n` pieces.
    fn id(&mut self, n: usize) -> Result<u32, FormatError> {
        let v = self.count()?;
        if v >= n {
            return Err(FormatError(format!("special id {v} is outside {n} pieces")));
        }
        Ok(v as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Vec<u8> {
        let mut b = MAGIC.to_vec();
        for v in [1u32, 64, 1, 2, 64, 10, 8, 1] {
            b.extend(v.to_le_bytes());
        }
        b.extend(1e-12f32.to_le_bytes());
        b.extend(32u32.to_le_bytes());
        b
    }

    #[test]
    fn a_file_with_another_magic_is_rejected() {
        let err = E5File::parse(b"GGUF\x03\0\0\0").expect_err("GGUF is not E5S1");
        assert!(err.0.contains("bad magic"), "{err}");
    }

    #[test]
    fn a_file_cut_inside_the_header_is_reported_as_truncated() {
        let b = header();
        let err = E5File::parse(&b[..b.len() - 3]).expect_err("header is incomplete");
        assert!(err.0.contains("truncated"), "{err}");
    }

    #[test]
    fn a_file_cut_inside_the_vocabulary_is_reported_as_truncated() {
        let mut b = header();
        for v in [4u32, 0, 2, 1, 3] {
            b.extend(v.to_le_bytes());
        }
        b.extend(100u64.to_le_bytes());
        b.extend([0u8; 7]);
        let err = E5File::parse(&b).expect_err("vocabulary is incomplete");
        assert!(err.0.contains("truncated"), "{err}");
    }
}
