//! What a voice is made with: an [`Engine`] turns a run of text in one script into audio.
//!
//! Two engines ship: [`PiperEngine`], the neural English voice (espeak-ng's phonemes into
//! a Piper model), and [`EspeakEngine`], espeak-ng speaking on its own (the Mandarin
//! voices, and the English or Mandarin words inside a text of the other language). Both
//! block the calling thread; the synthesiser calls them from blocking threads.

use std::fmt;

use crate::audio::Pcm;
use crate::espeak::{Espeak, EspeakError, Speaking};
use crate::piper::{PiperVoice, RunError, phonemes};
use crate::text::mandarin_numbers;

/// How fast and how high to speak.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prosody {
    /// 1 is the voice's own pace; 2 is twice as fast.
    pub speed: f32,
    /// Semitones above (or below, negative) the voice's pitch.
    pub pitch: f32,
}

impl Default for Prosody {
    fn default() -> Self {
        Self {
            speed: 1.0,
            pitch: 0.0,
        }
    }
}

/// Why an engine could not speak a text.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Espeak(#[from] EspeakError),
    #[error(transparent)]
    Piper(#[from] RunError),
}

/// Something that speaks text in one script.
pub trait Engine: Send + Sync + fmt::Debug {
    /// A short name for logs and metric labels: `piper`, `espeak-ng`.
    fn name(&self) -> &'static str;

    /// The sample rate of what [`speak`](Engine::speak) returns.
    fn native_rate(&self) -> u32;

    /// Whether [`Prosody::pitch`] is honoured; callers refuse a pitch change otherwise.
    fn adjusts_pitch(&self) -> bool;

    /// Identifies everything that shapes the audio besides the text and prosody (model,
    /// espeak voice and its settings), so the cache never answers from another setup.
    fn fingerprint(&self) -> String;

    /// `text` spoken at its native rate. Blocks until the audio is made.
    ///
    /// # Errors
    /// When the engine fails; the message is for the operator's log.
    fn speak(&self, text: &str, prosody: Prosody) -> Result<Pcm, EngineError>;
}

/// English through Piper: espeak-ng's IPA, with its punctuation, into the VITS model.
#[derive(Debug)]
pub struct PiperEngine {
    voice: PiperVoice,
    espeak: Espeak,
    /// The model's file name, for the fingerprint.
    model: String,
}

impl PiperEngine {
    pub fn new(voice: PiperVoice, espeak: Espeak, model: String) -> Self {
        Self {
            voice,
            espeak,
            model,
        }
    }
}

impl Engine for PiperEngine {
    fn name(&self) -> &'static str {
        "piper"
    }

    fn native_rate(&self) -> u32 {
        self.voice.config.sample_rate
    }

    fn adjusts_pitch(&self) -> bool {
        false
    }

    fn fingerprint(&self) -> String {
        let c = &self.voice.config;
        format!(
            "piper:{}:{}:{}:{}",
            self.model, c.noise_scale, c.length_scale, c.noise_w
        )
    }

    fn speak(&self, text: &str, prosody: Prosody) -> Result<Pcm, EngineError> {
        let config = &self.voice.config;
        let clauses = self.espeak.phonemes(&config.espeak_voice, text)?;
        let rate = config.sample_rate;
        if clauses.is_empty() {
            return Ok(Pcm::empty(rate));
        }
        let (ids, unknown) = phonemes::ids(config, &phonemes::with_punctuation(&clauses, text));
        if unknown > 0 {
            tracing::debug!(unknown, "phonemes the voice has no id for were left out");
        }
        let samples = self.voice.run(ids, prosody.speed)?;
        Ok(Pcm { samples, rate })
    }
}

/// espeak-ng speaking with one of its voices.
#[derive(Debug, Clone)]
pub struct EspeakEngine {
    espeak: Espeak,
    /// The espeak-ng voice and variant, `cmn-latn-pinyin+f2`.
    voice: String,
    /// Words per minute at speed 1, and the `-p` pitch parameter at pitch 0.
    rate: f32,
    pitch: f32,
}

/// espeak-ng writes 22,050 Hz audio whatever the voice.
const ESPEAK_RATE: u32 = 22_050;

impl EspeakEngine {
    pub fn new(espeak: Espeak, voice: &str, rate: f32, pitch: f32) -> Self {
        Self {
            espeak,
            voice: voice.to_owned(),
            rate,
            pitch,
        }
    }

    fn mandarin(&self) -> bool {
        self.voice.starts_with("cmn")
    }
}

impl Engine for EspeakEngine {
    fn name(&self) -> &'static str {
        "espeak-ng"
    }

    fn native_rate(&self) -> u32 {
        ESPEAK_RATE
    }

    fn adjusts_pitch(&self) -> bool {
        true
    }

    fn fingerprint(&self) -> String {
        format!("espeak:{}:{}:{}", self.voice, self.rate, self.pitch)
    }

    fn speak(&self, text: &str, prosody: Prosody) -> Result<Pcm, EngineError> {
        let how = Speaking {
            voice: &self.voice,
            rate: self.rate,
            pitch: self.pitch,
        };
        let text = if self.mandarin() {
            mandarin_numbers(text)
        } else {
            text.to_owned()
        };
        Ok(self
            .espeak
            .speak(&how, &text, prosody.speed, prosody.pitch)?)
    }
}
