//! Reader for CTranslate2's `model.bin`: the binary that faster-whisper and its kin ship.
//!
//! The layout (format version 6, little-endian): a u32 format version, the spec's name as a
//! string, a u32 spec revision and a u32 variable count; then for each variable its name,
//! a u8 rank, that many u32 dimensions, a u8 type code, a u32 byte count and the bytes;
//! last a u32 alias count and pairs of strings (alias, target). A string is a u16 length
//! that counts a trailing NUL, then the bytes.
//!
//! Every read is bounds-checked, so a truncated download is an error naming where it ends,
//! never a panic. Weights come out as f32 whatever their stored type: f16 and bf16 are
//! widened, int8 is divided by its per-row `weight_scale` as CTranslate2 quantizes it.

use std::collections::HashMap;
use std::ops::Range;

use candle_core::{DType, Device, Tensor};

/// Why a CTranslate2 file could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub(crate) struct Ct2Error(pub String);

/// Oldest and newest format versions this reader knows.
const VERSIONS: Range<u32> = 5..7;

/// The element types CTranslate2 writes, by their code in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ct2Type {
    F32,
    I8,
    I16,
    I32,
    F16,
    Bf16,
}

impl Ct2Type {
    fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0 => Self::F32,
            1 => Self::I8,
            2 => Self::I16,
            3 => Self::I32,
            4 => Self::F16,
            5 => Self::Bf16,
            _ => return None,
        })
    }

    fn size(self) -> usize {
        match self {
            Self::I8 => 1,
            Self::I16 | Self::F16 | Self::Bf16 => 2,
            Self::F32 | Self::I32 => 4,
        }
    }
}

#[derive(Debug)]
struct Variable {
    shape: Vec<usize>,
    kind: Ct2Type,
    bytes: Range<usize>,
}

/// A parsed file: its variable directory over the bytes it was read from.
#[derive(Debug)]
pub(crate) struct Ct2Model<'a> {
    /// The spec the converter wrote, `WhisperSpec` for Whisper.
    pub spec: String,
    variables: HashMap<String, Variable>,
    data: &'a [u8],
}

/// A bounds-checked cursor over the file image.
struct Cursor<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, len: usize, what: &dyn Fn() -> String) -> Result<&'a [u8], Ct2Error> {
        let end = self
            .at
            .checked_add(len)
            .filter(|&end| end <= self.data.len());
        let Some(end) = end else {
            return Err(Ct2Error(format!(
                "truncated: {} needs {len} bytes at offset {} of {}",
                what(),
                self.at,
                self.data.len()
            )));
        };
        let bytes = &self.data[self.at..end];
        self.at = end;
        Ok(bytes)
    }

    fn u8(&mut self, what: &dyn Fn() -> String) -> Result<u8, Ct2Error> {
        Ok(self.take(1, what)?[0])
    }

    fn u16(&mut self, what: &dyn Fn() -> String) -> Result<u16, Ct2Error> {
        let b = self.take(2, what)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self, what: &dyn Fn() -> String) -> Result<u32, Ct2Error> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn string(&mut self, what: &dyn Fn() -> String) -> Result<String, Ct2Error> {
        let len = usize::from(self.u16(what)?);
        let bytes = self.take(len, what)?;
        let bytes = bytes.strip_suffix(&[0]).unwrap_or(bytes);
        String::from_utf8(bytes.to_vec()).map_err(|_| Ct2Error(format!("{} is not UTF-8", what())))
    }
}

