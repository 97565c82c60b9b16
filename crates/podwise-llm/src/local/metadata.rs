//! Typed access to a GGUF file's metadata, with errors that name the missing or
//! mistyped key.

use std::collections::HashMap;

use candle_core::quantized::gguf_file;

/// Typed access to GGUF metadata with errors that name the key.
pub(crate) struct Metadata<'c>(pub(crate) &'c HashMap<String, gguf_file::Value>);

impl Metadata<'_> {
    /// The value at `key`.
    pub(crate) fn get(&self, key: &str) -> Result<&gguf_file::Value, String> {
        self.0
            .get(key)
            .ok_or_else(|| format!("metadata {key} is missing"))
    }

    /// The string at `key`.
    pub(crate) fn string(&self, key: &str) -> Result<String, String> {
        self.get(key)?
            .to_string()
            .cloned()
            .map_err(|e| format!("metadata {key}: {e}"))
    }

    /// The unsigned integer at `key`.
    pub(crate) fn u32(&self, key: &str) -> Result<u32, String> {
        self.get(key)?
            .to_u32()
            .map_err(|e| format!("metadata {key}: {e}"))
    }

    /// The float at `key`.
    pub(crate) fn f32(&self, key: &str) -> Result<f32, String> {
        self.get(key)?
            .to_f32()
            .map_err(|e| format!("metadata {key}: {e}"))
    }

    /// The array of strings at `key`.
    pub(crate) fn strings(&self, key: &str) -> Result<Vec<String>, String> {
        let values = self
            .get(key)?
            .to_vec()
            .map_err(|e| format!("metadata {key}: {e}"))?;
        values
            .iter()
            .map(|v| {
                v.to_string()
                    .cloned()
                    .map_err(|e| format!("metadata {key}: {e}"))
            })
            .collect()
    }

    /// The array of signed integers at `key`.
    pub(crate) fn i32s(&self, key: &str) -> Result<Vec<i32>, String> {
        let values = self
            .get(key)?
            .to_vec()
            .map_err(|e| format!("metadata {key}: {e}"))?;
        values
            .iter()
            .map(|v| v.to_i32().map_err(|e| format!("metadata {key}: {e}")))
            .collect()
    }
}
