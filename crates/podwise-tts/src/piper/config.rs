//! A Piper voice's `.onnx.json`: its sample rate, its inference defaults, which espeak-ng
//! voice makes its phonemes, and the id of every phoneme it was trained on.

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;

use super::LoadError;

/// The parts of the voice's configuration the service uses.
#[derive(Debug, Clone, PartialEq)]
pub struct VoiceConfig {
    pub sample_rate: u32,
    /// The espeak-ng voice whose IPA the model was trained on (`en-us`).
    pub espeak_voice: String,
    pub noise_scale: f32,
    /// Duration multiplier at normal speed; a larger one speaks more slowly.
    pub length_scale: f32,
    pub noise_w: f32,
    /// Model input ids of each phoneme (one character of IPA, a space or punctuation).
    pub ids: HashMap<char, Vec<i64>>,
    /// Begins every sequence (`^`), ends it (`$`), and goes between phonemes (`_`).
    pub bos: Vec<i64>,
    pub eos: Vec<i64>,
    pub pad: Vec<i64>,
    pub speakers: u32,
}

#[derive(Deserialize)]
struct Raw {
    audio: RawAudio,
    espeak: RawEspeak,
    #[serde(default)]
    inference: RawInference,
    #[serde(default)]
    phoneme_type: Option<String>,
    phoneme_id_map: HashMap<String, Vec<i64>>,
    #[serde(default)]
    num_speakers: Option<u32>,
}

#[derive(Deserialize)]
struct RawAudio {
    sample_rate: u32,
}

#[derive(Deserialize)]
struct RawEspeak {
    voice: String,
}

/// Piper's own defaults, for a configuration that leaves one out.
#[derive(Deserialize)]
#[serde(default)]
struct RawInference {
    noise_scale: f32,
    length_scale: f32,
    noise_w: f32,
}

impl Default for RawInference {
    fn default() -> Self {
        Self {
            noise_scale: 0.667,
            length_scale: 1.0,
            noise_w: 0.8,
        }
    }
}

impl VoiceConfig {
    /// Parses the configuration read from `path`.
    ///
    /// # Errors
    /// [`LoadError::Invalid`] naming the file and what is wrong with it.
    pub fn parse(path: &Path, json: &[u8]) -> Result<Self, LoadError> {
        let invalid = |reason: String| LoadError::Invalid {
            path: path.to_owned(),
            reason,
        };
        let raw: Raw = serde_json::from_slice(json).map_err(|e| invalid(e.to_string()))?;
        if raw.phoneme_type.as_deref().is_some_and(|t| t != "espeak") {
            return Err(invalid(format!(
                "phoneme_type is {:?}; only espeak phonemes are supported",
                raw.phoneme_type.unwrap_or_default()
            )));
        }
        let mut ids = HashMap::new();
        for (symbol, id) in raw.phoneme_id_map {
            let mut chars = symbol.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => {
                    ids.insert(c, id);
                }
                _ => return Err(invalid(format!("phoneme {symbol:?} is not one character"))),
            }
        }
        let special = |c: char| {
            ids.get(&c)
                .cloned()
                .ok_or_else(|| invalid(format!("phoneme_id_map has no {c:?}")))
        };
        let (bos, eos, pad) = (special('^')?, special('$')?, special('_')?);
        if !(8_000..=48_000).contains(&raw.audio.sample_rate) {
            return Err(invalid(format!(
                "sample_rate {} is outside 8000-48000",
                raw.audio.sample_rate
            )));
        }
        Ok(Self {
            sample_rate: raw.audio.sample_rate,
            espeak_voice: raw.espeak.voice,
            noise_scale: raw.inference.noise_scale,
            length_scale: raw.inference.length_scale,
            noise_w: raw.inference.noise_w,
            ids,
            bos,
            eos,
            pad,
            speakers: raw.num_speakers.unwrap_or(1),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: &str = r#"{
        "audio": {"sample_rate": 22050},
        "espeak": {"voice": "en-us"},
        "inference": {"noise_scale": 0.5, "length_scale": 1.1, "noise_w": 0.7},
        "phoneme_type": "espeak",
        "phoneme_id_map": {"_": [0], "^": [1], "$": [2], " ": [3], "a": [14]},
        "num_speakers": 1
    }"#;

    #[test]
    fn the_inference_defaults_and_special_ids_come_from_the_file() {
        let config = VoiceConfig::parse(Path::new("v.json"), SMALL.as_bytes()).expect("valid");

        assert_eq!(config.sample_rate, 22_050);
        assert_eq!(
            (config.bos.as_slice(), config.eos.as_slice()),
            (&[1][..], &[2][..])
        );
        assert_eq!(config.pad, [0]);
        assert!((config.length_scale - 1.1).abs() < 1e-6);
        assert_eq!(config.ids[&'a'], [14]);
    }

    #[test]
    fn a_file_without_the_pad_symbol_is_refused_naming_it() {
        let broken = SMALL.replace(r#""_": [0], "#, "");

        let error = VoiceConfig::parse(Path::new("v.json"), broken.as_bytes()).expect_err("bad");

        assert!(error.to_string().contains("'_'"), "{error}");
        assert!(error.to_string().contains("v.json"), "{error}");
    }
}