impl<'a> Ct2Model<'a> {
    /// Parses the directory of a whole file image.
    pub fn parse(data: &'a [u8]) -> Result<Self, Ct2Error> {
        let mut c = Cursor { data, at: 0 };
        let version = c.u32(&|| "the format version".to_owned())?;
        if !VERSIONS.contains(&version) {
            return Err(Ct2Error(format!(
                "format version {version} is not supported (this reader knows {}..={})",
                VERSIONS.start,
                VERSIONS.end - 1
            )));
        }
        let spec = c.string(&|| "the spec name".to_owned())?;
        c.u32(&|| "the spec revision".to_owned())?;
        let count = c.u32(&|| "the variable count".to_owned())?;

        let mut variables = HashMap::new();
        for index in 0..count {
            let name = c.string(&|| format!("the name of variable {index}"))?;
            let what = || format!("variable {name}");
            let rank = c.u8(&what)?;
            let shape = (0..rank)
                .map(|_| c.u32(&what).map(|d| d as usize))
                .collect::<Result<Vec<_>, _>>()?;
            let code = c.u8(&what)?;
            let kind = Ct2Type::from_code(code)
                .ok_or_else(|| Ct2Error(format!("variable {name} has unknown type {code}")))?;
            let len = c.u32(&what)? as usize;
            if len != shape.iter().product::<usize>() * kind.size() {
                return Err(Ct2Error(format!(
                    "variable {name} is {shape:?} {kind:?} but holds {len} bytes"
                )));
            }
            let start = c.at;
            c.take(len, &what)?;
            variables.insert(
                name,
                Variable {
                    shape,
                    kind,
                    bytes: start..c.at,
                },
            );
        }
        let aliases = c.u32(&|| "the alias count".to_owned())?;
        for index in 0..aliases {
            let alias = c.string(&|| format!("alias {index}"))?;
            let target = c.string(&|| format!("the target of alias {alias}"))?;
            // An alias names the same bytes; a missing target is caught when it is read.
            if let Some(v) = variables.get(&target) {
                let copy = Variable {
                    shape: v.shape.clone(),
                    kind: v.kind,
                    bytes: v.bytes.clone(),
                };
                variables.insert(alias, copy);
            }
        }
        Ok(Self {
            spec,
            variables,
            data,
        })
    }

    /// Whether the file has a variable of this name.
    pub fn has(&self, name: &str) -> bool {
        self.variables.contains_key(name)
    }

    fn get(&self, name: &str) -> Result<&Variable, Ct2Error> {
        self.variables
            .get(name)
            .ok_or_else(|| Ct2Error(format!("variable {name} is missing")))
    }

    /// The shape of a variable.
    pub fn shape(&self, name: &str) -> Result<&[usize], Ct2Error> {
        Ok(&self.get(name)?.shape)
    }

    /// A scalar integer (a count or a flag), whatever its stored width.
    pub fn integer(&self, name: &str) -> Result<i64, Ct2Error> {
        let v = self.get(name)?;
        let b = &self.data[v.bytes.clone()];
        Ok(match (v.kind, b) {
            (Ct2Type::I8, [x]) => i64::from(*x as i8),
            (Ct2Type::I16, [a, b]) => i64::from(i16::from_le_bytes([*a, *b])),
            (Ct2Type::I32, [a, b, c, d]) => i64::from(i32::from_le_bytes([*a, *b, *c, *d])),
            _ => {
                return Err(Ct2Error(format!(
                    "variable {name} is not an integer scalar"
                )));
            }
        })
    }

    /// The named tensor as f32 on the CPU, which must have exactly `shape`.
    pub fn tensor(&self, name: &str, shape: &[usize]) -> Result<Tensor, Ct2Error> {
        let v = self.get(name)?;
        if v.shape != shape {
            return Err(Ct2Error(format!(
                "variable {name} is {:?}, expected {shape:?}",
                v.shape
            )));
        }
        let bytes = &self.data[v.bytes.clone()];
        let candle = |e: candle_core::Error| Ct2Error(format!("variable {name}: {e}"));
        let raw = |dtype| Tensor::from_raw_buffer(bytes, dtype, shape, &Device::Cpu);
        match v.kind {
            Ct2Type::F32 => raw(DType::F32).map_err(candle),
            Ct2Type::F16 => raw(DType::F16)
                .and_then(|t| t.to_dtype(DType::F32))
                .map_err(candle),
            Ct2Type::Bf16 => raw(DType::BF16)
                .and_then(|t| t.to_dtype(DType::F32))
                .map_err(candle),
            Ct2Type::I8 => self.dequantize(name, bytes, shape).map_err(candle),
            Ct2Type::I16 | Ct2Type::I32 => Err(Ct2Error(format!(
                "variable {name} holds integers ({:?}), not weights",
                v.kind
            ))),
        }
    }

