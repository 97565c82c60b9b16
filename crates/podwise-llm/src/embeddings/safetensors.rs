//! Reader for the safetensors format: an 8-byte little-endian header length, a JSON
//! header naming each tensor's dtype, shape and byte range, then the raw data.
//!
//! Only what the embedding models need is supported (little-endian f32 tensors); every
//! range is checked against the file so a truncated download is an error, not a panic.

use std::collections::HashMap;

use serde_json::Value;

/// Why a safetensors file could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SafetensorsError(pub String);

#[derive(Debug)]
struct Entry {
    dtype: String,
    shape: Vec<usize>,
    start: usize,
    end: usize,
}

/// A parsed file: its tensor directory over the bytes it was read from.
#[derive(Debug)]
pub(crate) struct Safetensors<'a> {
    entries: HashMap<String, Entry>,
    data: &'a [u8],
}

impl<'a> Safetensors<'a> {
    /// Parses the header of a whole file image.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, SafetensorsError> {
        let err = |m: &str| SafetensorsError(m.to_owned());
        let len: [u8; 8] = bytes
            .get(..8)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| err("truncated: shorter than the 8-byte header length"))?;
        let len = usize::try_from(u64::from_le_bytes(len)).map_err(|_| err("header too big"))?;
        let header = bytes
            .get(8..)
            .and_then(|rest| rest.get(..len))
            .ok_or_else(|| err("truncated inside the JSON header"))?;
        let data = &bytes[8 + len..];
        let header: HashMap<String, Value> = serde_json::from_slice(header)
            .map_err(|e| SafetensorsError(format!("header is not a JSON object: {e}")))?;

        let mut entries = HashMap::with_capacity(header.len());
        for (name, info) in header {
            if name == "__metadata__" {
                continue;
            }
            let bad = || SafetensorsError(format!("tensor {name} has a malformed entry"));
            let dtype = info["dtype"].as_str().ok_or_else(bad)?.to_owned();
            let numbers = |key: &str| -> Result<Vec<usize>, SafetensorsError> {
                info[key]
                    .as_array()
                    .ok_or_else(bad)?
                    .iter()
                    .map(|v| {
                        v.as_u64()
                            .and_then(|v| usize::try_from(v).ok())
                            .ok_or_else(bad)
                    })
                    .collect()
            };
            let shape = numbers("shape")?;
            let &[start, end] = numbers("data_offsets")?.as_slice() else {
                return Err(bad());
            };
            if start > end || end > data.len() {
                return Err(SafetensorsError(format!(
                    "truncated: tensor {name} ends at byte {end} of {} data bytes",
                    data.len()
                )));
            }
            entries.insert(
                name,
                Entry {
                    dtype,
                    shape,
                    start,
                    end,
                },
            );
        }
        Ok(Self { entries, data })
    }

    /// The named f32 tensor, which must have exactly `shape`.
    pub fn f32(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>, SafetensorsError> {
        let e = self
            .entries
            .get(name)
            .ok_or_else(|| SafetensorsError(format!("tensor {name} is missing")))?;
        if e.dtype != "F32" || e.shape != shape {
            return Err(SafetensorsError(format!(
                "tensor {name} is {} {:?}, expected F32 {shape:?}",
                e.dtype, e.shape
            )));
        }
        let bytes = &self.data[e.start..e.end];
        if bytes.len() != shape.iter().product::<usize>() * 4 {
            return Err(SafetensorsError(format!(
                "tensor {name} has the wrong byte length"
            )));
        }
        Ok(bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(header: &str, data: &[u8]) -> Vec<u8> {
        let mut b = (header.len() as u64).to_le_bytes().to_vec();
        b.extend(header.as_bytes());
        b.extend(data);
        b
    }

    const ONE: &str = r#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#;

    #[test]
    fn a_well_formed_tensor_reads_back_its_values() {
        let data: Vec<u8> = [1.5f32, -2.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let bytes = file(ONE, &data);
        let st = Safetensors::parse(&bytes).expect("the file is well formed");
        assert_eq!(st.f32("w", &[2]).expect("w is F32 [2]"), vec![1.5, -2.0]);
        assert!(st.f32("w", &[3]).is_err(), "a shape mismatch is an error");
    }

    #[test]
    fn a_file_cut_inside_the_data_is_reported_as_truncated() {
        let bytes = file(ONE, &[0; 5]);
        let err = Safetensors::parse(&bytes).expect_err("three data bytes are missing");
        assert!(err.0.contains("truncated"), "{err}");
    }

    #[test]
    fn a_file_cut_inside_the_header_is_reported_as_truncated() {
        let bytes = file(ONE, &[0; 8]);
        let err = Safetensors::parse(&bytes[..20]).expect_err("the header is cut");
        assert!(err.0.contains("truncated"), "{err}");
        let err = Safetensors::parse(&bytes[..5]).expect_err("the length is cut");
        assert!(err.0.contains("truncated"), "{err}");
    }
}