    /// Undoes CTranslate2's int8 quantization: each row was multiplied by its scale.
    fn dequantize(&self, name: &str, bytes: &[u8], shape: &[usize]) -> candle_core::Result<Tensor> {
        let scale_name = format!("{name}_scale");
        let rows = shape.first().copied().unwrap_or(1);
        let scales = self
            .tensor(&scale_name, &[rows])
            .map_err(|e| candle_core::Error::Msg(format!("int8 weights without scales: {e}")))?;
        let values: Vec<f32> = bytes.iter().map(|&b| f32::from(b as i8)).collect();
        let values = Tensor::from_vec(values, shape, &Device::Cpu)?;
        let mut per_row = vec![rows];
        per_row.extend(std::iter::repeat_n(1, shape.len().saturating_sub(1)));
        values.broadcast_div(&scales.reshape(per_row)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn string(out: &mut Vec<u8>, s: &str) {
        out.extend(((s.len() + 1) as u16).to_le_bytes());
        out.extend(s.as_bytes());
        out.push(0);
    }

    fn variable(out: &mut Vec<u8>, name: &str, shape: &[u32], code: u8, data: &[u8]) {
        string(out, name);
        out.push(shape.len() as u8);
        for d in shape {
            out.extend(d.to_le_bytes());
        }
        out.push(code);
        out.extend((data.len() as u32).to_le_bytes());
        out.extend(data);
    }

    /// A small file: an f16 matrix, an int8 matrix with its scales, a scalar and an alias.
    fn file() -> Vec<u8> {
        let mut b = 6u32.to_le_bytes().to_vec();
        string(&mut b, "WhisperSpec");
        b.extend(3u32.to_le_bytes());
        b.extend(4u32.to_le_bytes());
        let halves: Vec<u8> = [1.0f32, -2.5, 0.5, 4.0]
            .iter()
            .flat_map(|&v| half_bits(v).to_le_bytes())
            .collect();
        variable(&mut b, "w", &[2, 2], 4, &halves);
        variable(&mut b, "q", &[2, 2], 1, &[10u8, 246, 4, 8]);
        let scales: Vec<u8> = [10.0f32, 4.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        variable(&mut b, "q_scale", &[2], 0, &scales);
        variable(&mut b, "heads", &[], 2, &8i16.to_le_bytes());
        b.extend(1u32.to_le_bytes());
        string(&mut b, "w_alias");
        string(&mut b, "w");
        b
    }

    /// f16 bit patterns of the few exactly representable values the tests use.
    fn half_bits(v: f32) -> u16 {
        match v {
            1.0 => 0x3c00,
            -2.5 => 0xc100,
            0.5 => 0x3800,
            4.0 => 0x4400,
            _ => unreachable!("not used by the tests"),
        }
    }

    fn values(t: &Tensor) -> Vec<f32> {
        t.flatten_all()
            .and_then(|t| t.to_vec1())
            .expect("a readable f32 tensor")
    }

    #[test]
    fn f16_weights_read_back_widened_to_f32_and_aliases_share_them() {
        let bytes = file();
        let model = Ct2Model::parse(&bytes).expect("the file is well formed");
        assert_eq!(model.spec, "WhisperSpec");
        let w = model.tensor("w", &[2, 2]).expect("w is [2, 2]");
        assert_eq!(values(&w), vec![1.0, -2.5, 0.5, 4.0]);
        let alias = model
            .tensor("w_alias", &[2, 2])
            .expect("the alias resolves");
        assert_eq!(values(&alias), values(&w));
        assert!(
            model.tensor("w", &[4]).is_err(),
            "a shape mismatch is an error"
        );
    }

    #[test]
    fn int8_weights_are_divided_by_their_row_scale() {
        let bytes = file();
        let model = Ct2Model::parse(&bytes).expect("the file is well formed");
        let q = model.tensor("q", &[2, 2]).expect("q is [2, 2]");
        assert_eq!(values(&q), vec![1.0, -1.0, 1.0, 2.0]);
    }

    #[test]
    fn scalars_read_as_integers() {
        let bytes = file();
        let model = Ct2Model::parse(&bytes).expect("the file is well formed");
        assert_eq!(model.integer("heads").expect("heads is an int16"), 8);
        assert!(model.integer("w").is_err(), "a matrix is no scalar");
    }

    #[test]
    fn a_file_cut_anywhere_is_reported_as_truncated() {
        let bytes = file();
        for cut in [2, 9, 30, 40, bytes.len() - 3] {
            let err = Ct2Model::parse(&bytes[..cut]).expect_err("the file is cut");
            assert!(err.0.contains("truncated"), "cut at {cut}: {err}");
        }
    }

    #[test]
    fn an_unknown_format_version_is_refused_by_number() {
        let mut bytes = file();
        bytes[..4].copy_from_slice(&99u32.to_le_bytes());
        let err = Ct2Model::parse(&bytes).expect_err("version 99 is unknown");
        assert!(err.0.contains("99"), "{err}");
    }
}
